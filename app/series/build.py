"""One /explore chart's data: run the spec's aggregate query, shape the frame, and say
where its points lead (the task grid filtered to a bucket and group) and how it downloads.
"""
from __future__ import annotations

import csv
import io
import math
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy.engine import Engine

from ..tasks import csv_guard
from . import frames, queries
from .spec import SeriesSpec

HEATMAP_BUCKET = 900  # divides every time zone's hour, so each bucket has one local hour
HEATMAP_ROWS = 20  # task names shown before the rest fold into "other"


@dataclass(frozen=True)
class Series:
    spec: SeriesSpec
    start: float
    end: float
    bucket: int
    frame: pd.DataFrame  # indexed by bucket start, epoch seconds; one column per series

    @property
    def unit(self) -> str:
        kind = self.spec.definition.kind
        if kind == "count":
            return "tasks per second" if self.spec.unit == "rate" else "tasks per bucket"
        return {"ratio": "failed / finished", "percentiles": "seconds",
                "in_flight": "tasks", "samples": self.spec.definition.label}[kind]


def build_series(engine: Engine, spec: SeriesSpec, now: float | None = None) -> Series:
    """Query and shape the series `spec` asks for, over its window at its bucket size."""
    start, end = spec.window(time.time() if now is None else now)
    bucket = spec.bucket_seconds(now)
    numbers = frames.bucket_numbers(start, end, bucket)
    kind, grouped = spec.definition.kind, spec.group is not None
    name = None if grouped else spec.metric
    if kind == "count":
        rows = queries.counts(engine, spec, start, end, bucket)
        frame = frames.count_frame(rows, numbers, bucket, spec.top, name, spec.unit == "rate")
    elif kind == "ratio":
        rows = queries.finished_by_state(engine, spec, start, end, bucket)
        frame = frames.ratio_frame(rows, numbers, bucket, spec.top, name)
    elif kind == "percentiles":
        rows = queries.values(engine, spec, start, end, bucket)
        frame = frames.percentile_frame(rows, numbers, bucket, spec.top, grouped, spec.stat)
    elif kind == "in_flight":
        arrivals, departures, baseline = queries.in_flight_parts(engine, spec, start, end, bucket)
        frame = frames.in_flight_frame(arrivals, departures, baseline, numbers, bucket,
                                       spec.top, name)
    else:
        rows = queries.samples_by_bucket(engine, spec, start, end, bucket)
        frame = frames.samples_frame(rows, numbers, bucket, spec.top, grouped, spec.metric,
                                     spec.definition.combine)
    return Series(spec, start, end, bucket, frame)


@dataclass(frozen=True)
class Throughput:
    """Tasks finished per bucket: `starts` (epoch seconds) and the counts at each."""
    starts: list[float]
    succeeded: list[int]
    failed: list[int]


def finished_per_bucket(engine: Engine, span: str, bucket: int,
                        now: float | None = None) -> Throughput:
    """Succeeded and failed tasks per bucket over the last `span`, in one GROUP BY and no
    pandas: the dashboard asks it on every refresh of every open tab, so it must cost a
    few milliseconds whatever the history holds."""
    spec = SeriesSpec(metric="failure_ratio", range=span, bucket=bucket)
    start, end = spec.window(time.time() if now is None else now)
    numbers = [int(number) for number in frames.bucket_numbers(start, end, bucket)]
    found = {(number, state): count for number, _group, state, count
             in queries.finished_by_state(engine, spec, start, end, bucket)}
    return Throughput([float(number * bucket) for number in numbers],
                      [found.get((number, "SUCCESS"), 0) for number in numbers],
                      [found.get((number, "FAILURE"), 0) for number in numbers])


def build_heatmap(engine: Engine, spec: SeriesSpec, ratio: bool, tz: ZoneInfo,
                  now: float | None = None) -> pd.DataFrame:
    """Task name × local hour of day over the spec's window: tasks received, or the
    failure ratio of the tasks that finished."""
    start, end = spec.window(time.time() if now is None else now)
    by_name = spec.with_changes(group="name", metric="received")
    received = finished = []
    if ratio:
        finished = queries.finished_by_state(engine, by_name, start, end, HEATMAP_BUCKET)
    else:
        received = queries.counts(engine, by_name, start, end, HEATMAP_BUCKET)
    return frames.hour_of_day_frame(received, finished, HEATMAP_BUCKET, tz, HEATMAP_ROWS,
                                    ratio)


def series_csv(series: Series) -> str:
    """The numbers behind a chart: one row per bucket, its start in UTC and epoch seconds,
    then one column per series. Series are named by task, worker or queue names, which
    anyone can choose: the header is formula-guarded, and CRLF rows (RFC 4180) make the
    writer quote a name holding a carriage return, which would otherwise start a row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["bucket_start_utc", "bucket_start_epoch", "bucket_seconds",
                     *(csv_guard.guard(str(name)) for name in series.frame.columns)])
    for moment, row in series.frame.iterrows():
        stamp = datetime.fromtimestamp(moment, timezone.utc).isoformat().replace("+00:00", "Z")
        writer.writerow([stamp, f"{moment:.0f}", series.bucket,
                         *("" if pd.isna(value) else f"{value:.6g}" for value in row)])
    return out.getvalue()


# Which lifecycle time and state put a task in a metric's bucket, for the task grid.
_GRID_FILTER = {
    "received": ("received", None), "wait": ("received", None),
    "in_flight": ("received", None), "succeeded": ("succeeded", "SUCCESS"),
    "runtime": ("succeeded", "SUCCESS"), "failed": ("failed", "FAILURE"),
    "failure_ratio": ("failed", "FAILURE"), "retried": ("retried", None),
    "revoked": ("revoked", "REVOKED"),
}


def point_link(spec: SeriesSpec, series_name: str, bucket_start: float,
               bucket: int) -> str:
    """Where clicking a point leads: the task grid filtered to that bucket and group
    (a worker's sample leads to the worker's page). Relative to the app's root."""
    if spec.definition.groups == ("queue",):  # a queue's samples: its depth, its latency
        return "broker"
    if spec.definition.kind == "samples":
        if spec.group == "worker" and series_name != frames.OTHER:
            return f"workers/{quote(series_name, safe='')}"
        return "/"
    time_field, state = _GRID_FILTER[spec.metric]
    # The grid's `until` is inclusive and the bucket ends just before its next one: the last
    # float below that end names the same tasks, even one received a microsecond before it.
    params: dict[str, str] = {"time_field": time_field, "since": repr(bucket_start),
                              "until": repr(math.nextafter(bucket_start + bucket, -math.inf))}
    states = (state,) if state else spec.states
    if states:
        params["state"] = ",".join(states)
    filters = {"name": spec.names, "worker": spec.workers, "queue": spec.queues}
    if spec.group and series_name not in (frames.OTHER, frames.NO_VALUE):
        filters[spec.group] = (series_name,)
    for key, chosen in filters.items():
        if key == "name" and chosen:
            params[key] = ",".join(chosen)
        elif len(chosen) == 1:  # the grid filters one worker and one queue at a time
            params[key] = chosen[0]
    return "tasks?" + urlencode(params)
