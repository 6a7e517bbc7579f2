"""Reading the audit trail: a filter parsed from query strings (user, action, outcome and
time, as the task grid's), its SQL, newest first by keyset on id, and the CSV export."""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.sql import ColumnElement

from ..query_string import FilterError, list_values, one_value, parse_time
from ..store.schema import audit
from ..tasks.csv_guard import guard
from .trail import OUTCOMES

MAX_LIMIT = 1000  # records in one JSON page
CSV_PAGE = 500
CSV_COLUMNS = ("id", "at_utc", "at", "user", "role", "via", "action", "targets", "filter",
               "count", "params", "outcome", "detail")
_KEYS = {"user", "action", "outcome", "since", "until", "limit", "before"}


@dataclass(frozen=True)
class AuditFilter:
    users: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()
    outcomes: tuple[str, ...] = ()
    since: float | None = None
    until: float | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = []
        if self.users:
            where.append(audit.c.username.in_(self.users))
        if self.actions:
            where.append(audit.c.action.in_(self.actions))
        if self.outcomes:
            where.append(audit.c.outcome.in_(self.outcomes))
        if self.since is not None:
            where.append(audit.c.at >= self.since)
        if self.until is not None:
            where.append(audit.c.at <= self.until)
        return where


def parse_audit_filter(params: Mapping[str, Any], now: float | None = None,
                       strict: bool = True) -> AuditFilter:
    """`user`, `action`, `outcome` (each repeatable or comma-separated), `since` (epoch,
    ISO-8601 or a duration ago such as 24h) and `until`; FilterError on a bad one, and with
    `strict` (the API) on an unknown key."""
    unknown = sorted(set(params) - _KEYS) if strict else []
    if unknown:
        raise FilterError(f"unknown parameter {unknown[0]!r}: use {', '.join(sorted(_KEYS))}")
    outcomes = tuple(list_values(params, "outcome"))
    for outcome in outcomes:
        if outcome not in OUTCOMES:
            raise FilterError(f"outcome: {outcome!r} is not one of {', '.join(OUTCOMES)}")
    since, until = one_value(params, "since"), one_value(params, "until")
    return AuditFilter(tuple(list_values(params, "user")), tuple(list_values(params, "action")),
                       outcomes, parse_time("since", since, now) if since else None,
                       parse_time("until", until) if until else None)


def _entry(row: Any) -> dict[str, Any]:
    entry = row._asdict()
    entry["user"] = entry.pop("username")
    entry["targets"] = json.loads(entry["targets"])
    entry["params"] = json.loads(entry["params"])
    return entry


def entries(engine: Engine, where: AuditFilter, limit: int,
            before_id: int | None = None) -> list[dict[str, Any]]:
    """Up to `limit` records matching `where`, newest first, below `before_id` (keyset)."""
    query = select(audit).where(*where.conditions()).order_by(audit.c.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(audit.c.id < before_id)
    with engine.connect() as connection:
        return [_entry(row) for row in connection.execute(query)]


def count(engine: Engine, where: AuditFilter) -> int:
    query = select(func.count()).select_from(audit).where(*where.conditions())
    with engine.connect() as connection:
        return int(connection.execute(query).scalar() or 0)


def known_values(engine: Engine, column: str, limit: int = 200) -> list[str]:
    """The distinct users or actions on record (for the page's pickers), at most `limit`."""
    field = audit.c[column]
    query = select(field).distinct().order_by(field).limit(limit)
    with engine.connect() as connection:
        return [str(value) for value in connection.execute(query).scalars()]


def csv_rows(engine: Engine, where: AuditFilter) -> Iterator[str]:
    """Every matching record as CSV lines, page by page (nothing held whole in memory);
    cells that a spreadsheet would run as formulas are guarded."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    before = None
    while True:
        page = entries(engine, where, CSV_PAGE, before)
        for entry in page:
            moment = datetime.fromtimestamp(entry["at"], timezone.utc).isoformat()
            writer.writerow([
                entry["id"], moment, entry["at"], guard(entry["user"]), entry["role"],
                entry["via"], guard(entry["action"]), guard(" ".join(entry["targets"])),
                guard(entry["filter"] or ""), "" if entry["count"] is None else entry["count"],
                guard(json.dumps(entry["params"], sort_keys=True)), entry["outcome"],
                guard(entry["detail"])])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        if len(page) < CSV_PAGE:
            return
        before = page[-1]["id"]
