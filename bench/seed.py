"""Big benchmark stores, seeded fast: millions of finished tasks on SQLite or PostgreSQL.

The tasks look like bench/task_history.py's (its names, workers, queues and traceback; 10%
failures with their issue fingerprint, 3% retried, received times spread evenly over the
7 days before `end`), plus the 50 workers' rows and a week of their samples every 10 s as
bench/explore.py adds them. Going through the collector's upsert would take hours at 10M
rows, so the rows are written straight into the tables the store made: the task indexes
(and the samples') are dropped first and built once at the end (a sort instead of millions of B-tree
inserts), SQLite without a journal or fsync while it loads, PostgreSQL by COPY.
"""
from __future__ import annotations

import random
import sqlite3
import sys
import time
from collections.abc import Iterator
from typing import Any

import psycopg
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.schema import CreateIndex
from task_history import DAY, NAMES, QUEUES, TRACEBACK, WORKERS

from celery_scope.store.fingerprint import fingerprint
from celery_scope.store.history import HistoryStore
from celery_scope.store.schema import TASK_COLUMNS, WORKER_COLUMNS, tasks, worker_samples

BATCH = 50_000  # rows per insert batch
SAMPLE_EVERY = 10.0  # seconds between two samples of a worker
EXCEPTION = "ValueError('bad input')"
_AT = {name: index for index, name in enumerate(TASK_COLUMNS)}


def task_batches(count: int, end: float) -> Iterator[list[tuple]]:
    """The tasks as tuples in TASK_COLUMNS order, BATCH at a time."""
    rng = random.Random(42)
    issues = {name: fingerprint(name, EXCEPTION) for name in NAMES}
    empty: list[Any] = [None] * len(TASK_COLUMNS)
    batch: list[tuple] = []
    for number in range(count):
        received = end - 7 * DAY * (1 - number / count)
        name, failed = rng.choice(NAMES), rng.random() < 0.1
        runtime = rng.lognormvariate(-1.5, 1.0)
        started = received + rng.random() * 0.5
        finished = started + runtime
        row = empty.copy()
        row[_AT["uuid"]] = f"{number:08x}-0000-4000-8000-{rng.getrandbits(48):012x}"
        row[_AT["name"]], row[_AT["worker"]] = name, rng.choice(WORKERS)
        row[_AT["queue"]], row[_AT["routing_key"]] = rng.choice(QUEUES), "celery"
        row[_AT["args"]] = f"({rng.randint(0, 10**6)}, 'customer-{number % 9973}')"
        row[_AT["kwargs"]] = (f"{{'priority': {rng.randint(0, 9)}, "
                              f"'note': 'batch {number // 1000}'}}")
        row[_AT["retries"]] = 1 if rng.random() < 0.03 else 0
        row[_AT["sent"]], row[_AT["received"]] = received - 0.01, received
        row[_AT["started"]], row[_AT["runtime"]] = started, runtime
        row[_AT["timestamp"]] = finished
        if failed:
            row[_AT["state"]], row[_AT["failed"]] = "FAILURE", finished
            row[_AT["exception"]], row[_AT["traceback"]] = EXCEPTION, TRACEBACK
            row[_AT["issue"]] = issues[name]
        else:
            row[_AT["state"]], row[_AT["succeeded"]] = "SUCCESS", finished
            row[_AT["result"]] = f"{{'rows': {rng.randint(0, 5000)}}}"
        batch.append(tuple(row))
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def worker_rows(end: float) -> list[tuple]:
    """The 50 workers, online and heartbeating as of `end`, in WORKER_COLUMNS order."""
    rows = []
    for number, hostname in enumerate(WORKERS):
        row: dict[str, Any] = dict.fromkeys(WORKER_COLUMNS)
        row.update(hostname=hostname, status="online", first_seen=end - 7 * DAY,
                   last_heartbeat=end, freq=2.0, pid=1000 + number, sw_ident="py-celery",
                   sw_ver="5.7.0", sw_sys="Linux", active=number % 4, processed=20000 + number,
                   load1=0.5, load5=0.5, load15=0.5, succeeded=18000, failed=2000, retried=600)
        rows.append(tuple(row[column] for column in WORKER_COLUMNS))
    return rows


def sample_batches(end: float) -> Iterator[list[tuple]]:
    """(hostname, timestamp, active, processed, load1): a week of samples per worker."""
    steps = int(7 * DAY / SAMPLE_EVERY)
    for first in range(0, steps, 1000):
        yield [(worker, end - 7 * DAY + step * SAMPLE_EVERY, (step + number) % 9, step,
                0.5 + ((step * 7 + number) % 40) / 10)
               for step in range(first, min(steps, first + 1000))
               for number, worker in enumerate(WORKERS)]


BULK_INDEXES = (*tasks.indexes, *worker_samples.indexes)  # dropped while the rows load


def _index_sql(dialect) -> list[str]:
    return [str(CreateIndex(index).compile(dialect=dialect)) for index in BULK_INDEXES]


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)  # stdout is the benchmark's table


def seed_sqlite(path: str, count: int, end: float) -> None:
    """Fill a new SQLite store at `path` with `count` tasks ending at `end`."""
    HistoryStore(f"sqlite:///{path}").close()  # the schema, as the application makes it
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=OFF")  # seeding only: a crash means seed again
    connection.execute("PRAGMA synchronous=OFF")
    connection.execute("PRAGMA cache_size=-262144")  # 256 MiB for the index sorts
    for index in BULK_INDEXES:
        connection.execute(f"DROP INDEX IF EXISTS {index.name}")
    marks = ", ".join("?" * len(TASK_COLUMNS))
    insert = f"INSERT INTO tasks ({', '.join(TASK_COLUMNS)}) VALUES ({marks})"
    started = time.perf_counter()
    for number, batch in enumerate(task_batches(count, end), 1):
        connection.execute("BEGIN")
        connection.executemany(insert, batch)
        connection.execute("COMMIT")
        if number % 40 == 0:
            _say(f"  sqlite: {number * BATCH:,} tasks in {time.perf_counter() - started:.0f} s")
    connection.execute("BEGIN")
    connection.executemany(f"INSERT INTO workers ({', '.join(WORKER_COLUMNS)}) VALUES "
                           f"({', '.join('?' * len(WORKER_COLUMNS))})", worker_rows(end))
    for batch in sample_batches(end):
        connection.executemany("INSERT INTO worker_samples (hostname, timestamp, active, "
                               "processed, load1) VALUES (?, ?, ?, ?, ?)", batch)
    connection.execute("COMMIT")
    _say(f"  sqlite: rows in {time.perf_counter() - started:.0f} s; building the indexes")
    for statement in _index_sql(sqlite.dialect()):
        connection.execute(statement)
    connection.close()
    HistoryStore(f"sqlite:///{path}").close()  # back to WAL; nothing left to add
    _say(f"  sqlite: seeded in {time.perf_counter() - started:.0f} s")


def seed_postgresql(url: str, count: int, end: float) -> None:
    """Fill a new PostgreSQL store at `url` with `count` tasks ending at `end`."""
    HistoryStore(url).close()
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("SET maintenance_work_mem = '512MB'")
        for index in BULK_INDEXES:
            connection.execute(f"DROP INDEX IF EXISTS {index.name}")
        with connection.cursor() as cursor:
            with cursor.copy(f"COPY tasks ({', '.join(TASK_COLUMNS)}) FROM STDIN") as copy:
                for number, batch in enumerate(task_batches(count, end), 1):
                    for row in batch:
                        copy.write_row(row)
                    if number % 40 == 0:
                        _say(f"  postgresql: {number * BATCH:,} tasks in "
                             f"{time.perf_counter() - started:.0f} s")
            with cursor.copy(f"COPY workers ({', '.join(WORKER_COLUMNS)}) FROM STDIN") as copy:
                for row in worker_rows(end):
                    copy.write_row(row)
            with cursor.copy("COPY worker_samples (hostname, timestamp, active, processed, "
                             "load1) FROM STDIN") as copy:
                for batch in sample_batches(end):
                    for row in batch:
                        copy.write_row(row)
        _say(f"  postgresql: rows in {time.perf_counter() - started:.0f} s; building the indexes")
        for statement in _index_sql(postgresql.dialect()):
            connection.execute(statement)
        # what autovacuum does on its own after a bulk insert: statistics and visibility map
        connection.execute("VACUUM ANALYZE")
    HistoryStore(url).close()
    _say(f"  postgresql: seeded in {time.perf_counter() - started:.0f} s")
