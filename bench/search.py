"""Free-text search benchmark: the first 100 matches, scanned and then through the index.

Seeds (bench/seed.py) --tasks tasks with realistic args, kwargs and results, gives a few of
them a rare word, then, through what the grid and /api/tasks run (tasks.queries.page with a
parsed filter, first 100 rows by received time):

* before: the store without its search index (searches scan);
* the index build over the existing tasks (store/search_index.py: ensure_search_index and
  its background thread, timed to the end), and the index's size;
* after: the same searches through the index, with the same answers;
* the writer's cost, measured first without the index and last with it (on SQLite with
  the queue indexed as it goes, in this process, as the collector would): HistoryStore.write
  of task lifecycles (received, started, then succeeded with a result: three upserts per
  task, in batches as the collector writes them), rows/s.

Words: one in 5 tasks (rare), one in ~100 per million (`customer-4242`), one in every task
(common), two-character ones (no trigram: scanned either way), one found nowhere.
Figures are the median and p95 of --runs runs; the machine may be shared (the load average
is printed): rerun to compare.

Run:  python bench/search.py --store sqlite --tasks 1000000
      python bench/search.py --store postgresql --tasks 1000000   (a private server)
      python bench/search.py --store postgresql://user@host/db --tasks 1000000
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from seed import seed_postgresql, seed_sqlite  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from celery_scope.store.history import HistoryStore  # noqa: E402
from celery_scope.store.schema import TASK_COLUMNS, tasks  # noqa: E402
from celery_scope.store.search_index import (  # noqa: E402
    FTS_TABLE,
    PG_INDEX,
    ensure_search_index,
    index_pending,
    index_ready,
    stop_search_index,
)
from celery_scope.tasks import queries  # noqa: E402
from celery_scope.tasks.filters import parse_filter  # noqa: E402
from tests.helpers import PostgresServer  # noqa: E402

RARE = "zebrafish"  # given to RARE_TASKS tasks after seeding
RARE_TASKS = 5
WORDS = {"rare (5 tasks)": RARE, "customer-4242 (~1e-4)": "customer-4242",
         "common (every task)": "priority", "2 chars, common": "ba", "2 chars, nowhere": "zq",
         "nowhere": "nowhere-to-be-found"}
WRITE_TASKS = 20_000  # tasks per writer measure
WRITE_BATCH = 500  # rows per HistoryStore.write, as a busy collector's batch


def timed(action, runs: int) -> tuple[float, float, object]:
    """(median ms, p95 ms, last result) of `runs` calls."""
    spent, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = action()
        spent.append((time.perf_counter() - started) * 1000)
    spent.sort()
    p95 = spent[min(len(spent) - 1, round(0.95 * (len(spent) - 1)))]
    return statistics.median(spent), p95, result


def first_page(store: HistoryStore, word: str) -> list[str]:
    task_filter = parse_filter({"search": word})
    return [row["uuid"] for row in queries.page(store.engine, task_filter, 0, 100)]


def searches(store: HistoryStore, runs: int) -> dict[str, tuple[float, float, list[str]]]:
    figures = {}
    for label, word in WORDS.items():
        median, p95, found = timed(lambda w=word: first_page(store, w), runs)
        figures[label] = (median, p95, found)
        print(f"    {label:24} {median:8.1f} ms median {p95:8.1f} ms p95  "
              f"{len(found)} rows", flush=True)
    return figures


def mark_rare(store: HistoryStore) -> None:
    """Put the rare word in the results of RARE_TASKS tasks spread over the history."""
    with store.engine.begin() as connection:
        total = connection.execute(select(func.count()).select_from(tasks)).scalar_one()
        for number in range(RARE_TASKS):
            offset = (2 * number + 1) * total // (2 * RARE_TASKS)
            chosen = connection.execute(select(tasks.c.uuid).order_by(tasks.c.uuid)
                                        .offset(offset).limit(1)).scalar_one()
            connection.execute(tasks.update().where(tasks.c.uuid == chosen)
                               .values(result=f"{{'note': 'a {RARE} swam by'}}"))


def lifecycle_rows(count: int, start: float) -> list[list[dict]]:
    """Each task's received, started and succeeded rows, as the writer's merge makes them."""
    steps: list[list[dict]] = [[], [], []]
    for number in range(count):
        at = start + number * 0.001
        row = dict.fromkeys(TASK_COLUMNS)
        row.update(uuid=str(uuid.uuid4()), name="app.tasks.bench_write", state="RECEIVED",
                   timestamp=at, worker="bench@host", queue="celery", received=at,
                   args=f"({number}, 'customer-{number % 9973}')",
                   kwargs=f"{{'priority': {number % 10}, 'note': 'batch {number // 1000}'}}")
        steps[0].append(row)
        row = {**row, "state": "STARTED", "timestamp": at + 0.1, "started": at + 0.1}
        steps[1].append(row)
        steps[2].append({**row, "state": "SUCCESS", "timestamp": at + 0.3,
                         "succeeded": at + 0.3, "runtime": 0.2,
                         "result": f"{{'rows': {number % 5000}}}"})
    return steps


def write_rate(store: HistoryStore, runs: int) -> float:
    """Median upserted rows/s of the writer over `runs` measures of WRITE_TASKS tasks."""
    rates = []
    for _ in range(runs):
        steps = lifecycle_rows(WRITE_TASKS, time.time())
        started = time.perf_counter()
        for first in range(0, WRITE_TASKS, WRITE_BATCH // 3):  # a batch holds all three steps
            last = first + WRITE_BATCH // 3
            for step in steps:
                store.write(step[first:last])
        rates.append(3 * WRITE_TASKS / (time.perf_counter() - started))
    return statistics.median(rates)


def index_megabytes(store: HistoryStore) -> float:
    with store.engine.connect() as connection:
        if store.engine.dialect.name == "sqlite":
            pages = connection.exec_driver_sql(
                "SELECT sum(pgsize) FROM dbstat WHERE name LIKE ?", (f"{FTS_TABLE}%",)).scalar()
            return (pages or 0) / 2**20
        return connection.exec_driver_sql(
            "SELECT pg_relation_size(%(name)s::regclass)", {"name": PG_INDEX}).scalar() / 2**20


def bench(url: str, count: int, runs: int, seed) -> None:
    print(f"seeding {count:,} tasks ({url})", flush=True)
    seed(count)
    store = HistoryStore(url)
    try:
        mark_rare(store)
        if store.engine.dialect.name == "postgresql":
            with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                c.exec_driver_sql("VACUUM ANALYZE tasks")
        rate_before = write_rate(store, max(3, runs // 2))
        print(f"  writer without the index: {rate_before:,.0f} rows/s", flush=True)
        print(f"  before (scan), load {os.getloadavg()[0]:.1f}:", flush=True)
        before = searches(store, runs)
        started = time.perf_counter()
        building = ensure_search_index(store.engine)
        opened = time.perf_counter() - started
        if building is not None:
            building.join()
        built = time.perf_counter() - started
        assert index_ready(store.engine)
        print(f"  index: built in {built:.1f} s (the store opened after {opened:.1f} s), "
              f"{index_megabytes(store):.0f} MB", flush=True)
        print(f"  after (index), load {os.getloadavg()[0]:.1f}:", flush=True)
        after = searches(store, runs)
        if store.engine.dialect.name == "sqlite":  # what the first run of the indexer does
            print(f"  queue indexed in {timed(lambda: index_pending(store.engine), 1)[0]:.0f} ms",
                  flush=True)
        different = [label for label in WORDS if before[label][2] != after[label][2]]
        if different:
            raise SystemExit(f"the index answered differently: {', '.join(different)}")
        rate_after = write_rate(store, max(3, runs // 2))
        print(f"  writer with the index: {rate_after:,.0f} rows/s "
              f"({rate_after / rate_before - 1:+.0%})", flush=True)
    finally:
        stop_search_index(store.engine)
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", default="sqlite",
                        help="sqlite, postgresql (a private server) or a PostgreSQL URL")
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    end = time.time()
    if args.store == "sqlite":
        with tempfile.TemporaryDirectory(prefix="scope-search-") as folder:
            path = os.path.join(folder, "history.db")
            bench(f"sqlite:///{path}", args.tasks, args.runs,
                  lambda count: seed_sqlite(path, count, end))
        return
    server = PostgresServer(fast=False).start() if args.store == "postgresql" else None
    try:
        url = server.create_database("search") if server else args.store
        bench(url, args.tasks, args.runs, lambda count: seed_postgresql(url, count, end))
    finally:
        if server:
            server.close()


if __name__ == "__main__":
    main()
