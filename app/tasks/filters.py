"""Task filters: parsed from a query string (grid URL, CSV export, API), validated, and
written back. Pure: the SQL they turn into lives in queries.py.

Parameters (each may repeat; list ones also take comma-separated values):
  state (a Celery state, or a derived one: RECOVERED, DEAD, RETRYING), name, worker, queue,
  search (search_terms.py), runtime_min, runtime_max (seconds),
  time_field (received|started|succeeded|failed|sent), range (15m, 1h, 24h, 7d, ...),
  since and until (epoch seconds or ISO-8601; `since` also takes a range like 24h),
  sort (a column, '-' prefix for descending; default -received).
"""
from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any
from urllib.parse import urlencode

from ..query_string import FilterError, list_values, one_value, parse_duration, parse_time
from .search_terms import STATE_NAME, SearchError, parse_search

TIME_FIELDS = ("received", "started", "succeeded", "failed", "sent", "retried", "revoked")
SORTABLE = ("received", "started", "succeeded", "failed", "sent", "timestamp", "name", "state",
            "worker", "queue", "runtime", "retries", "uuid")
QUICK_RANGES = {"15m": 900, "1h": 3600, "24h": 86400, "7d": 604800}
_KNOWN = {"state", "name", "worker", "queue", "search", "runtime_min", "runtime_max",
          "time_field", "range", "since", "until", "sort"}
MAX_SEARCH = 200  # characters


@dataclass(frozen=True)
class TaskFilter:
    states: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    worker: str | None = None
    queue: str | None = None
    search: str | None = None
    runtime_min: float | None = None
    runtime_max: float | None = None
    time_field: str = "received"
    range: str | None = None  # a quick range; since/until are derived from it at query time
    since: float | None = None
    until: float | None = None
    sort: str = "-received"

    @property
    def sort_column(self) -> str:
        return self.sort.lstrip("-")

    @property
    def descending(self) -> bool:
        return self.sort.startswith("-")

    def window(self, now: float | None = None) -> tuple[float | None, float | None]:
        """The time window in epoch seconds; a quick range slides with `now`."""
        if self.range:
            return (now or time.time()) - parse_duration(self.range), None
        return self.since, self.until

    def with_changes(self, **changes: Any) -> TaskFilter:
        return replace(self, **changes)

    def to_params(self) -> dict[str, str]:
        """The filter as query parameters, defaults left out (for URLs and exports)."""
        params: dict[str, str] = {}
        default = TaskFilter()
        for field in fields(self):
            value = getattr(self, field.name)
            if value == getattr(default, field.name) or value in (None, (), ""):
                continue
            key = {"states": "state", "names": "name"}.get(field.name, field.name)
            params[key] = ",".join(value) if isinstance(value, tuple) else _plain(value)
        return params

    def to_query_string(self) -> str:
        return urlencode(self.to_params())


def _plain(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)  # repr precision: an epoch time keeps its sub-seconds


def _seconds(params: Mapping[str, Any], key: str) -> float | None:
    text = one_value(params, key)
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        raise FilterError(f"{key}: {text!r} is not a number of seconds") from None
    if value < 0:
        raise FilterError(f"{key}: must not be negative")
    return value


def parse_filter(params: Mapping[str, Any], now: float | None = None,
                 strict: bool = True) -> TaskFilter:
    """Build a TaskFilter from query parameters; raise FilterError on the first bad one.

    With `strict`, unknown parameters are refused too (API); pages pass strict=False so
    that unrelated query-string keys do not break a bookmarked view.
    """
    if strict:
        unknown = sorted(set(params) - _KNOWN)
        if unknown:
            raise FilterError(f"unknown filter parameter {unknown[0]!r}")
    states = tuple(dict.fromkeys(state.upper() for state in list_values(params, "state")))
    for state in states:
        if not STATE_NAME.match(state):
            raise FilterError(f"state: {state!r} is not a task state such as SUCCESS or FAILURE")
    time_field = one_value(params, "time_field") or "received"
    if time_field not in TIME_FIELDS:
        raise FilterError(f"time_field: {time_field!r} is not one of {', '.join(TIME_FIELDS)}")
    quick = one_value(params, "range")
    if quick:
        parse_duration(quick)
    since = one_value(params, "since")
    until = one_value(params, "until")
    since_value = parse_time("since", since, now) if since else None
    until_value = parse_time("until", until, now) if until else None
    if since_value is not None and until_value is not None and since_value > until_value:
        raise FilterError("since: must not be after until")
    runtime_min, runtime_max = _seconds(params, "runtime_min"), _seconds(params, "runtime_max")
    if runtime_min is not None and runtime_max is not None and runtime_min > runtime_max:
        raise FilterError("runtime_min: must not exceed runtime_max")
    sort = one_value(params, "sort") or "-received"
    if sort.lstrip("-") not in SORTABLE:
        raise FilterError(f"sort: {sort!r} is not one of {', '.join(SORTABLE)} (prefix - to "
                          "sort descending)")
    search = one_value(params, "search")
    if search and len(search) > MAX_SEARCH:
        raise FilterError(f"search: at most {MAX_SEARCH} characters")
    try:
        parse_search(search)
    except SearchError as exc:
        raise FilterError(f"search: {exc}") from None
    return TaskFilter(
        states=states, names=tuple(dict.fromkeys(list_values(params, "name"))),
        worker=one_value(params, "worker"), queue=one_value(params, "queue"), search=search,
        runtime_min=runtime_min, runtime_max=runtime_max, time_field=time_field,
        range=quick, since=None if quick else since_value, until=None if quick else until_value,
        sort=sort,
    )
