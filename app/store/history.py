"""Task and worker history on SQLAlchemy Core: SQLite (WAL) by default, PostgreSQL by URL.

The collector is the one writer: it loads the rows a batch of events touches, merges in
Python (see merge.py) and writes them back in one transaction. Pages and the API only read.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Integer, and_, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import ColumnElement, Update

from . import rollups
from .engine import open_engine
from .paramstyle import placeholder
from .schema import (
    TASK_COLUMNS,
    WORKER_COLUMNS,
    quarantine,
    queue_samples,
    tasks,
    worker_samples,
    workers,
)
from .search_index import stop_search_index
from .task_ids import clip_id

_SELECT_CHUNK = 500  # ids per IN (...) query


def _split_task_writes(rows: list[dict[str, Any]], stored: Mapping[str, dict[str, Any]]
                       ) -> tuple[list[dict[str, Any]], dict[tuple[str, ...], list[tuple]]]:
    """The rows to upsert whole (not stored yet), and the stored ones' changes grouped by
    the columns they change: {(column, ...): [(value, ..., uuid), ...]}."""
    inserted: list[dict[str, Any]] = []
    updates: dict[tuple[str, ...], list[tuple]] = {}
    for row in rows:
        before = stored.get(row["uuid"])
        if before is None:
            inserted.append(row)
            continue
        changed = tuple(name for name in TASK_COLUMNS if row[name] != before[name])
        if changed:
            updates.setdefault(changed, []).append(
                (*(row[name] for name in changed), row["uuid"]))
    return inserted, updates


def orphaning(hostname: str, at: float) -> Update:
    """One UPDATE over the STARTED rows (the state index). The worker is compared as an
    expression so that SQLite walks the few running tasks, not the worker's index: every
    task the worker ever ran (200k rows a worker in a 10M-task store, minutes with the
    writer's lock held)."""
    return (tasks.update()
            .where(tasks.c.state == "STARTED", func.coalesce(tasks.c.worker, "") == hostname,
                   tasks.c.orphaned.is_(None))
            .values(orphaned=at))


class HistoryStore:
    def __init__(self, url: str):
        self.engine = open_engine(url)
        dialect = sqlite if self.engine.dialect.name == "sqlite" else postgresql
        self._worker_upsert = self._upsert(dialect, workers, "hostname")
        # The ingest hot path speaks the driver's SQL directly: SQLAlchemy's per-row
        # parameter handling cost a quarter of the collector's CPU. Both dialects accept it.
        mark = self._mark = placeholder(self.engine.dialect)
        self._task_upsert_sql = (
            f"INSERT INTO tasks ({', '.join(TASK_COLUMNS)}) "
            f"VALUES ({', '.join([mark] * len(TASK_COLUMNS))}) ON CONFLICT (uuid) DO UPDATE SET "
            + ", ".join(f"{name} = excluded.{name}" for name in TASK_COLUMNS if name != "uuid"))

    @staticmethod
    def _upsert(dialect, table, key: str):
        statement = dialect.insert(table)
        return statement.on_conflict_do_update(
            index_elements=[table.c[key]],
            set_={column.name: statement.excluded[column.name]
                  for column in table.columns if column.name != key},
        )

    def close(self) -> None:
        stop_search_index(self.engine)  # this process's indexer, if it started one
        self.engine.dispose()

    # -- the writer's side -------------------------------------------------------------

    def load_tasks(self, uuids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The stored rows among `uuids`, by uuid."""
        with self.engine.connect() as connection:
            return self._load_tasks(connection, uuids)

    def _load_tasks(self, connection, uuids: Sequence[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        columns = ", ".join(TASK_COLUMNS)
        for start in range(0, len(uuids), _SELECT_CHUNK):
            chunk = tuple(uuids[start:start + _SELECT_CHUNK])
            marks = ", ".join([self._mark] * len(chunk))
            result = connection.exec_driver_sql(
                f"SELECT {columns} FROM tasks WHERE uuid IN ({marks})", chunk)
            for values in result:
                found[values[0]] = dict(zip(TASK_COLUMNS, values))
        return found

    def rollups_ready(self) -> bool:
        """Whether the rollups cover the whole history (not in a store made before them)."""
        return rollups.ready(self.engine)

    def rebuild_rollups(self) -> int:
        """Compute the rollups from the stored rows; returns the tasks read."""
        return rollups.rebuild(self.engine)

    def load_workers(self) -> dict[str, dict[str, Any]]:
        """Every worker's row, by hostname (the dashboard reads them on every refresh)."""
        with self.engine.connect() as connection:
            result = connection.exec_driver_sql(f"SELECT {', '.join(WORKER_COLUMNS)} FROM workers")
            return {values[0]: dict(zip(WORKER_COLUMNS, values)) for values in result}

    def reachable(self) -> bool:
        """Whether the store answers at all (tells an outage from a row it refuses)."""
        try:
            with self.engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")
        except Exception:  # noqa: BLE001 — any failure to answer is an outage
            return False
        return True

    def write(
        self,
        task_rows: Iterable[dict[str, Any]],
        worker_rows: Iterable[dict[str, Any]] = (),
        samples: Iterable[dict[str, Any]] = (),
        quarantined: Iterable[dict[str, Any]] = (),
        stored: Mapping[str, dict[str, Any]] | None = None,
    ) -> None:
        """Upsert task and worker rows, append worker samples and quarantined events
        ({at, reason, raw}), in one transaction.

        `stored` holds the task rows as they were loaded (load_tasks) before the writer
        changed them: those rows are updated in the columns that changed only, and left
        alone when none did. An upsert rewrites every column, so the database updates every
        index of the row; an event changes two to five columns, and writing only those
        costs a third of the CPU (31 instead of 115 µs a row on SQLite). Without `stored`
        the rows are loaded here: the rollups move each row's share from what it was."""
        task_rows, worker_rows, samples = list(task_rows), list(worker_rows), list(samples)
        quarantined = list(quarantined)
        with self.engine.begin() as connection:
            if stored is None and task_rows:  # the rollups need what each row was
                stored = self._load_tasks(connection, [row["uuid"] for row in task_rows])
            stored = stored or {}
            inserted, updates = _split_task_writes(task_rows, stored)
            changes = rollups.RollupChanges()
            for row in task_rows:
                changes.replace(stored.get(row["uuid"]), row)
            rollups.apply(connection, changes)
            if quarantined:
                connection.execute(quarantine.insert(), quarantined)
            if inserted:
                connection.exec_driver_sql(
                    self._task_upsert_sql,
                    [tuple(row[name] for name in TASK_COLUMNS) for row in inserted])
            for changed, values in updates.items():
                assignments = ", ".join(f"{name} = {self._mark}" for name in changed)
                connection.exec_driver_sql(
                    f"UPDATE tasks SET {assignments} WHERE uuid = {self._mark}", values)
            if worker_rows:
                connection.execute(self._worker_upsert, worker_rows)
            if samples:
                connection.execute(worker_samples.insert(), samples)
                rollups.add_samples(connection, samples)

    def mark_orphaned(self, hostname: str, at: float) -> int:
        """The tasks running on a worker that went offline (at `at`) are orphaned then:
        those STARTED on it and not orphaned yet. The column stays set whatever the task
        does next, since the writer's merge keeps what it loads. Returns how many it marked."""
        with self.engine.begin() as connection:
            return connection.execute(orphaning(hostname, at)).rowcount

    def retention_cutoff(self, max_age: float, max_tasks: int, now: float) -> float:
        """The received time before which tasks go: older than `max_age` seconds, or beyond
        the newest `max_tasks`. A read only (the collector's writer does the deleting)."""
        cutoff = now - max_age
        query = (select(tasks.c.received).where(tasks.c.received.is_not(None))
                 .order_by(tasks.c.received.desc()).offset(max_tasks).limit(1))
        with self.engine.connect() as connection:
            beyond = connection.execute(query).scalar()
        return cutoff if beyond is None else max(cutoff, beyond + 1e-6)

    def prune(self, received_before: float, batch: int) -> int:
        """Delete up to `batch` tasks received before the cutoff (and worker and queue
        samples older than it), oldest first; return how many tasks went. Small batches
        keep each transaction short, so ingestion never waits long."""
        doomed = (select(tasks.c.uuid, *(tasks.c[column] for column in rollups.COLUMNS))
                  .where(tasks.c.received < received_before)
                  .order_by(tasks.c.received).limit(batch))
        with self.engine.begin() as connection:
            found = connection.execute(doomed).all()
            changes = rollups.RollupChanges()
            for _uuid, *values in found:
                changes.add(dict(zip(rollups.COLUMNS, values)), -1)
            deleted = 0
            for start in range(0, len(found), _SELECT_CHUNK):
                chunk = [row[0] for row in found[start:start + _SELECT_CHUNK]]
                deleted += connection.execute(
                    tasks.delete().where(tasks.c.uuid.in_(chunk))).rowcount
            rollups.apply(connection, changes)
            connection.execute(worker_samples.delete().where(
                worker_samples.c.timestamp < received_before))
            rollups.prune_samples(connection, received_before)
            connection.execute(queue_samples.delete().where(
                queue_samples.c.timestamp < received_before))
        return deleted

    # -- the readers' side -------------------------------------------------------------

    def quarantined(self, limit: int, before_id: int | None = None) -> list[dict[str, Any]]:
        """Quarantined events, newest first, `limit` at most, below `before_id` (keyset)."""
        query = select(quarantine).order_by(quarantine.c.id.desc()).limit(limit)
        if before_id is not None:
            query = query.where(quarantine.c.id < before_id)
        with self.engine.connect() as connection:
            return [row._asdict() for row in connection.execute(query)]

    def count_quarantined(self) -> int:
        with self.engine.connect() as connection:
            return connection.execute(select(func.count()).select_from(quarantine)).scalar_one()

    def workers(self) -> list[dict[str, Any]]:
        return list(self.load_workers().values())

    def task(self, uuid: str) -> dict[str, Any] | None:
        """The task with this id, as Celery knows it (a clipped long id is found too)."""
        key = clip_id(uuid)
        return self.load_tasks([key]).get(key)

    def children(self, uuid: str, limit: int = 1000) -> list[dict[str, Any]]:
        """Tasks whose parent is `uuid`, oldest first (at most `limit`)."""
        query = (select(tasks).where(tasks.c.parent_id == clip_id(uuid))
                 .order_by(tasks.c.received, tasks.c.sent).limit(limit))
        with self.engine.connect() as connection:
            return [row._asdict() for row in connection.execute(query)]

    def count_tasks(self) -> int:
        with self.engine.connect() as connection:
            return connection.execute(select(func.count()).select_from(tasks)).scalar_one()

    def worker_samples(self, hostname: str, since: float) -> list[dict[str, Any]]:
        """A worker's samples (active, processed, load1) from `since` on, oldest first."""
        query = (select(worker_samples.c.timestamp, worker_samples.c.active,
                        worker_samples.c.processed, worker_samples.c.load1)
                 .where(worker_samples.c.hostname == hostname,
                        worker_samples.c.timestamp >= since)
                 .order_by(worker_samples.c.timestamp))
        with self.engine.connect() as connection:
            return [row._asdict() for row in connection.execute(query)]

    def worker(self, hostname: str) -> dict[str, Any] | None:
        with self.engine.connect() as connection:
            row = connection.execute(select(workers).where(workers.c.hostname == hostname)).first()
        return row._asdict() if row else None

    def count_states_since(self, since: float, states: Sequence[str]) -> dict[str, int]:
        """How many tasks entered each of `states` at or after `since` (epoch seconds)."""
        query = (
            select(tasks.c.state, func.count())
            .where(tasks.c.state.in_(states), tasks.c.timestamp >= since)
            .group_by(tasks.c.state)
        )
        with self.engine.connect() as connection:
            counts: dict[str, int] = dict(connection.execute(query).all())
        return {state: counts.get(state, 0) for state in states}

    # -- queue depth -------------------------------------------------------------------

    def write_queue_samples(self, samples: Iterable[dict[str, Any]]) -> None:
        """Append queue samples ({queue, timestamp, messages} and optionally latency_seconds,
        latency_source, priorities: a list, kept as JSON) in one transaction.

        The collector's queue sampler calls this from its own thread, beside the event
        writer: a few rows every few seconds in a transaction of a millisecond or so.
        SQLite takes one writer at a time and each waits its turn (busy_timeout), so the
        two never fail each other and the event writer loses at most that millisecond;
        PostgreSQL takes both at once.
        """
        samples = [{**sample, "priorities": json.dumps(sample["priorities"])}
                   if sample.get("priorities") is not None else sample for sample in samples]
        if samples:
            with self.engine.begin() as connection:
                connection.execute(queue_samples.insert(), samples)

    def queue_samples(self, queues: Sequence[str] | None, since: float,
                      until: float | None = None,
                      bucket_seconds: int | None = None) -> list[dict[str, Any]]:
        """Samples {queue, timestamp, messages, latency_seconds} with since <= timestamp <
        until (no `until`: up to now), by queue then time; `queues` None means every queue.

        With `bucket_seconds` the database aggregates: one row per queue and bucket, the
        timestamp being the bucket's start, messages and latency their peaks. Either is None
        where it could not be told (the whole bucket, when aggregated).
        """
        timestamp = queue_samples.c.timestamp
        conditions = [timestamp >= since]
        if until is not None:
            conditions.append(timestamp < until)
        if queues is not None:
            conditions.append(queue_samples.c.queue.in_(list(queues)))
        if bucket_seconds:
            bucket: ColumnElement[Any]
            if self.engine.dialect.name == "sqlite":
                bucket = func.cast(timestamp / bucket_seconds, Integer)  # truncates: t > 0
            else:
                bucket = func.floor(timestamp / bucket_seconds)
            query = (select(queue_samples.c.queue, bucket.label("bucket"),
                            func.max(queue_samples.c.messages).label("messages"),
                            func.max(queue_samples.c.latency_seconds).label("latency"))
                     .where(*conditions).group_by(queue_samples.c.queue, bucket)
                     .order_by(queue_samples.c.queue, bucket))
            with self.engine.connect() as connection:
                return [{"queue": queue, "timestamp": float(number) * bucket_seconds,
                         "messages": messages, "latency_seconds": latency}
                        for queue, number, messages, latency in connection.execute(query)]
        query = (select(queue_samples.c.queue, timestamp, queue_samples.c.messages,
                        queue_samples.c.latency_seconds)
                 .where(*conditions).order_by(queue_samples.c.queue, timestamp))
        with self.engine.connect() as connection:
            return [row._asdict() for row in connection.execute(query)]

    def latest_queue_samples(self, since: float) -> list[dict[str, Any]]:
        """Each queue's newest sample taken at or after `since`, by queue, with its latency."""
        newest = (select(queue_samples.c.queue, func.max(queue_samples.c.timestamp).label("at"))
                  .where(queue_samples.c.timestamp >= since)
                  .group_by(queue_samples.c.queue).subquery())
        query = (select(queue_samples.c.queue, queue_samples.c.timestamp,
                        queue_samples.c.messages, queue_samples.c.latency_seconds,
                        queue_samples.c.latency_source, queue_samples.c.priorities)
                 .join(newest, and_(queue_samples.c.queue == newest.c.queue,
                                    queue_samples.c.timestamp == newest.c.at))
                 .order_by(queue_samples.c.queue))
        with self.engine.connect() as connection:
            rows = [row._asdict() for row in connection.execute(query)]
        for row in rows:
            row["priorities"] = json.loads(row["priorities"]) if row["priorities"] else None
        return rows
