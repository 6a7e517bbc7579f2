"""What the /tasks page's controls, chips and grid requests mean, as plain functions."""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..query_string import wall_clock_time
from .filters import QUICK_RANGES, TaskFilter, parse_filter
from .grid_rows import header_sort
from .search_terms import DERIVED_STATES, SearchError, parse_search

# The state chips under the search box: (label, state; None is every state).
CHIPS: tuple[tuple[str, str | None], ...] = (
    ("All", None), ("Received", "RECEIVED"), ("Started", "STARTED"), ("Succeeded", "SUCCESS"),
    ("Failed", "FAILURE"), ("Retried", "RETRY"), ("Revoked", "REVOKED"))
DB_SHARE = 0.05  # at most this share of the refresh interval is spent counting, per page


def browser_zone(name: str | None) -> ZoneInfo:
    """The browser's IANA zone; UTC until the browser has said (or for a name unknown here)."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def in_zone(text: str | None, zone_name: str | None) -> str | None:
    """A From/To value as typed, with a time of day without offset read in the browser's
    zone and written with that zone's offset then ('2026-03-29T08:00' in Europe/Paris →
    '2026-03-29T08:00:00+02:00'). Epoch seconds, durations, explicit offsets, text that is
    no time at all (the filter will say why) and anything before the browser has named its
    zone (then naive is UTC, as in the API) are left as they are."""
    text = (text or "").strip()
    if not text or not zone_name:
        return text or None
    moment = wall_clock_time(text, browser_zone(zone_name))
    return text if moment is None else moment.isoformat()


def controls_to_params(state, name, worker, queue, time_field, quick, since, until,
                       runtime_min, runtime_max, search, zone_name=None) -> dict:
    """The filter panel's values as query parameters (empty ones left out). From/To apply
    unless a quick range is chosen (choosing one empties them; typing in them picks custom)."""
    windowed = quick not in QUICK_RANGES
    params = {"state": ",".join(state or []), "name": ",".join(name or []), "worker": worker,
              "queue": queue, "time_field": time_field if time_field != "received" else None,
              "range": None if windowed else quick,
              "since": in_zone(since, zone_name) if windowed else None,
              "until": in_zone(until, zone_name) if windowed else None,
              "runtime_min": runtime_min, "runtime_max": runtime_max, "search": search}
    return {key: str(value).strip() for key, value in params.items()
            if value is not None and str(value).strip()}


def page_params(params: dict, task_filter: TaskFilter) -> dict[str, str]:
    """The filter as the page keeps it (URL, export link): canonical, the sort left to the
    grid's header, but From/To as typed, so a link reads as it was written and '24h' slides."""
    kept = task_filter.to_params()
    kept.pop("sort", None)
    for key in ("since", "until"):
        if key in kept and params.get(key):
            kept[key] = str(params[key])
    return kept


def grid_request_filter(params: dict, request: dict) -> TaskFilter:
    """The stored filter with the grid's own header sort applied."""
    task_filter = parse_filter(params)
    sort = header_sort(request)
    return task_filter.with_changes(sort=sort) if sort else task_filter


def chosen_states(task_filter: TaskFilter) -> frozenset[str] | None:
    """The states a filter lets through (its parameter and its search's state: terms both
    apply), or None for any state."""
    try:
        searched = parse_search(task_filter.search).states
    except SearchError:
        searched = ()
    chosen = [set(group) for group in (task_filter.states, searched) if group]
    if not chosen:
        return None
    return frozenset(set.intersection(*chosen))


def total_of(counts: dict[str, int], task_filter: TaskFilter) -> int:
    """The filter's matches, from its per-state counts (state_counts)."""
    states = chosen_states(task_filter)
    return sum(number for state, number in counts.items() if states is None or state in states)


def counts_on_its_own(task_filter: TaskFilter) -> bool:
    """A derived state (RECOVERED, DEAD, RETRYING) cuts across the stored ones, so the
    per-state counts cannot add up to its matches: it is counted by itself."""
    return any(state in DERIVED_STATES for state in chosen_states(task_filter) or ())


def active_chip(task_filter: TaskFilter) -> str | None:
    """The chip that says what the filter shows: 'All', a state's, or none for a mix."""
    states = chosen_states(task_filter)
    if states is None:
        return "All"
    return next((label for label, state in CHIPS if state and {state} == states), None)


def counting_clock(dialect: str) -> Callable[[], float]:
    """What measures the database's time spent counting: on SQLite the counting runs in this
    thread, so its CPU time (a busy machine does not make it look costly); on a server
    store, the wall time this thread waits for it."""
    return time.thread_time if dialect == "sqlite" else time.perf_counter


def next_count_tick(tick: int, seconds_spent: float, interval_seconds: float) -> int:
    """The refresh tick at which to count again: the next, unless counting took more than
    DB_SHARE of an interval (a wide window over a big history); then as many later as keep
    the database's share at DB_SHARE."""
    skip = math.ceil(seconds_spent / (DB_SHARE * interval_seconds)) if interval_seconds else 1
    return tick + max(1, skip)
