"""Which task runs belong to a beat entry, and which of its expected fire times each took.

No Celery event names the schedule entry, so a run belongs to an entry when its task name
is the entry's and its args/kwargs text is the entry's args/kwargs rendered as Celery renders
them in events (beat sends args as a list, `()` when there are none; `saferepr` bounded by
the app's argsrepr size) — or when the worker hook recorded the entry's name in
`tasks.periodic_task`, which then wins (a run the hook gave to another entry is never this
one's). Ambiguous by nature: two entries with the same task and arguments share their runs
unless the hook names them; a "run now" with the same arguments counts as a run.

Each expected fire time takes the first run from shortly before it (half the gap to the next
fire time, at most the tolerance) up to the next fire time's window: on time within the
tolerance, late after it; none is a miss. An interval counts from its last run, as beat does.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from celery.utils.saferepr import saferepr
from sqlalchemy import and_, func, or_, select
from sqlalchemy.engine import Engine

from ..store.schema import tasks
from .entries import BeatEntry
from .expected import _is_plain_interval, next_fire

ON_TIME, LATE, MISSED, PENDING = "on time", "late", "missed", "pending"
MAX_DUES = 50_000  # expected fire times one walk judges at most (missed runs are collapsed)
ARGSREPR_MAXSIZE = 1024  # celery.app.amqp.AMQP's, when the app's own is not known
REPR_MAXLEVELS = 3  # task_repr_maxlevels' default


def rendered_args(args: Iterable[Any], maxsize: int = ARGSREPR_MAXSIZE,
                  maxlevels: int = REPR_MAXLEVELS) -> str:
    """The args text a worker's task-received event carries for a task beat sent."""
    values = list(args)
    return saferepr(values if values else (), maxsize, maxlevels=maxlevels)


def rendered_kwargs(kwargs: dict, maxsize: int = ARGSREPR_MAXSIZE,
                    maxlevels: int = REPR_MAXLEVELS) -> str:
    return saferepr(dict(kwargs), maxsize, maxlevels=maxlevels)


@dataclass(frozen=True)
class Run:
    uuid: str
    at: float  # when it was sent (task-sent), else received: beat's clock, as near as known
    state: str
    started: float | None
    runtime: float | None


@dataclass(frozen=True)
class Due:
    at: float  # the expected fire time (the first of `count` in a row, when collapsed)
    run: Run | None
    verdict: str  # ON_TIME, LATE, MISSED (its window closed, or its tolerance passed), PENDING
    count: int = 1  # consecutive missed fire times of a plain interval, told as one


# -- the store ------------------------------------------------------------------------

RUN_AT = func.coalesce(tasks.c.sent, tasks.c.received)
_RUN_COLUMNS = (tasks.c.uuid, RUN_AT.label("at"), tasks.c.state, tasks.c.started,
                tasks.c.runtime, tasks.c.received)


def _belongs(entry: BeatEntry, args_text: str, kwargs_text: str):
    return and_(tasks.c.name == entry.task, or_(
        tasks.c.periodic_task == entry.name,
        and_(tasks.c.periodic_task.is_(None), tasks.c.args == args_text,
             tasks.c.kwargs == kwargs_text)))


def runs_query(entry: BeatEntry, args_text: str, kwargs_text: str, since: float | None,
               until: float | None, columns=_RUN_COLUMNS):
    """A select of the entry's runs received in [since, until]: the (name, received)
    index bounds it, the args and hook column filter it."""
    where = [_belongs(entry, args_text, kwargs_text)]
    if since is not None:
        where.append(tasks.c.received >= since)
    if until is not None:
        where.append(tasks.c.received <= until)
    return select(*columns).where(*where)


def _run(row: Any) -> Run:
    at = row.at if row.at is not None else row.received
    return Run(str(row.uuid), float(at), str(row.state), row.started, row.runtime)


def latest_runs(engine: Engine, entry: BeatEntry, args_text: str, kwargs_text: str,
                before: float, limit: int) -> list[Run]:
    """The entry's newest runs received at or before `before`, newest first."""
    query = (runs_query(entry, args_text, kwargs_text, None, before)
             .order_by(tasks.c.received.desc()).limit(limit))
    with engine.connect() as connection:
        return [_run(row) for row in connection.execute(query)]


def runs_between(engine: Engine, entry: BeatEntry, args_text: str, kwargs_text: str,
                 since: float, until: float, limit: int) -> list[Run]:
    """The entry's runs received in [since, until], oldest first, at most `limit`."""
    query = (runs_query(entry, args_text, kwargs_text, since, until)
             .order_by(tasks.c.received).limit(limit))
    with engine.connect() as connection:
        return sorted((_run(row) for row in connection.execute(query)), key=lambda run: run.at)


def count_runs(engine: Engine, entry: BeatEntry, args_text: str, kwargs_text: str,
               since: float, until: float) -> int:
    query = runs_query(entry, args_text, kwargs_text, since, until,
                       columns=(func.count(),))
    with engine.connect() as connection:
        return int(connection.execute(query).scalar_one())


# -- the walk -------------------------------------------------------------------------

def _early(due: float, following: float | None, tolerance: float) -> float:
    """How long before its fire time a run may come and still be that time's."""
    if following is None:
        return tolerance
    return min(tolerance, (following - due) / 2)


def match(value: Any, anchor: float, runs: Iterable[Run], until: float,
          tolerance: float) -> Iterator[Due]:
    """Judge each fire time after a run at `anchor` up to `until` (now): the runs come
    oldest first; runs that fit no fire time (a run now, a duplicate) are passed over."""
    due = next_fire(value, anchor)
    judged = 0
    for run in runs:
        while due is not None and due <= until and judged < MAX_DUES:
            following = next_fire(value, due)
            early = _early(due, following, tolerance)
            if run.at < due - early:
                break  # before this fire time's window: not one of beat's sends
            if following is None or run.at < following - early:
                judged += 1
                yield Due(due, run, ON_TIME if run.at <= due + tolerance else LATE)
                due = next_fire(value, max(run.at, due))
                break
            # missed: so is every later fire time whose window closed before this run
            missed, due = _missed(value, due, tolerance, before_run=run.at)
            judged += 1
            yield missed
        else:
            return
    while due is not None and due <= until and judged < MAX_DUES:
        if due + tolerance >= until:
            yield Due(due, None, PENDING)
            return
        # missed: so is every later fire time whose tolerance has passed too
        missed, due = _missed(value, due, tolerance, now=until)
        judged += 1
        yield missed


def _missed(value: Any, due: float, tolerance: float, before_run: float | None = None,
            now: float | None = None) -> tuple[Due, float | None]:
    """The missed fire time `due`, and the next one to judge. A plain interval's fire times
    missed in a row are told as one, counted: those whose window closed before the next
    run (`before_run`), or whose tolerance has passed by `now`."""
    if not _is_plain_interval(value):
        return Due(due, None, MISSED), next_fire(value, due)
    every = value.run_every.total_seconds()
    if before_run is not None:
        count = (before_run + min(tolerance, every / 2) - due) // every
    else:
        count = -((due + tolerance - (now or due)) // every)
    count = max(1, int(count))
    return Due(due, None, MISSED, count=count), due + count * every
