"""SeriesSpec → SQL: per-bucket aggregates for /explore, computed by the database.

Where the five-minute rollups can answer a chart (rollup_queries.py) they do, and the task
rows are read only for the window's ragged edges; what follows is how the rows are read.

Percentiles from the rows are exact, and SQLite has no percentile function, so each (bucket, group)
hands back all of its values in one aggregate (group_concat on SQLite, array_agg on
PostgreSQL): the database scans and groups in C, Python parses a few hundred strings
instead of building a million rows. The time indexes carry name, worker, queue and the
timed columns, so these queries read the index alone unless a state filter asks for more.

On SQLite one GROUP BY over a week sorts a million index entries in a temporary b-tree;
asking bucket by bucket reads each bucket's stretch of the index in order and groups a few
thousand rows at a time, which measured two to three times faster. PostgreSQL hashes the
groups, so it gets the one statement.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sqlalchemy import (
    BigInteger,
    Integer,
    bindparam,
    cast,
    func,
    literal,
    literal_column,
    select,
)
from sqlalchemy.engine import Engine
from sqlalchemy.sql import ColumnElement

from ..store.rollups import PERIOD
from ..store.schema import queue_samples, tasks, worker_samples
from ..store.sketch import Sketch
from . import rollup_queries
from .spec import SeriesSpec

FINAL_STATES = ("SUCCESS", "FAILURE", "REVOKED", "REJECTED")
UNFINISHED_STATES = ("PENDING", "RECEIVED", "STARTED", "RETRY")
# A count metric: the state the task must be in (None: any) and the time it is bucketed by.
# A final state's time is the `timestamp` column, which the state/time index carries.
_COUNTED = {
    "received": (None, "received"),
    "succeeded": ("SUCCESS", "timestamp"),
    "failed": ("FAILURE", "timestamp"),
    "revoked": ("REVOKED", "timestamp"),
    "retried": (None, "retried"),
}

# The rollup measure that counts what a count metric counts.
_ROLLED_UP = {"received": "received", "succeeded": "SUCCESS", "failed": "FAILURE",
              "revoked": "REVOKED", "retried": "retried"}

Rows = list[tuple[Any, ...]]  # (bucket number, group, *aggregates)


def bucket_number(engine: Engine, column: ColumnElement, bucket: int) -> ColumnElement[int]:
    """The bucket a time falls in: floor(t / bucket), buckets aligned on the epoch."""
    # Inlined, not bound: the GROUP BY must repeat the very same expression as the SELECT
    # for the database to compute it once.
    size: ColumnElement[Any] = literal_column(repr(float(int(bucket))))
    if engine.dialect.name == "sqlite":  # CAST truncates, which is floor for t > 0
        return cast(column / size, Integer)
    return cast(func.floor(column / size), BigInteger)


def by_bucket(engine: Engine, moment: ColumnElement, start: float, end: float, bucket: int,
              group: ColumnElement, aggregates: Sequence[ColumnElement],
              conditions: Sequence[ColumnElement[bool]], extra_groups=()) -> Rows:
    """(bucket number, group, *extra groups, *aggregates) for rows whose `moment` lies in
    [start, end); buckets or groups without rows are left out."""
    if engine.dialect.name != "sqlite":
        bucket_of = bucket_number(engine, moment, bucket)
        query = (select(bucket_of, group, *extra_groups, *aggregates)
                 .where(moment >= start, moment < end, *conditions)
                 .group_by(bucket_of, group, *extra_groups))
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(query)]
    query = (select(group, *extra_groups, *aggregates)
             .where(moment >= bindparam("low", 0.0), moment < bindparam("high", 0.0), *conditions)
             .group_by(group, *extra_groups))
    compiled = query.compile(dialect=engine.dialect,
                             compile_kwargs={"render_postcompile": True})  # IN (...) lists
    sql, names = str(compiled), compiled.positiontup
    if names is None:  # SQLite's paramstyle is positional: the compiler lists the names
        raise ValueError("the SQLite query has no positional parameter order")
    rows: Rows = []
    raw_connection = engine.raw_connection()
    try:
        cursor = raw_connection.cursor()
        for number in range(math.floor(start / bucket), math.ceil(end / bucket)):
            bounds = {"low": max(number * bucket, start), "high": min((number + 1) * bucket, end)}
            params = [bounds[name] if name in bounds else compiled.params[name] for name in names]
            rows.extend((number, *row) for row in cursor.execute(sql, params))
    finally:
        raw_connection.close()
    return rows


def _filters(spec: SeriesSpec, with_state: bool = True) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if spec.names:
        conditions.append(tasks.c.name.in_(spec.names))
    if spec.workers:
        conditions.append(tasks.c.worker.in_(spec.workers))
    if spec.queues:
        conditions.append(tasks.c.queue.in_(spec.queues))
    if with_state and spec.states:
        conditions.append(tasks.c.state.in_(spec.states))
    return conditions


def _group(spec: SeriesSpec) -> ColumnElement:
    return tasks.c[spec.group] if spec.group else literal(None)


def _with_edges(rows: list, found: rollup_queries.Plan,
                read: Callable[[float, float], list]) -> list:
    """Rollup rows and, appended, what `read` gives over each of the window's edges."""
    for low, high in found.edges:
        rows.extend(read(low, high))
    return rows


def counts(engine: Engine, spec: SeriesSpec, start: float, end: float, bucket: int) -> Rows:
    """(bucket number, group, tasks) for a count metric over [start, end)."""
    found = rollup_queries.plan(engine, spec, start, end, bucket)
    if found is not None:
        rows = rollup_queries.counts(engine, found, _ROLLED_UP[spec.metric])
        return _with_edges(rows, found, lambda low, high: counts(engine, spec, low, high, bucket))
    state, time_column = _COUNTED[spec.metric]
    moment = tasks.c[time_column]
    conditions = _filters(spec)
    if state:
        conditions.append(tasks.c.state == state)
    if time_column == "retried":
        conditions.append(moment.isnot(None))  # lets SQLite use the partial index
    return by_bucket(engine, moment, start, end, bucket, _group(spec), [func.count()],
                     conditions)


def finished_by_state(engine: Engine, spec: SeriesSpec, start: float, end: float,
                      bucket: int) -> Rows:
    """(bucket number, group, SUCCESS or FAILURE, tasks) for the failure ratio."""
    found = rollup_queries.plan(engine, spec, start, end, bucket)
    if found is not None:
        rows = [(number, group, state, count) for state in ("SUCCESS", "FAILURE")
                for number, group, count in rollup_queries.counts(engine, found, state)]
        return _with_edges(rows, found, lambda low, high: finished_by_state(engine, spec, low,
                                                                            high, bucket))
    return by_bucket(engine, tasks.c.timestamp, start, end, bucket, _group(spec),
                     [func.count()], [tasks.c.state.in_(("SUCCESS", "FAILURE")),
                                      *_filters(spec)], extra_groups=[tasks.c.state])


def values(engine: Engine, spec: SeriesSpec, start: float, end: float,
           bucket: int) -> list[tuple[int, Any, np.ndarray | Sketch]]:
    """(bucket number, group, every value in it) for a percentile metric, unsorted; where
    the rollups answer, a histogram (Sketch) per period in place of the values."""
    found = rollup_queries.plan(engine, spec, start, end, bucket)
    if found is not None:
        rows: list = rollup_queries.sketches(engine, found, spec.metric)
        return _with_edges(rows, found, lambda low, high: values(engine, spec, low, high, bucket))
    moment: ColumnElement[Any]
    value: ColumnElement[Any]
    if spec.metric == "runtime":
        moment, value = tasks.c.timestamp, tasks.c.runtime
        conditions = [tasks.c.state.in_(spec.states or ("SUCCESS",)),
                      *_filters(spec, with_state=False)]
    else:  # wait: received → started, by the time the task was received
        moment, value = tasks.c.received, tasks.c.started - tasks.c.received
        conditions = [tasks.c.started.isnot(None), *_filters(spec)]
    sqlite = engine.dialect.name == "sqlite"
    gathered = func.group_concat(value) if sqlite else func.array_agg(value)
    rows = by_bucket(engine, moment, start, end, bucket, _group(spec), [gathered],
                     [*conditions, value.isnot(None)])
    return [(number, group, _as_array(found, sqlite)) for number, group, found in rows]


def _as_array(gathered: Any, from_text: bool) -> np.ndarray:
    if from_text:
        return np.fromstring(gathered, sep=",")  # text mode: a C parser, not deprecated
    return np.asarray(gathered, dtype=float)


def in_flight_parts(engine: Engine, spec: SeriesSpec, start: float, end: float,
                    bucket: int) -> tuple[Rows, Rows, list[tuple[Any, int]]]:
    """What the in-flight series is summed from: arrivals (received) and departures
    (finished) per (bucket, group) over [start, end), and per group the tasks already in
    flight at `start`."""
    group = _group(spec)
    finished = [tasks.c.state.in_(FINAL_STATES), tasks.c.received.isnot(None),
                *_filters(spec)]
    found = rollup_queries.plan(engine, spec, start, end, bucket)
    if found is None:
        arrivals, departures = _flows(engine, spec, start, end, bucket, group, finished)
        return arrivals, departures, _in_flight_at(engine, spec, start, group, finished)
    arrivals = rollup_queries.counts(engine, found, "received")
    departures = rollup_queries.counts(engine, found, "departed")
    for low, high in found.edges:
        edge_arrivals, edge_departures = _flows(engine, spec, low, high, bucket, group,
                                                finished)
        arrivals.extend(edge_arrivals)
        departures.extend(edge_departures)
    return arrivals, departures, _rolled_up_in_flight_at(engine, spec, found, start, group,
                                                          finished)


def _in_flight_at(engine: Engine, spec: SeriesSpec, start: float, group: ColumnElement,
                  finished: list[ColumnElement[bool]]) -> list[tuple[Any, int]]:
    """Per group, the tasks received before `start` and unfinished, or finished at or
    after it: the unfinished ones, then the window's departures received before it."""
    carried_over = [
        select(group.label("group"), func.count().label("tasks"))
        .where(tasks.c.state.in_(UNFINISHED_STATES), tasks.c.received < start, *_filters(spec))
        .group_by(group),
        select(group.label("group"), func.count().label("tasks"))
        .where(*finished, tasks.c.timestamp >= start, tasks.c.received < start)
        .group_by(group),
    ]
    baseline: dict[Any, int] = {}
    with engine.connect() as connection:
        for query in carried_over:
            for name, count in connection.execute(query):
                baseline[name] = baseline.get(name, 0) + count
    return list(baseline.items())


def _rolled_up_in_flight_at(engine: Engine, spec: SeriesSpec, found: rollup_queries.Plan,
                            start: float, group: ColumnElement,
                            finished: list[ColumnElement[bool]]) -> list[tuple[Any, int]]:
    """Per group, the tasks received before `start` less those that finished before it,
    from the aggregates of the whole history before it (and the rows of its last few
    minutes), so a week's chart does not walk the week's finished tasks. It equals the
    rows' count unless a task's final event is dated before its arrival (a revoke seen
    before a worker took the task), which this counts as departed."""
    aligned = math.floor(start / PERIOD) * PERIOD
    arrived = rollup_queries.totals_before(engine, found, "received", aligned)
    departed = rollup_queries.totals_before(engine, found, "departed", aligned)
    edge_arrivals, edge_departures = _flows(engine, spec, aligned, start, bucket=PERIOD,
                                            group=group, finished=finished)
    for _number, name, count in edge_arrivals:
        arrived[name] = arrived.get(name, 0) + count
    for _number, name, count in edge_departures:
        departed[name] = departed.get(name, 0) + count
    baseline = {name: arrived.get(name, 0) - departed.get(name, 0)
                for name in arrived.keys() | departed.keys()}
    return [(name, count) for name, count in baseline.items() if count]


def _flows(engine: Engine, spec: SeriesSpec, start: float, end: float, bucket: int,
           group: ColumnElement, finished: list[ColumnElement[bool]]) -> tuple[Rows, Rows]:
    """Arrivals (received) and departures (finished) per (bucket, group) in [start, end)."""
    arrivals = by_bucket(engine, tasks.c.received, start, end, bucket, group, [func.count()],
                         _filters(spec))
    departures = by_bucket(engine, tasks.c.timestamp, start, end, bucket, group,
                           [func.count()], finished)
    return arrivals, departures


def samples_by_bucket(engine: Engine, spec: SeriesSpec, start: float, end: float,
                      bucket: int) -> Rows:
    """(bucket number, worker or queue, value) over [start, end): a worker's mean of the
    sampled column, or a queue's peak depth or latency."""
    aggregate: ColumnElement[Any]
    if spec.definition.groups == ("queue",):
        table, owner, chosen = queue_samples, queue_samples.c.queue, spec.queues
        aggregate = func.max(queue_samples.c[spec.definition.column])
    else:
        table, owner, chosen = worker_samples, worker_samples.c.hostname, spec.workers
        aggregate = func.avg(worker_samples.c[spec.definition.column])
    conditions = [table.c[spec.definition.column].isnot(None)]
    if chosen:
        conditions.append(owner.in_(chosen))
    found = (rollup_queries.sample_cover(engine, start, end, bucket)
             if table is worker_samples else None)
    if found is None:
        return by_bucket(engine, table.c.timestamp, start, end, bucket, owner, [aggregate],
                         conditions)
    # the mean over the periods' sums and the edges' samples, weighed by their samples
    column = spec.definition.column
    sums: dict[tuple[int, str], list[float]] = {}
    parts = rollup_queries.sample_sums(engine, found, column, chosen)
    for low, high in found.edges:
        parts += by_bucket(engine, table.c.timestamp, low, high, bucket, owner,
                           [func.sum(table.c[column]), func.count(table.c[column])], conditions)
    for number, hostname, total, samples in parts:
        entry = sums.setdefault((number, hostname), [0.0, 0])
        entry[0] += total
        entry[1] += samples
    return [(number, hostname, total / samples)
            for (number, hostname), (total, samples) in sums.items() if samples]
