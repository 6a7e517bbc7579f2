"""When beat should send an entry, by Celery's own schedule arithmetic.

Beat sends an entry once `schedule.is_due(last_run_at)` says so, that is once
`remaining_estimate(last_run_at)` reaches zero; the next fire time after a run is found by
evaluating that estimate with Celery's clock set to the run, then to the estimate itself
(Celery adjusts an end time that crosses a daylight-saving change by the offset at "now"),
so time zones and DST shifts come out as Celery computes them. Pure functions: no store,
no clock of their own.
"""
from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

from celery.schedules import BaseSchedule, schedule

SETTLE_STEPS = 4  # evaluations of Celery's estimate until it points at itself
MAX_FIRE_TIMES = 10_000  # fire times one call lists at most (a 2 s entry over 5.5 h)


def as_datetime(moment: float) -> datetime:
    return datetime.fromtimestamp(moment, timezone.utc)


def _at(value: BaseSchedule, now: datetime) -> BaseSchedule:
    """A copy of the schedule whose clock says `now` (the entry's own object is untouched).
    Made from its attributes: copy.copy goes through Celery's __reduce__, which drops an
    app, a zone set on the object and the clock."""
    frozen = object.__new__(type(value))
    frozen.__dict__.update(vars(value))
    frozen.nowfun = lambda: now
    return frozen


def _is_plain_interval(value: Any) -> bool:
    return type(value) is schedule and not value.relative


def next_fire(value: Any, after: float) -> float | None:
    """The fire time that follows a run at `after` (epoch s), None when there is none (a
    clocked time already passed, a schedule Celery cannot evaluate here)."""
    if isinstance(value, datetime):
        moment = (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).timestamp()
        return moment if moment > after else None
    if not isinstance(value, BaseSchedule):
        return None
    if _is_plain_interval(value):  # elapsed seconds, as Celery's remaining() adds them
        return after + value.run_every.total_seconds()
    last = as_datetime(after)
    now = last
    for _ in range(SETTLE_STEPS):
        try:
            remaining = _at(value, now).remaining_estimate(last)
        except Exception:  # noqa: BLE001 — e.g. solar without ephem: no times, said elsewhere
            return None
        if remaining is None:
            return None
        if abs(remaining) < timedelta(milliseconds=1) and now > last:
            break
        now = now + remaining
    fire = now.timestamp()
    return fire if fire > after else None


def fire_times(value: Any, anchor: float, since: float, until: float,
               limit: int = MAX_FIRE_TIMES) -> list[float]:
    """The fire times in [since, until] of a schedule last run at `anchor` (≤ since), as
    beat would send them if every run happened on time; at most `limit` of them."""
    return list(_walk(value, anchor, since, until, limit))


def _walk(value: Any, anchor: float, since: float, until: float, limit: int) -> Iterator[float]:
    if _is_plain_interval(value):
        every = value.run_every.total_seconds()
        if every <= 0:
            return
        skipped = max(0, int((since - anchor) // every) - 1)  # jump, not walk, to the window
        anchor += skipped * every
    moment: float | None = anchor
    listed = 0
    while listed < limit:
        moment = next_fire(value, moment) if moment is not None else None
        if moment is None or moment > until:
            return
        if moment >= since:
            listed += 1
            yield moment


def fires_regardless_of_runs(value: Any) -> bool:
    """Crontab, solar and clocked times fall where they fall; an interval counts from its
    last run (so its expected times need a known run to start from)."""
    return not isinstance(value, schedule) or bool(value.relative)
