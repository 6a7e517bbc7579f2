"""What a chart on /explore shows: metric, grouping, filters, time window and bucket size.

Parsed from a query string (the page's URL, /api/series.csv), validated, written back.
Pure: the SQL lives in store/series_queries.py, the frames in series_frames.py.

Parameters: metric, group (name|worker|queue), name, worker, queue, state (each may
repeat or hold comma-separated values), range (15m ... 30d) or since/until, bucket
(seconds; automatic when absent), top (groups shown before the rest fold into "other"),
stat (p50|p95|p99|max: what a grouped percentile chart plots), unit (count|rate).
"""
from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any
from urllib.parse import urlencode

from ..query_string import FilterError, list_values, one_value, parse_time


@dataclass(frozen=True)
class Metric:
    label: str
    kind: str  # count | ratio | percentiles | in_flight | samples
    column: str  # the lifecycle time a count is bucketed by, or the value a metric reads
    groups: tuple[str, ...] = ("name", "worker", "queue")
    combine: str = "sum"  # samples across workers or queues: sum, mean or max


METRICS: dict[str, Metric] = {
    "received": Metric("Tasks received", "count", "received"),
    "succeeded": Metric("Tasks succeeded", "count", "succeeded"),
    "failed": Metric("Tasks failed", "count", "failed"),
    "retried": Metric("Tasks retried", "count", "retried"),
    "revoked": Metric("Tasks revoked", "count", "revoked"),
    "failure_ratio": Metric("Failure ratio (failed / finished)", "ratio", "finished"),
    "runtime": Metric("Runtime (s)", "percentiles", "runtime"),
    "wait": Metric("Wait time, received to started (s)", "percentiles", "wait"),
    "in_flight": Metric("Tasks in flight (received, not finished)", "in_flight", "received"),
    "worker_active": Metric("Worker active tasks", "samples", "active", ("worker",)),
    "worker_load": Metric("Worker load average (1 min)", "samples", "load1", ("worker",),
                          "mean"),
    "queue_depth": Metric("Queue depth (peak per bucket)", "samples", "messages", ("queue",)),
    "queue_latency": Metric("Queue latency, the oldest message's wait (peak per bucket, s)",
                            "samples", "latency_seconds", ("queue",), "max"),
}
GROUPS = {"name": "Task name", "worker": "Worker", "queue": "Queue"}
STATS = ("p50", "p95", "p99", "max")
QUANTILES = {"p50": 0.50, "p95": 0.95, "p99": 0.99, "max": 1.0}
UNITS = ("count", "rate")
QUICK_RANGES = {"15m": 900, "1h": 3600, "6h": 21600, "24h": 86400, "7d": 604800, "30d": 2592000}
# Bucket sizes a chart may use, in seconds: round numbers on a clock.
BUCKETS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600,
           43200, 86400)
MAX_POINTS = 400  # an automatic bucket keeps a chart at or under this many points
MAX_BUCKETS = 5000  # a chosen bucket may not make more than this
MAX_TOP = 20
_KNOWN = {"metric", "group", "name", "worker", "queue", "state", "range", "since", "until",
          "bucket", "top", "stat", "unit"}


@dataclass(frozen=True)
class SeriesSpec:
    metric: str = "succeeded"
    group: str | None = None
    names: tuple[str, ...] = ()
    workers: tuple[str, ...] = ()
    queues: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    range: str | None = "24h"  # a quick range slides with the clock; else since/until
    since: float | None = None
    until: float | None = None
    bucket: int | None = None  # None: chosen from the window
    top: int = 8
    stat: str = "p95"
    unit: str = "count"

    @property
    def definition(self) -> Metric:
        return METRICS[self.metric]

    def window(self, now: float | None = None) -> tuple[float, float]:
        """(start, end) in epoch seconds; a quick range ends now."""
        now = time.time() if now is None else now
        if self.range:
            return now - QUICK_RANGES[self.range], now
        if self.since is None:
            raise ValueError("a series spec without a quick range needs `since`")
        return self.since, (now if self.until is None else self.until)

    def bucket_seconds(self, now: float | None = None) -> int:
        start, end = self.window(now)
        return self.bucket or auto_bucket(end - start)

    def with_changes(self, **changes: Any) -> SeriesSpec:
        return replace(self, **changes)

    def to_params(self) -> dict[str, str]:
        """The spec as query parameters, defaults left out (for URLs and downloads)."""
        params: dict[str, str] = {}
        default = SeriesSpec()
        for field in fields(self):
            value = getattr(self, field.name)
            if value == getattr(default, field.name):
                continue
            key = {"names": "name", "workers": "worker", "queues": "queue",
                   "states": "state"}.get(field.name, field.name)
            if value is None or value == ():
                params[key] = ""  # differs from a non-empty default: say it is empty
            elif isinstance(value, tuple):
                params[key] = ",".join(value)
            elif isinstance(value, float):
                params[key] = repr(int(value) if value.is_integer() else value)
            else:
                params[key] = str(value)
        return params

    def to_query_string(self) -> str:
        return urlencode(self.to_params())


def auto_bucket(span_seconds: float) -> int:
    """The smallest round bucket that keeps `span_seconds` at or under MAX_POINTS points."""
    for bucket in BUCKETS:
        if span_seconds / bucket <= MAX_POINTS:
            return bucket
    return BUCKETS[-1] * math.ceil(span_seconds / BUCKETS[-1] / MAX_POINTS)


def _distinct(params: Mapping[str, Any], key: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(list_values(params, key)))


def _choice(params: Mapping[str, Any], key: str, allowed, default):
    value = one_value(params, key)
    if value is None:
        return default
    if value not in allowed:
        raise FilterError(f"{key}: {value!r} is not one of {', '.join(allowed)}")
    return value


def _whole(params: Mapping[str, Any], key: str, low: int, high: int) -> int | None:
    text = one_value(params, key)
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        raise FilterError(f"{key}: {text!r} is not a whole number") from None
    if not low <= value <= high:
        raise FilterError(f"{key}: must be between {low} and {high}")
    return value


def parse_spec(params: Mapping[str, Any], now: float | None = None,
               strict: bool = True) -> SeriesSpec:
    """Build a SeriesSpec from query parameters; raise FilterError on the first bad one.

    `strict` refuses unknown parameters (the API); pages pass strict=False so that a
    bookmarked link with extra keys still opens.
    """
    if strict:
        unknown = sorted(set(params) - _KNOWN)
        if unknown:
            raise FilterError(f"unknown parameter {unknown[0]!r}")
    metric = _choice(params, "metric", tuple(METRICS), SeriesSpec.metric)
    group = _choice(params, "group", METRICS[metric].groups, None)
    since_text, until_text = one_value(params, "since"), one_value(params, "until")
    quick = _choice(params, "range", tuple(QUICK_RANGES), None)
    if quick is None and since_text is None:
        quick = SeriesSpec.range
    since = until = None
    if not quick:
        if since_text is None:  # without since the default range applies (above)
            raise FilterError("since: needed without a range")
        since = parse_time("since", since_text, now)
        until = parse_time("until", until_text, now) if until_text else None
        if until is not None and until <= since:
            raise FilterError("since: must be before until")
    spec = SeriesSpec(
        metric=metric, group=group, names=_distinct(params, "name"),
        workers=_distinct(params, "worker"), queues=_distinct(params, "queue"),
        states=tuple(state.upper() for state in _distinct(params, "state")),
        range=quick, since=since, until=until,
        top=_whole(params, "top", 1, MAX_TOP) or SeriesSpec.top,
        stat=_choice(params, "stat", STATS, SeriesSpec.stat),
        unit=_choice(params, "unit", UNITS, SeriesSpec.unit),
    )
    bucket = _whole(params, "bucket", 1, 30 * 86400)
    if bucket is not None:
        start, end = spec.window(now)
        if (end - start) / bucket > MAX_BUCKETS:
            raise FilterError(f"bucket: {bucket} s makes more than {MAX_BUCKETS} points over "
                              "this window; choose a larger one")
        spec = spec.with_changes(bucket=bucket)
    return spec

