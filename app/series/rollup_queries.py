"""SeriesSpec → the five-minute rollups (store/rollups.py), where they can answer it.

A chart whose buckets are whole periods, filtered and grouped along one dimension at most
and by no state, reads the window's whole periods from the rollups and only its ragged
edges (under five minutes each) from the task rows: a week costs a few thousand aggregates
whatever the history holds. Counts come out exactly as the rows give them; percentiles
come from histograms, within 1% of the exact ones.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine

from ..store import rollups
from ..store.rollups import PERIOD, Sketch, member, member_value
from .spec import SeriesSpec

_FILTERS = (("name", "names"), ("worker", "workers"), ("queue", "queues"))


@dataclass(frozen=True)
class Plan:
    dimension: str  # '' for the whole cluster, else name, worker or queue
    members: tuple[str, ...]  # the filter's members, as stored; () for all
    grouped: bool
    first: int  # the whole periods inside the window: [first, last)
    last: int
    per_bucket: int  # periods per chart bucket
    edges: tuple[tuple[float, float], ...]  # what is left of the window, read from the rows


def plan(engine: Engine, spec: SeriesSpec, start: float, end: float, bucket: int) -> Plan | None:
    """How the rollups answer this chart, or None when only the rows can."""
    if spec.states:
        return None
    chosen = [(dimension, getattr(spec, field)) for dimension, field in _FILTERS
              if getattr(spec, field)]
    if len(chosen) > 1 or (chosen and spec.group not in (None, chosen[0][0])):
        return None
    found = _periods(start, end, bucket)
    if found is None or not rollups.ready(engine):
        return None
    dimension = spec.group or (chosen[0][0] if chosen else "")
    members = tuple(member(value) for value in chosen[0][1]) if chosen else ()
    return Plan(dimension, members, spec.group is not None, *found)


@dataclass(frozen=True)
class SamplePlan:
    first: int  # the whole periods inside the window: [first, last)
    last: int
    per_bucket: int
    edges: tuple[tuple[float, float], ...]


def sample_plan(engine: Engine, start: float, end: float, bucket: int) -> SamplePlan | None:
    """How the worker sample sums answer a worker chart, or None."""
    found = _periods(start, end, bucket)
    if found is None or not rollups.ready(engine):
        return None
    return SamplePlan(*found)


def _periods(start: float, end: float, bucket: int):
    if bucket % PERIOD:
        return None
    first, last = math.ceil(start / PERIOD), math.floor(end / PERIOD)
    if last <= first:
        return None
    edges = tuple(edge for edge in ((start, first * PERIOD), (last * PERIOD, end))
                  if edge[0] < edge[1])
    return first, last, bucket // PERIOD, edges


def sample_sums(engine: Engine, plan: SamplePlan, column: str, workers: tuple[str, ...]
                ) -> list[tuple[int, str, float, int]]:
    """(bucket number, worker, sum, samples) of a sampled column over the whole periods."""
    mark = _mark(engine)
    number = f"period / {plan.per_bucket}"
    where = f"period >= {mark} AND period < {mark} AND {column}_samples > 0"
    params: list[Any] = [plan.first, plan.last]
    if workers:
        where += f" AND hostname IN ({', '.join([mark] * len(workers))})"
        params.extend(workers)
    sql = (f"SELECT {number}, hostname, sum({column}_sum), sum({column}_samples) "
           f"FROM worker_sample_rollups WHERE {where} GROUP BY {number}, hostname")
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(sql, tuple(params)).all()
    return [(int(n), host, float(total), int(samples)) for n, host, total, samples in rows]


def _where(plan: Plan, measure: str, mark: str) -> tuple[str, list[Any]]:
    sql = f"measure = {mark} AND dimension = {mark} AND period >= {mark} AND period < {mark}"
    params: list[Any] = [measure, plan.dimension, plan.first, plan.last]
    if plan.members:
        sql += f" AND member IN ({', '.join([mark] * len(plan.members))})"
        params.extend(plan.members)
    return sql, params


def _mark(engine: Engine) -> str:
    return "?" if engine.dialect.paramstyle == "qmark" else "%s"


def counts(engine: Engine, plan: Plan, measure: str) -> list[tuple[int, Any, int]]:
    """(bucket number, group, tasks) of a count measure over the plan's whole periods."""
    where, params = _where(plan, measure, _mark(engine))
    number = f"period / {plan.per_bucket}"  # integers: floor division on both databases
    if plan.grouped:
        sql = (f"SELECT {number}, member, sum(tasks) FROM task_rollups WHERE {where} "
               f"GROUP BY {number}, member")
    else:
        sql = f"SELECT {number}, sum(tasks) FROM task_rollups WHERE {where} GROUP BY {number}"
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(sql, tuple(params)).all()
    if plan.grouped:
        return [(int(n), member_value(who), int(count)) for n, who, count in rows]
    return [(int(n), None, int(count)) for n, count in rows]


def sketches(engine: Engine, plan: Plan, measure: str) -> list[tuple[int, Any, Sketch]]:
    """(bucket number, group, histogram) of a histogram measure over the whole periods,
    one per stored period (the frame pools them by bucket)."""
    where, params = _where(plan, measure, _mark(engine))
    sql = f"SELECT period, member, tasks, histogram FROM task_rollups WHERE {where}"
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(sql, tuple(params)).all()
    return [(period // plan.per_bucket, member_value(who) if plan.grouped else None,
             Sketch.from_blob(bytes(blob), count)) for period, who, count, blob in rows if blob]
