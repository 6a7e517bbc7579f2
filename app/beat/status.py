"""An entry's status from its newest runs: the verdict of its latest judged fire time
(matching.py), whether a run was still going when the next one started, and when beat
should send it next. Pure: the runs and the clock are handed in."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .entries import BeatEntry
from .expected import fires_regardless_of_runs, next_fire
from .matching import LATE, MISSED, PENDING, Due, Run, match

ON_TIME, LATE_STATUS, MISSED_STATUS = "on time", "late", "missed"
OVERRAN, DISABLED, NOT_RUN_YET = "overran", "disabled", "not run yet"
STATUSES = (ON_TIME, LATE_STATUS, MISSED_STATUS, OVERRAN, DISABLED, NOT_RUN_YET)
RECENT_RUNS = 3  # newest runs an entry's status is judged from
BEAT_DOWN = "beat itself looks down: every enabled entry has missed its last fire time"


@dataclass(frozen=True)
class EntryStatus:
    status: str
    problem: str | None
    next_due: float | None  # in the past when overdue (missed)
    last_run: Run | None


def _anchor(entry: BeatEntry, recent: Sequence[Run], now: float) -> float | None:
    """Where the walk starts: the run before the newest, else the scheduler's own last run
    time when it is older than the newest, else (a crontab) just before the newest run."""
    newest = recent[0] if recent else None
    if len(recent) > 1:
        return recent[1].at
    if entry.last_run_at is not None and (newest is None or entry.last_run_at < newest.at):
        return entry.last_run_at
    if newest is not None:
        return newest.at
    return now if fires_regardless_of_runs(entry.schedule) else None


def entry_status(entry: BeatEntry, recent: Sequence[Run], now: float,
                 tolerance: float) -> EntryStatus:
    """`recent`: the entry's newest runs, newest first (RECENT_RUNS of them)."""
    newest = recent[0] if recent else None
    if not entry.enabled:
        return EntryStatus(DISABLED, None, None, newest)
    anchor = _anchor(entry, recent, now)
    if anchor is None:
        return EntryStatus(NOT_RUN_YET, None, None, newest)
    runs = [newest] if newest is not None and anchor < newest.at else []
    dues: list[Due] = list(match(entry.schedule, anchor, runs, now, tolerance))
    judged = [due for due in dues if due.verdict != PENDING]
    upcoming = next((due.at for due in dues if due.run is None), None)
    if upcoming is None:
        last = max([anchor, *(due.at for due in dues), *(run.at for run in runs)])
        upcoming = next_fire(entry.schedule, last)
    problem = None
    if entry.schedule is None or (upcoming is None and not dues and newest is None):
        problem = "its schedule cannot be evaluated here"
    if judged and judged[-1].verdict == MISSED:
        since_newest = [due.at for due in judged if due.verdict == MISSED
                        and (newest is None or due.at > newest.at)]
        return EntryStatus(MISSED_STATUS, problem or "no run since its fire time passed",
                           (since_newest or [judged[-1].at])[0], newest)
    if len(recent) > 1 and recent[1].state == "STARTED" and recent[0].started is not None:
        return EntryStatus(OVERRAN, problem or "a run was still going when the next started",
                           upcoming, newest)
    if newest is None:
        return EntryStatus(NOT_RUN_YET, problem, upcoming, None)
    if judged and judged[-1].verdict == LATE:
        return EntryStatus(LATE_STATUS, problem or "its last run came after the tolerance",
                           upcoming, newest)
    return EntryStatus(ON_TIME, problem, upcoming, newest)


def beat_looks_down(statuses: Sequence[str]) -> bool:
    """Every enabled entry missed (and there is one): beat itself, not one task, stopped."""
    enabled = [status for status in statuses if status != DISABLED]
    return bool(enabled) and all(status == MISSED_STATUS for status in enabled)
