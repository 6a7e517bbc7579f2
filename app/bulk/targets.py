"""Which tasks a bulk action means (ids, or every task matching a grid filter), and for
each whether it may be retried or revoked, or why not: one place decides retryability."""
from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from urllib.parse import parse_qs

from celery import states
from sqlalchemy import select
from sqlalchemy.engine import Engine

from ..store.schema import task_links, tasks
from ..tasks.filters import TaskFilter, parse_filter
from ..tasks.queries import where_clause
from .roundtrip import refusal

FIELDS = ("uuid", "name", "state", "args", "kwargs", "queue", "exchange", "routing_key")
COLUMNS = (*FIELDS, "retried_as")  # the order of a selected row's values
RETRYABLE = frozenset({states.FAILURE, states.REVOKED, states.REJECTED})
REVOCABLE = frozenset({states.PENDING, states.RECEIVED, states.STARTED, states.RETRY})
MAX_LISTED = 10_000  # refusals and sends listed one by one; beyond, only counted
_CHUNK = 500  # ids per IN (...) query
_STREAM = 5000  # rows per database round trip


class SelectionError(ValueError):
    """A request naming neither ids nor a filter, or both, or a malformed one."""


@dataclass
class Plan:
    """A dry run's answer: how many matched, which are eligible, each refusal's reason.
    Eligible rows are kept as the database gave them (tuples in COLUMNS order) and made
    into dicts only when asked for; an API dry run over 100,000 tasks only counts them."""
    matched: int = 0
    rows: list[tuple] = field(default_factory=list)
    refused: list[dict[str, str]] = field(default_factory=list)
    refused_count: int = 0
    eligible_count: int = 0
    keep_rows: bool = True  # False: an API dry run, which answers only the count

    def refuse(self, uuid: str, reason: str) -> None:
        self.refused_count += 1
        if len(self.refused) < MAX_LISTED:
            self.refused.append({"id": uuid, "reason": reason})

    def accept(self, row: tuple) -> None:
        self.eligible_count += 1
        if self.keep_rows:
            self.rows.append(row)

    @cached_property
    def eligible(self) -> list[dict[str, Any]]:
        return [dict(zip(COLUMNS, row)) for row in self.rows]

    def summary(self) -> dict[str, Any]:
        return {"matched": self.matched, "eligible": self.eligible_count,
                "refused": self.refused, "refused_count": self.refused_count}


def parse_selection(body: Mapping[str, Any]) -> tuple[list[str] | None, TaskFilter | None, str]:
    """(ids, filter, the filter's text) from a request body: exactly one of ids or filter."""
    ids, text = body.get("ids"), body.get("filter")
    if (ids is None) == (text is None):
        raise SelectionError("give either ids (a list of task ids) or filter (the grid's "
                             "query string), not both")
    if ids is not None:
        if not isinstance(ids, list) or not all(isinstance(item, str) and item for item in ids):
            raise SelectionError("ids must be a list of task ids (strings)")
        return list(dict.fromkeys(ids)), None, ""
    if not isinstance(text, str):
        raise SelectionError("filter must be the grid's query string, e.g. state=FAILURE")
    params = parse_qs(text.lstrip("?"), keep_blank_values=False)
    params.pop("sort", None)
    return None, parse_filter(params), text


def _columns() -> list[Any]:
    """FIELDS, and `retried_as`: the newest task sent again in this one's place (indexed)."""
    retried = (select(task_links.c.new_id).where(task_links.c.original_id == tasks.c.uuid)
               .order_by(task_links.c.created.desc()).limit(1).scalar_subquery())
    return [*(tasks.c[name] for name in FIELDS), retried.label("retried_as")]


def rows_by_ids(engine: Engine, ids: Sequence[str]) -> dict[str, tuple]:
    columns = _columns()
    found: dict[str, tuple] = {}
    with engine.connect() as connection:
        for start in range(0, len(ids), _CHUNK):
            query = select(*columns).where(tasks.c.uuid.in_(list(ids[start:start + _CHUNK])))
            found.update((row[0], tuple(row)) for row in connection.execute(query))
    return found


def rows_by_filter(engine: Engine, task_filter: TaskFilter,
                   now: float | None = None) -> Iterator[tuple]:
    """Every matching task's values (COLUMNS), streamed: a server-side cursor where the
    database has one (constant memory), read through the driver's own cursor, whose plain
    tuples cost a third of SQLAlchemy's rows (a dry run reads 100,000 of them)."""
    query = select(*_columns()).where(where_clause(task_filter, now))
    compiled = query.compile(dialect=engine.dialect,
                             compile_kwargs={"render_postcompile": True})
    params = compiled.params
    values = tuple(params[name] for name in compiled.positiontup or ()) \
        if compiled.positional else params
    with engine.connect() as connection:
        raw = connection.connection
        cursor = raw.cursor(name="scope_bulk") if engine.dialect.name == "postgresql" \
            else raw.cursor()
        try:
            cursor.execute(str(compiled), values)
            while part := cursor.fetchmany(_STREAM):
                yield from part
        finally:
            cursor.close()


def selected_rows(engine: Engine, ids: list[str] | None, task_filter: TaskFilter | None,
                  plan: Plan, now: float | None = None) -> Iterator[tuple]:
    """The selection's stored rows (COLUMNS); an id never seen is refused as unknown."""
    if ids is None:
        assert task_filter is not None  # parse_selection gives one of the two
        yield from rows_by_filter(engine, task_filter, now)
        return
    found = rows_by_ids(engine, ids)
    for uuid in ids:
        if uuid in found:
            yield found[uuid]
        else:
            plan.matched += 1
            plan.refuse(uuid, "unknown task: never seen by this dashboard")


def retry_refusal(row: Mapping[str, Any]) -> str | None:
    """Why this task may not be sent again, or None (the one rule for pages and API)."""
    return retry_reason(row.get("state"), row.get("retried_as"), row.get("name"),
                        row.get("args"), row.get("kwargs"))


def retry_reason(state: str | None, retried: str | None, name: str | None,
                 args: str | None, kwargs: str | None) -> str | None:
    """retry_refusal's rule on the values themselves (a dry run's rows are tuples)."""
    if state not in RETRYABLE:
        if state == states.SUCCESS:
            return "it succeeded"
        if state == states.RETRY:
            return "Celery is retrying it already"
        return f"it has not finished ({state})"
    if retried:
        return f"already retried as {retried}"
    if not name:
        return "its name was never recorded"
    return refusal(args, kwargs)


def revoke_refusal(state: str | None) -> str | None:
    if state not in REVOCABLE:
        return f"it has finished ({state})"
    return None
