"""What the /beat page, its API and /metrics read: one row per entry (schedule in words,
next due, last run, runs in 24 h, status), an entry's runs, its expected against its actual
fire times, and the sources' problems. Each request reads the store with queries bounded by
the entry's task name and a time window; the schedule itself comes from the process's cache
of the sources (sources.py)."""
from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from sqlalchemy import tuple_

from ..store.schema import TASK_COLUMNS, tasks
from .entries import BeatEntry
from .expected import MAX_FIRE_TIMES, fires_regardless_of_runs
from .matching import (
    MISSED,
    Run,
    _run,
    count_runs,
    latest_runs,
    match,
    rendered_args,
    rendered_kwargs,
    runs_between,
    runs_query,
)
from .sources import for_services
from .status import BEAT_DOWN, RECENT_RUNS, beat_looks_down, entry_status

DAY = 86400.0
MAX_RUNS = 1000  # runs one call of entry_runs lists at most
WINDOW_RUNS = 20_000  # runs a strip chart reads at most (a 2 s entry: 11 hours)
PAGE = 5000  # runs read per query when walking a window of runs


def entry_texts(services: Any, entry: BeatEntry) -> tuple[str, str]:
    """The entry's args and kwargs as the events of its runs carry them."""
    app = for_services(services).celery_app()
    maxsize = getattr(app.amqp, "argsrepr_maxsize", 1024)
    levels = app.conf.task_repr_maxlevels
    return (rendered_args(entry.args, maxsize, levels),
            rendered_kwargs(entry.kwargs, getattr(app.amqp, "kwargsrepr_maxsize", maxsize),
                            levels))


def entries(services: Any) -> tuple[BeatEntry, ...]:
    return for_services(services).snapshot().entries


def entry(services: Any, name: str) -> BeatEntry | None:
    return for_services(services).snapshot().entry(name)


def beat_row(services: Any, beat_entry: BeatEntry, now: float) -> dict[str, Any]:
    engine = services.store.engine
    args_text, kwargs_text = entry_texts(services, beat_entry)
    recent = latest_runs(engine, beat_entry, args_text, kwargs_text, now, RECENT_RUNS)
    status = entry_status(beat_entry, recent, now, services.settings.beat_tolerance)
    last = status.last_run
    return {
        "name": beat_entry.name, "task": beat_entry.task,
        "schedule_text": beat_entry.schedule_text, "args": args_text, "kwargs": kwargs_text,
        "queue": beat_entry.queue, "enabled": beat_entry.enabled, "source": beat_entry.source,
        "next_due": status.next_due,
        "last_run_uuid": last.uuid if last else None,
        "last_run_state": last.state if last else None,
        "last_run_runtime": last.runtime if last else None,
        "last_run_at": last.at if last else beat_entry.last_run_at,
        "runs_24h": count_runs(engine, beat_entry, args_text, kwargs_text, now - DAY, now),
        "total_run_count": beat_entry.total_run_count,
        "status": status.status, "problem": status.problem,
    }


def beat_rows(services: Any, now: float) -> list[dict[str, Any]]:
    """One row per entry, by name."""
    return [beat_row(services, beat_entry, now) for beat_entry in entries(services)]


def entry_runs(services: Any, name: str, since: float, limit: int) -> list[dict[str, Any]]:
    """The entry's runs received since `since`, newest first, as task rows."""
    beat_entry = entry(services, name)
    if beat_entry is None:
        return []
    args_text, kwargs_text = entry_texts(services, beat_entry)
    query = (runs_query(beat_entry, args_text, kwargs_text, since, None,
                        columns=tuple(tasks.c[column] for column in TASK_COLUMNS))
             .order_by(tasks.c.received.desc()).limit(min(limit, MAX_RUNS)))
    with services.store.engine.connect() as connection:
        return [dict(row) for row in connection.execute(query).mappings()]


def _expanded(dues, every: float | None) -> Iterator[tuple[float, str]]:
    for due in dues:
        for index in range(due.count):
            yield due.at + index * (every or 0), due.verdict


def _every(beat_entry: BeatEntry) -> float | None:
    run_every = getattr(beat_entry.schedule, "run_every", None)
    return run_every.total_seconds() if run_every is not None else None


def _walk_start(services: Any, beat_entry: BeatEntry, texts: tuple[str, str], since: float,
                first_run: Run | None) -> float | None:
    """A run at or before `since` to walk from: the store's, the scheduler's, else (a
    crontab) `since` itself, else the first run in the window."""
    before = latest_runs(services.store.engine, beat_entry, *texts, since, 1)
    if before:
        return before[0].at
    if beat_entry.last_run_at is not None and beat_entry.last_run_at <= since:
        return beat_entry.last_run_at
    if fires_regardless_of_runs(beat_entry.schedule):
        return since
    return first_run.at if first_run else None


def expected_vs_actual(services: Any, name: str, since: float, until: float
                       ) -> dict[str, list[float]]:
    """For a strip chart: the expected fire times in [since, until], the runs' times, and
    the expected times no run took (each list at most MAX_FIRE_TIMES long)."""
    beat_entry = entry(services, name)
    if beat_entry is None:
        return {"expected": [], "actual": [], "missed": []}
    texts = entry_texts(services, beat_entry)
    runs = runs_between(services.store.engine, beat_entry, *texts, since, until, WINDOW_RUNS)
    anchor = _walk_start(services, beat_entry, texts, since, runs[0] if runs else None)
    expected: list[float] = []
    missed: list[float] = []
    if anchor is not None:
        now = min(until, time.time())
        dues = match(beat_entry.schedule, anchor, runs, now, services.settings.beat_tolerance)
        for moment, verdict in _expanded(dues, _every(beat_entry)):
            if len(expected) >= MAX_FIRE_TIMES:
                break
            if since <= moment <= until:
                expected.append(moment)
                if verdict == MISSED:
                    missed.append(moment)
    return {"expected": expected, "actual": [run.at for run in runs][:MAX_FIRE_TIMES],
            "missed": missed}


def _all_runs(services: Any, beat_entry: BeatEntry, texts: tuple[str, str], since: float,
              until: float) -> Iterator[Run]:
    """The entry's runs in [since, until], oldest first, read a page at a time (keyset)."""
    after: tuple[float, str] | None = None
    while True:
        query = runs_query(beat_entry, *texts, since, until)
        if after is not None:
            query = query.where(tuple_(tasks.c.received, tasks.c.uuid) > after)
        query = query.order_by(tasks.c.received, tasks.c.uuid).limit(PAGE)
        with services.store.engine.connect() as connection:
            rows = connection.execute(query).all()
        for row in rows:
            yield _run(row)
        if len(rows) < PAGE:
            return
        after = (rows[-1].received, rows[-1].uuid)


def missed_count(services: Any, beat_entry: BeatEntry, since: float, now: float) -> int:
    """Expected fire times with no run between the entry's first known run since `since`
    (the store's, or the scheduler's own record) and now, walked over every run. An entry
    never seen to run has missed nothing yet: nothing says beat ever had it."""
    if not beat_entry.enabled:
        return 0
    texts = entry_texts(services, beat_entry)
    first = next(iter(_all_runs(services, beat_entry, texts, since, now)), None)
    known = [moment for moment in (first.at if first else None, beat_entry.last_run_at)
             if moment is not None and moment >= since]
    if not known:
        return 0
    dues = match(beat_entry.schedule, min(known),
                 _all_runs(services, beat_entry, texts, since, now), now,
                 services.settings.beat_tolerance)
    return sum(due.count for due in dues if due.verdict == MISSED)


def source_problems(services: Any, rows: list[dict[str, Any]] | None = None) -> list[str]:
    """A source that could not be read, an entry that could not, and beat looking down:
    one line each (the page's banner). Pass the rows when you have them already."""
    problems = list(for_services(services).snapshot().problems)
    statuses = [row["status"] for row in (rows if rows is not None
                                          else beat_rows(services, time.time()))]
    if beat_looks_down(statuses):
        problems.append(BEAT_DOWN)
    return problems
