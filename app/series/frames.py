"""Per-bucket rows from the database → small wide frames for /explore's charts and CSV.

Pure pandas/numpy. Every frame is indexed by bucket start (epoch seconds, UTC) over the
whole window, one column per series: empty buckets are 0 for counts and missing (NaN) for
values that need tasks to exist (percentiles, ratios, samples). Groups beyond the top N,
ranked over the window, fold into "other"; their percentiles are computed from the pooled
values (or histograms, where the rollups answered), never averaged from the groups' own.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from ..store.sketch import Sketch, pooled_quantiles
from .spec import QUANTILES, STATS

OTHER = "other"
NO_VALUE = "(none)"  # the label of tasks whose grouped column is empty


def bucket_numbers(start: float, end: float, bucket: int) -> np.ndarray:
    """The buckets covering [start, end): floor(t / bucket) for every t in the window."""
    first = math.floor(start / bucket)
    last = max(first, math.ceil(end / bucket) - 1)
    return np.arange(first, last + 1, dtype=np.int64)


def _label(group: Any) -> str:
    return NO_VALUE if group is None or group == "" else str(group)


def fold_labels(weights: Mapping[Any, float], top: int) -> dict[Any, str]:
    """group → the label it is shown under: itself for the top `top` by weight, else
    "other" (only when at least two groups would fold; one is shown as itself)."""
    ranked = sorted(weights, key=lambda group: (-weights[group], _label(group)))
    keep = ranked if len(ranked) <= top + 1 else ranked[:top]
    return {group: (_label(group) if group in keep else OTHER) for group in ranked}


def _ordered_columns(labels: Mapping[Any, str]) -> list[str]:
    columns = list(dict.fromkeys(labels.values()))
    return [label for label in columns if label != OTHER] + (
        [OTHER] if OTHER in columns else [])


def _empty(numbers: np.ndarray, bucket: int, columns: list[str], fill: float) -> pd.DataFrame:
    index = pd.Index(numbers.astype(float) * bucket, name="time")
    return pd.DataFrame(fill, index=index, columns=columns, dtype=float)


def _sum_by_label(rows: Iterable[tuple[int, Any, float]], labels: Mapping[Any, str],
                  numbers: np.ndarray, bucket: int, series_name: str | None) -> pd.DataFrame:
    columns = [series_name] if series_name else _ordered_columns(labels)
    rows = list(rows)
    if not rows:
        return _empty(numbers, bucket, columns, 0.0)
    long = pd.DataFrame.from_records(rows, columns=["number", "group", "count"])
    long["time"] = long["number"].astype(float) * bucket
    # from the rows, not the column: pandas reads a None among texts as NaN
    long["label"] = [series_name or labels[group] for _number, group, _count in rows]
    wide = long.pivot_table(index="time", columns="label", values="count", aggfunc="sum")
    return wide.reindex(index=_empty(numbers, bucket, [], 0.0).index,
                        columns=columns).fillna(0.0).astype(float)


def count_frame(rows: list[tuple[int, Any, int]], numbers: np.ndarray, bucket: int,
                top: int, series_name: str | None, rate: bool = False) -> pd.DataFrame:
    """Tasks per bucket (or per second with `rate`); `series_name` names the one column
    of an ungrouped chart, None groups by the rows' group values."""
    weights: dict[Any, float] = {}
    for _number, group, count in rows:
        weights[group] = weights.get(group, 0) + count
    frame = _sum_by_label(rows, fold_labels(weights, top), numbers, bucket, series_name)
    return frame / bucket if rate else frame


def ratio_frame(rows: list[tuple[int, Any, str, int]], numbers: np.ndarray, bucket: int,
                top: int, series_name: str | None) -> pd.DataFrame:
    """failed / (succeeded + failed) per bucket; NaN where nothing finished."""
    failed = [(number, group, count) for number, group, state, count in rows
              if state == "FAILURE"]
    finished = [(number, group, count) for number, group, _state, count in rows]
    weights: dict[Any, float] = {}
    for _number, group, count in finished:
        weights[group] = weights.get(group, 0) + count
    labels = fold_labels(weights, top)
    denominator = _sum_by_label(finished, labels, numbers, bucket, series_name)
    numerator = _sum_by_label(failed, labels, numbers, bucket, series_name)
    return numerator / denominator.where(denominator > 0)


def percentiles(values: np.ndarray) -> dict[str, float]:
    """p50, p95, p99 (linear interpolation between closest ranks, numpy's default) and max."""
    found = np.quantile(values, [QUANTILES[stat] for stat in STATS])
    return dict(zip(STATS, (float(value) for value in found)))


def _pool_quantiles(parts: list[np.ndarray | Sketch], wanted: list[float]) -> np.ndarray:
    """Exact quantiles of a pool of values (no histogram among them)."""
    arrays = [part for part in parts if isinstance(part, np.ndarray)]
    return np.quantile(arrays[0] if len(arrays) == 1 else np.concatenate(arrays), wanted)


def percentile_frame(rows: Sequence[tuple[int, Any, np.ndarray | Sketch]], numbers: np.ndarray,
                     bucket: int, top: int, grouped: bool, stat: str) -> pd.DataFrame:
    """Ungrouped: p50, p95, p99 and max per bucket. Grouped: `stat` per group."""
    weights: dict[Any, float] = {}
    for _number, group, found in rows:
        weights[group] = weights.get(group, 0) + len(found)
    labels = fold_labels(weights, top)
    columns = _ordered_columns(labels) if grouped else list(STATS)
    frame = _empty(numbers, bucket, columns, np.nan)
    # Values pooled per (bucket, label) and their quantiles taken one pool at a time: the
    # memory follows one bucket, not the window (a week of 10M tasks is 9M values, and
    # sorting them all at once held 300 MB more).
    pools: dict[tuple[int, int], list[np.ndarray | Sketch]] = {}
    column_of = {label: index for index, label in enumerate(columns)}
    first = int(numbers[0])
    for number, group, found in rows:
        if len(found) and 0 <= number - first < len(frame):
            key = (number - first, column_of[labels[group]] if grouped else 0)
            pools.setdefault(key, []).append(found)
    table = frame.to_numpy(copy=True)
    wanted = [QUANTILES[name] for name in STATS]
    keys = list(pools)
    every: Sequence[np.ndarray] | np.ndarray
    if any(isinstance(part, Sketch) for parts in pools.values() for part in parts):
        every = pooled_quantiles([[part if isinstance(part, Sketch) else Sketch.from_values(part)
                                   for part in pools[key]] for key in keys], wanted)
    else:
        every = [_pool_quantiles(pools[key], wanted) for key in keys]
    for (position, column), quantiles in zip(keys, every):
        if grouped:
            table[position, column] = quantiles[STATS.index(stat)]
        else:
            table[position, :] = quantiles
    return pd.DataFrame(table, index=frame.index, columns=frame.columns)


def in_flight_frame(arrivals, departures, baseline: list[tuple[Any, int]],
                    numbers: np.ndarray, bucket: int, top: int,
                    series_name: str | None) -> pd.DataFrame:
    """Tasks in flight at the end of each bucket: those in flight at the window's start,
    plus every arrival, less every departure, so far."""
    weights: dict[Any, float] = dict(baseline)
    for _number, group, count in arrivals:
        weights[group] = weights.get(group, 0) + count
    for _number, group, _count in departures:
        weights.setdefault(group, 0)
    labels = fold_labels(weights, top)
    change = (_sum_by_label(arrivals, labels, numbers, bucket, series_name)
              - _sum_by_label(departures, labels, numbers, bucket, series_name))
    start = pd.Series(0.0, index=change.columns)
    for group, count in baseline:
        start[series_name or labels[group]] += count
    return change.cumsum() + start


def samples_frame(rows: list[tuple[int, str, float]], numbers: np.ndarray, bucket: int,
                  top: int, grouped: bool, series_name: str, combine: str) -> pd.DataFrame:
    """Samples per bucket (each worker's or queue's value), or across them (`combine`)
    their sum (active tasks, queue depth), mean (load average) or max (queue latency: the
    longest wait). NaN where none were taken."""
    if not rows:
        return _empty(numbers, bucket, [series_name], np.nan)
    long = pd.DataFrame.from_records(rows, columns=["number", "owner", "value"])
    long["time"] = long["number"].astype(float) * bucket
    index = pd.Index(numbers.astype(float) * bucket, name="time")
    if not grouped:
        combined = long.groupby("time")["value"].agg(combine)
        return combined.reindex(index).to_frame(series_name)
    weights = long.groupby("owner")["value"].mean().to_dict()
    labels = fold_labels(weights, top)
    long["label"] = long["owner"].map(labels)
    # a folded "other" combines the workers or queues in it, like the whole
    per_worker = long.groupby(["time", "label"])["value"].agg(combine)
    frame = per_worker.unstack("label").reindex(index)
    return frame[_ordered_columns(labels)]


def zone(name: str | None) -> ZoneInfo:
    """The browser's IANA time zone, or UTC when it sent none or an unknown one."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_times(epochs: Iterable[float], tz: ZoneInfo) -> list[datetime]:
    """Epoch seconds → naive wall-clock times in `tz` (Plotly axes know no time zones)."""
    return [datetime.fromtimestamp(epoch, tz).replace(tzinfo=None) for epoch in epochs]


def epoch_from_local(text: str, tz: ZoneInfo) -> float:
    """A wall-clock time from a chart axis (e.g. '2026-11-27 10:15:30.5') → epoch seconds."""
    moment = pd.Timestamp(text)
    if moment.tzinfo is None:
        moment = moment.tz_localize(tz, ambiguous=True, nonexistent="shift_forward")
    return moment.timestamp()


def hour_of_day_frame(received: list[tuple[int, Any, int]],
                      finished: list[tuple[int, Any, str, int]], bucket: int, tz: ZoneInfo,
                      top: int, ratio: bool) -> pd.DataFrame:
    """Task name × local hour of day (0-23): tasks received, or failed / finished.
    Rows come in buckets that divide an hour, so each lands in one local hour."""
    source = finished if ratio else received
    if not source:
        return pd.DataFrame(columns=range(24), dtype=float)
    if ratio:
        long = pd.DataFrame.from_records(source, columns=["number", "name", "state", "count"])
    else:
        long = pd.DataFrame.from_records(source, columns=["number", "name", "count"])
    starts = pd.to_datetime(long["number"].astype(float) * bucket, unit="s", utc=True)
    long["hour"] = starts.dt.tz_convert(tz).dt.hour
    long["name"] = long["name"].map(_label)
    weights = long.groupby("name")["count"].sum().to_dict()
    long["name"] = long["name"].map(fold_labels(weights, top))
    order = _ordered_columns(fold_labels(weights, top))
    totals = long.pivot_table(index="name", columns="hour", values="count", aggfunc="sum")
    if ratio:
        failures = long[long["state"] == "FAILURE"].pivot_table(
            index="name", columns="hour", values="count", aggfunc="sum")
        totals = failures.reindex_like(totals).fillna(0) / totals
    else:
        totals = totals.fillna(0)
    return totals.reindex(index=order, columns=range(24))
