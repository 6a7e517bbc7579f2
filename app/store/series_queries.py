"""SeriesSpec → SQL: per-bucket aggregates for /explore, computed by the database.

Counts come back already grouped by (bucket, group). Percentiles must be exact, and
SQLite has no percentile function, so each (bucket, group) hands back all of its values
in one aggregate (group_concat on SQLite, array_agg on PostgreSQL): the database does the
scan and grouping in C, Python parses a few hundred strings instead of building a million
rows. The time indexes carry name, worker, queue and the timed columns, so none of these
queries reads the table itself unless a state filter asks for it.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import BigInteger, Integer, and_, cast, func, literal, literal_column, select, true
from sqlalchemy.engine import Engine
from sqlalchemy.sql import ColumnElement

from ..series_spec import SeriesSpec
from .schema import tasks, worker_samples

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

Rows = list[tuple[int, Any, Any]]


def bucket_number(engine: Engine, column: ColumnElement, bucket: int) -> ColumnElement[int]:
    """The bucket a time falls in: floor(t / bucket), buckets aligned on the epoch."""
    # Inlined, not bound: the GROUP BY must repeat the very same expression as the SELECT
    # for the database to compute it once and group along the time index's order.
    size = literal_column(repr(float(int(bucket))))
    if engine.dialect.name == "sqlite":  # CAST truncates, which is floor for t > 0
        return cast(column / size, Integer)
    return cast(func.floor(column / size), BigInteger)


def _filters(spec: SeriesSpec, with_state: bool = True) -> list[ColumnElement[bool]]:
    conditions = []
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


def _in_window(column: ColumnElement, start: float, end: float) -> ColumnElement[bool]:
    return and_(column >= start, column < end)


def counts(engine: Engine, spec: SeriesSpec, start: float, end: float, bucket: int) -> Rows:
    """(bucket number, group, tasks) for a count metric over [start, end)."""
    state, time_column = _COUNTED[spec.metric]
    moment = tasks.c[time_column]
    conditions = [_in_window(moment, start, end), *_filters(spec)]
    if state:
        conditions.append(tasks.c.state == state)
    if time_column == "retried":
        conditions.append(moment.isnot(None))  # lets SQLite use the partial index
    return _grouped_count(engine, spec, moment, bucket, conditions)


def _grouped_count(engine, spec, moment, bucket, conditions) -> Rows:
    number, group = bucket_number(engine, moment, bucket), _group(spec)
    query = (select(number, group, func.count()).where(and_(true(), *conditions))
             .group_by(number, group))
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(query)]


def finished_by_state(engine: Engine, spec: SeriesSpec, start: float, end: float,
                      bucket: int) -> list[tuple[int, Any, str, int]]:
    """(bucket number, group, SUCCESS or FAILURE, tasks) for the failure ratio."""
    number, group = bucket_number(engine, tasks.c.timestamp, bucket), _group(spec)
    query = (select(number, group, tasks.c.state, func.count())
             .where(tasks.c.state.in_(("SUCCESS", "FAILURE")),
                    _in_window(tasks.c.timestamp, start, end), *_filters(spec))
             .group_by(number, group, tasks.c.state))
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(query)]


def values(engine: Engine, spec: SeriesSpec, start: float, end: float, bucket: int,
           hours: bool = False) -> list[tuple[int, Any, np.ndarray]]:
    """(bucket number, group, every value in it) for a percentile metric, unsorted."""
    if spec.metric == "runtime":
        moment, value = tasks.c.timestamp, tasks.c.runtime
        conditions = [tasks.c.state.in_(spec.states or ("SUCCESS",)),
                      *_filters(spec, with_state=False)]
    else:  # wait: received → started, by the time the task was received
        moment, value = tasks.c.received, tasks.c.started - tasks.c.received
        conditions = [tasks.c.started.isnot(None), *_filters(spec)]
    conditions += [_in_window(moment, start, end), value.isnot(None)]
    number, group = bucket_number(engine, moment, bucket), _group(spec)
    sqlite = engine.dialect.name == "sqlite"
    gathered = func.group_concat(value) if sqlite else func.array_agg(value)
    query = select(number, group, gathered).where(*conditions).group_by(number, group)
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return [(number, group, _as_array(gathered_values, sqlite))
            for number, group, gathered_values in rows]


def _as_array(gathered: Any, from_text: bool) -> np.ndarray:
    if from_text:
        return np.array(gathered.split(","), dtype=float)
    return np.asarray(gathered, dtype=float)


def in_flight_parts(engine: Engine, spec: SeriesSpec, start: float, end: float,
                    bucket: int) -> tuple[Rows, Rows, list[tuple[Any, int]]]:
    """What the in-flight series is summed from: arrivals (received) and departures
    (finished) per (bucket, group) over [start, end), and per group the tasks already in
    flight at `start`: received before it and unfinished, or finished at or after it."""
    group = _group(spec)
    arrivals = _grouped_count(engine, spec, tasks.c.received, bucket,
                              [_in_window(tasks.c.received, start, end), *_filters(spec)])
    finished = [tasks.c.state.in_(FINAL_STATES), tasks.c.received.isnot(None),
                *_filters(spec)]
    departures = _grouped_count(engine, spec, tasks.c.timestamp, bucket,
                                [*finished, _in_window(tasks.c.timestamp, start, end)])
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
    return arrivals, departures, list(baseline.items())


def worker_samples_by_bucket(engine: Engine, spec: SeriesSpec, start: float, end: float,
                             bucket: int) -> list[tuple[int, str, float]]:
    """(bucket number, worker, mean of the sampled column) over [start, end)."""
    column = worker_samples.c[spec.definition.column]
    number = bucket_number(engine, worker_samples.c.timestamp, bucket)
    conditions = [_in_window(worker_samples.c.timestamp, start, end), column.isnot(None)]
    if spec.workers:
        conditions.append(worker_samples.c.hostname.in_(spec.workers))
    query = (select(number, worker_samples.c.hostname, func.avg(column)).where(*conditions)
             .group_by(number, worker_samples.c.hostname))
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(query)]

