"""SeriesSpec → the rollups (store/rollups.py), where they can answer it.

A chart whose buckets are whole periods, filtered and grouped along one dimension at most
and by no state, reads the window from the rollups: its thirty-minute periods where they
fit whole, five-minute ones beside them, and only the ragged edges that are left (under
five minutes each) from the task rows. A week costs a few thousand aggregates whatever the
history holds. Counts and means come out exactly as the rows give them; percentiles come
from histograms, within 1% of the exact ones.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine

from ..store import rollups
from ..store.paramstyle import placeholder
from ..store.rollups import SPANS, member, member_value
from ..store.sketch import Sketch
from .spec import SeriesSpec

_FILTERS = (("name", "names"), ("worker", "workers"), ("queue", "queues"))


@dataclass(frozen=True)
class Segment:
    span: int  # seconds per period
    first: int  # periods [first, last) of that span
    last: int
    per_bucket: int  # periods per chart bucket


@dataclass(frozen=True)
class Cover:
    """How a window [start, end) is read: rollup segments, and edges read from the rows."""
    segments: tuple[Segment, ...]
    edges: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class Plan:
    dimension: str  # '' for the whole cluster, else name, worker or queue
    members: tuple[str, ...]  # the filter's members, as stored; () for all
    grouped: bool
    cover: Cover

    @property
    def edges(self) -> tuple[tuple[float, float], ...]:
        return self.cover.edges


def cover(start: float, end: float, bucket: int) -> Cover | None:
    """The longest whole periods that fit, shorter ones beside them, the rest as edges;
    None when no period fits or a bucket is not made of whole periods."""
    segments: list[Segment] = []
    edges: list[tuple[float, float]] = []

    def fill(low: float, high: float, spans: tuple[int, ...]) -> None:
        if low >= high:
            return
        if not spans:
            edges.append((low, high))
            return
        span, shorter = spans[0], spans[1:]
        first, last = math.ceil(low / span), math.floor(high / span)
        if last <= first:
            fill(low, high, shorter)
            return
        fill(low, first * span, shorter)
        segments.append(Segment(span, first, last, bucket // span))
        fill(last * span, high, shorter)

    fill(start, end, tuple(span for span in SPANS if bucket % span == 0))
    return Cover(tuple(segments), tuple(edges)) if segments else None


def plan(engine: Engine, spec: SeriesSpec, start: float, end: float, bucket: int) -> Plan | None:
    """How the rollups answer this chart, or None when only the rows can."""
    if spec.states:
        return None
    chosen = [(dimension, getattr(spec, field)) for dimension, field in _FILTERS
              if getattr(spec, field)]
    if len(chosen) > 1 or (chosen and spec.group not in (None, chosen[0][0])):
        return None
    found = cover(start, end, bucket)
    if found is None or not rollups.ready(engine):
        return None
    dimension = spec.group or (chosen[0][0] if chosen else "")
    members = tuple(member(value) for value in chosen[0][1]) if chosen else ()
    return Plan(dimension, members, spec.group is not None, found)


def sample_cover(engine: Engine, start: float, end: float, bucket: int) -> Cover | None:
    """How the worker sample sums answer a worker chart, or None."""
    found = cover(start, end, bucket)
    return found if found is not None and rollups.ready(engine) else None


def _rows(engine: Engine, sql: str, params: list[Any]) -> list[tuple]:
    with engine.connect() as connection:
        return [tuple(row) for row in connection.exec_driver_sql(sql, tuple(params))]


def sample_sums(engine: Engine, found: Cover, column: str, workers: tuple[str, ...]
                ) -> list[tuple[int, str, float, int]]:
    """(bucket number, worker, sum, samples) of a sampled column over the cover's periods."""
    mark, rows = placeholder(engine.dialect), []
    for segment in found.segments:
        number = f"period / {segment.per_bucket}"  # integers: floor division on both
        where = (f"span = {mark} AND period >= {mark} AND period < {mark} "
                 f"AND {column}_samples > 0")
        params: list[Any] = [segment.span, segment.first, segment.last]
        if workers:
            where += f" AND hostname IN ({', '.join([mark] * len(workers))})"
            params.extend(workers)
        rows += _rows(engine, f"SELECT {number}, hostname, sum({column}_sum), "
                              f"sum({column}_samples) FROM worker_sample_rollups "
                              f"WHERE {where} GROUP BY {number}, hostname", params)
    return [(int(n), host, float(total), int(samples)) for n, host, total, samples in rows]


def _where(plan: Plan, segment: Segment, measure: str, mark: str) -> tuple[str, list[Any]]:
    sql = (f"measure = {mark} AND dimension = {mark} AND span = {mark} AND period >= {mark} "
           f"AND period < {mark}")
    params: list[Any] = [measure, plan.dimension, segment.span, segment.first, segment.last]
    if plan.members:
        sql += f" AND member IN ({', '.join([mark] * len(plan.members))})"
        params.extend(plan.members)
    return sql, params


def counts(engine: Engine, plan: Plan, measure: str) -> list[tuple[int, Any, int]]:
    """(bucket number, group, tasks) of a count measure over the plan's periods."""
    found: list[tuple[int, Any, int]] = []
    for segment in plan.cover.segments:
        where, params = _where(plan, segment, measure, placeholder(engine.dialect))
        number = f"period / {segment.per_bucket}"
        if plan.grouped:
            rows = _rows(engine, f"SELECT {number}, member, sum(tasks) FROM task_rollups "
                                 f"WHERE {where} GROUP BY {number}, member", params)
            found += [(int(n), member_value(who), int(count)) for n, who, count in rows]
        else:
            rows = _rows(engine, f"SELECT {number}, sum(tasks) FROM task_rollups "
                                 f"WHERE {where} GROUP BY {number}", params)
            found += [(int(n), None, int(count)) for n, count in rows]
    return found


def totals_before(engine: Engine, plan: Plan, measure: str, moment: float) -> dict[Any, int]:
    """Per group, a count measure summed over every period that ends by `moment` (a
    five-minute boundary): the whole history before the window in a few thousand
    aggregates, the longest periods first."""
    found: dict[Any, int] = {}
    low = 0
    for span in SPANS:
        last = int(moment // span)
        where, params = _where(plan, Segment(span, low // span, last, 1), measure,
                               placeholder(engine.dialect))
        low = last * span
        rows = _rows(engine, f"SELECT member, sum(tasks) FROM task_rollups WHERE {where} "
                             "GROUP BY member", params)
        for who, count in rows:
            group = member_value(who) if plan.grouped else None
            found[group] = found.get(group, 0) + int(count)
    return found


def sketches(engine: Engine, plan: Plan, measure: str) -> list[tuple[int, Any, Sketch]]:
    """(bucket number, group, histogram) of a histogram measure over the plan's periods,
    one per stored period (the frame pools them by bucket)."""
    found: list[tuple[int, Any, Sketch]] = []
    for segment in plan.cover.segments:
        where, params = _where(plan, segment, measure, placeholder(engine.dialect))
        rows = _rows(engine, f"SELECT period, member, tasks, histogram FROM task_rollups "
                             f"WHERE {where}", params)
        found += [(period // segment.per_bucket, member_value(who) if plan.grouped else None,
                   Sketch.from_blob(bytes(blob), count))
                  for period, who, count, blob in rows if blob]
    return found
