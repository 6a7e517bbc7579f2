"""What each kind of rule measures: one bounded query (or one look at the queues and
workers as they stand) per rule, giving a Measurement per label set.

Task kinds are aggregated by the database over the rule's window, grouped by task name, and
read from the tasks indexes (the state-and-time index covers the finished tasks, the STARTED
ones and the successes); only the groups come back. Queue kinds read the queues' newest
samples through queues/overview.current_queues, and worker_offline the workers' rows
through workers/liveness: the same answers /broker, the dashboard and /metrics give, read
once per round for all rules (`Readings`). A value is above the threshold to breach, as
rules.KINDS says; kinds without a threshold breach on any.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from celery.states import ALL_STATES
from sqlalchemy import Integer, case, cast, func, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement

from ..queues.overview import current_queues
from ..store.cache import Cache
from ..store.history import HistoryStore
from ..store.schema import tasks
from ..workers.liveness import is_online
from .rules import Rule
from .states import Measurement

SUCCESS, FAILURE, STARTED = "SUCCESS", "FAILURE", "STARTED"
PERCENTILE = 0.95


@dataclass
class Readings:
    """What one evaluation round reads besides the tasks: the queues as they stand (newest
    samples no older than `queue_samples_kept` seconds) and the workers' rows, each read
    once, when a rule first needs it. `watching_since` is when evaluation began: a dead
    man's switch whose task never succeeded counts from there."""
    store: HistoryStore
    cache: Cache
    now: float
    queue_samples_kept: float
    watching_since: float
    forget_offline_after: float = 0.0  # seconds; 0 keeps offline workers (as /metrics)

    @cached_property
    def queues(self) -> list[dict[str, Any]]:
        return current_queues(self.store, self.cache, self.now,
                              self.now - self.queue_samples_kept)

    @cached_property
    def workers(self) -> list[dict[str, Any]]:
        return self.store.workers()


def measure(rule: Rule, readings: Readings) -> list[Measurement]:
    """The rule's measurements now, one per label set it watches."""
    return MEASURES[rule.kind](rule, readings)


def _above(value: float, threshold: float | None) -> bool:
    return threshold is not None and value > threshold


def _scope(rule: Rule) -> list[ColumnElement[bool]]:
    """The rule's task / queue / worker scope; a queue is matched by name or routing key, as
    the task grid's queue filter does."""
    conditions = []
    if rule.task is not None:
        conditions.append(tasks.c.name == rule.task)
    if rule.queue is not None:
        conditions.append(or_(tasks.c.queue == rule.queue, tasks.c.routing_key == rule.queue))
    if rule.worker is not None:
        conditions.append(tasks.c.worker == rule.worker)
    return conditions


def _name(value: Any) -> str:
    return "" if value is None else str(value)


def _finished(rule: Rule, readings: Readings) -> list[tuple[str, int, int]]:
    """(task name, failed, finished) over the window: one GROUP BY over the state-and-time
    index (which carries the name, worker and queue)."""
    failed = func.sum(case((tasks.c.state == FAILURE, 1), else_=0))
    query = (select(tasks.c.name, cast(failed, Integer), func.count())
             .where(tasks.c.state.in_((SUCCESS, FAILURE)),
                    tasks.c.timestamp >= readings.now - rule.window, *_scope(rule))
             .group_by(tasks.c.name))
    with readings.store.engine.connect() as connection:
        return [(_name(name), int(bad or 0), int(count)) for name, bad, count
                in connection.execute(query)]


def failure_ratio(rule: Rule, readings: Readings) -> list[Measurement]:
    measured = []
    for name, failed, finished in _finished(rule, readings):
        ratio = failed / finished
        measured.append(Measurement({"task": name}, ratio,
                                    finished >= rule.min_count and _above(ratio, rule.threshold)))
    return measured


def failure_count(rule: Rule, readings: Readings) -> list[Measurement]:
    return [Measurement({"task": name}, float(failed), _above(failed, rule.threshold))
            for name, failed, _ in _finished(rule, readings)]


def runtime_p95(rule: Rule, readings: Readings) -> list[Measurement]:
    """The 95th percentile (nearest rank) of successful runtimes over the window. PostgreSQL
    computes it with percentile_disc; SQLite has no percentile function, so each name's is
    one ORDER BY runtime LIMIT 1 OFFSET over the same indexed rows."""
    conditions = [tasks.c.state == SUCCESS, tasks.c.timestamp >= readings.now - rule.window,
                  tasks.c.runtime.is_not(None), *_scope(rule)]
    engine = readings.store.engine
    rows: Sequence[Any]
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            p95 = func.percentile_disc(PERCENTILE).within_group(tasks.c.runtime)
            rows = connection.execute(select(tasks.c.name, func.count(), p95)
                                      .where(*conditions).group_by(tasks.c.name)).all()
        else:
            rows = [(name, count, _nth_runtime(connection, conditions, name, count))
                    for name, count in connection.execute(
                        select(tasks.c.name, func.count()).where(*conditions)
                        .group_by(tasks.c.name)).all()]
    return [Measurement({"task": _name(name)}, float(p95),
                        count >= rule.min_count and _above(float(p95), rule.threshold))
            for name, count, p95 in rows if p95 is not None]


def _nth_runtime(connection: Connection, conditions: list[ColumnElement[bool]],
                 name: str | None, count: int) -> float | None:
    """The nearest-rank percentile: the ceil(0.95 n)-th smallest runtime of `name`."""
    rank = max(1, -(-int(PERCENTILE * 100) * count // 100))
    named = tasks.c.name.is_(None) if name is None else tasks.c.name == name
    return connection.execute(select(tasks.c.runtime).where(*conditions, named)
                              .order_by(tasks.c.runtime).offset(rank - 1).limit(1)).scalar()


def stuck_started(rule: Rule, readings: Readings) -> list[Measurement]:
    """Tasks STARTED longer ago than the threshold and still running, per name. An
    orphaned one is not stuck but lost (the orphaned kind says so); STARTED rows are few,
    and the state-and-time index holds them in start order."""
    query = (select(tasks.c.name, func.count())
             .where(tasks.c.state == STARTED,
                    tasks.c.timestamp < readings.now - (rule.threshold or 0.0),
                    tasks.c.orphaned.is_(None), *_scope(rule))
             .group_by(tasks.c.name))
    with readings.store.engine.connect() as connection:
        rows = connection.execute(query).all()
    return [Measurement({"task": _name(name)}, float(count), count >= rule.min_count)
            for name, count in rows]


def orphaned(rule: Rule, readings: Readings) -> list[Measurement]:
    """Tasks orphaned over the window (their worker went offline while they ran), per
    name, whatever became of them after. No index holds `orphaned`, so two indexed reads
    find them: those still STARTED (few), and those whose state changed since (their state's
    time is then within the window too, so the state-and-time index bounds the read)."""
    since = readings.now - rule.window
    marked = [tasks.c.orphaned >= since, *_scope(rule)]
    queries = [
        select(tasks.c.name, func.count()).where(tasks.c.state == STARTED, *marked)
        .group_by(tasks.c.name),
        select(tasks.c.name, func.count())
        .where(tasks.c.state.in_(sorted(ALL_STATES - {STARTED})), tasks.c.timestamp >= since,
               *marked).group_by(tasks.c.name)]
    counts: dict[str, int] = {}
    with readings.store.engine.connect() as connection:
        for query in queries:
            for name, count in connection.execute(query):
                counts[_name(name)] = counts.get(_name(name), 0) + int(count)
    return [Measurement({"task": name}, float(count), count >= rule.min_count)
            for name, count in sorted(counts.items())]


def dead_mans_switch(rule: Rule, readings: Readings) -> list[Measurement]:
    """Seconds since the task last succeeded. The newest success is looked for within the
    threshold first (newest first along the state-and-time index: quick for a task that
    succeeds often), then among that task's own rows (the name index: few, for a task that
    has stopped). Never succeeded: counted from when evaluation began."""
    scope = _scope(rule)
    recent = (select(tasks.c.timestamp)
              .where(tasks.c.state == SUCCESS,
                     tasks.c.timestamp >= readings.now - (rule.threshold or 0.0),
                     *scope)
              .order_by(tasks.c.timestamp.desc()).limit(1))
    ever = select(func.max(tasks.c.succeeded)).where(tasks.c.name == rule.task,
                                                      tasks.c.state == SUCCESS, *scope)
    with readings.store.engine.connect() as connection:
        last = connection.execute(recent).scalar()
        if last is None:
            last = connection.execute(ever).scalar()
    since = max(last, readings.watching_since) if last is not None else readings.watching_since
    seconds = max(0.0, readings.now - since)
    return [Measurement({"task": rule.task or ""}, seconds, _above(seconds, rule.threshold))]


def _queues(rule: Rule, readings: Readings) -> list[dict[str, Any]]:
    return [queue for queue in readings.queues
            if rule.queue is None or queue["name"] == rule.queue]


def queue_latency(rule: Rule, readings: Readings) -> list[Measurement]:
    """A queue whose oldest message's age cannot be told is not measured (no false 0)."""
    return [Measurement({"queue": queue["name"]}, float(queue["latency_seconds"]),
                        _above(queue["latency_seconds"], rule.threshold))
            for queue in _queues(rule, readings)
            if queue["latency_seconds"] is not None and queue["messages"] is not None]


def queue_depth(rule: Rule, readings: Readings) -> list[Measurement]:
    return [Measurement({"queue": queue["name"]}, float(queue["messages"]),
                        _above(queue["messages"], rule.threshold))
            for queue in _queues(rule, readings) if queue["messages"] is not None]


def no_consumer(rule: Rule, readings: Readings) -> list[Measurement]:
    """queues/detail.queue_summaries decides `no_consumer` (messages wait, no online worker
    consumes the queue); the value is the messages waiting."""
    return [Measurement({"queue": queue["name"]}, float(queue["messages"] or 0),
                        queue["no_consumer"]) for queue in _queues(rule, readings)]


def worker_offline(rule: Rule, readings: Readings) -> list[Measurement]:
    """Every known worker, breaching while workers/liveness says it is offline; the value is
    the seconds since it was last heard from. With `forget_offline_after` (the
    --purge-offline-workers of /metrics), one offline that long is no longer watched,
    which resolves its alert."""
    measured = []
    for row in readings.workers:
        hostname = row["hostname"]
        if rule.worker is not None and hostname != rule.worker:
            continue
        silent = max(0.0, readings.now - (row.get("last_heartbeat") or readings.now))
        offline = not is_online(row, readings.now)
        if offline and readings.forget_offline_after and silent > readings.forget_offline_after:
            continue
        measured.append(Measurement({"worker": hostname}, silent, offline))
    return measured


MEASURES: dict[str, Callable[[Rule, Readings], list[Measurement]]] = {
    "failure_ratio": failure_ratio,
    "failure_count": failure_count,
    "runtime_p95": runtime_p95,
    "stuck_started": stuck_started,
    "orphaned": orphaned,
    "dead_mans_switch": dead_mans_switch,
    "queue_latency": queue_latency,
    "queue_depth": queue_depth,
    "no_consumer": no_consumer,
    "worker_offline": worker_offline,
}

