"""Flower's `GET /api/tasks?limit=100` with a filter, over 1,000,000 stored tasks.

Each request goes through the real Flask app (routing, parameter parsing and validation,
the SQL page, Flower's task shape, JSON) with the test client; the figures are the median
and 95th percentile per filter over --requests requests, after a few warm-up requests.
`/api/task/types` and `/api/task/info/<id>` are timed alongside.

The store is bench/task_history.py's: an SQLite file with --tasks tasks (20 names, 50
workers, 10% failures, spread over 7 days). An existing one at --db is copied (SQLite's
backup API, so a process using it does not matter) into a temporary directory; without
one, a fresh store is generated there (about a minute).

Run:  python bench/api_tasks.py [--requests 200] [--db /tmp/scope-bench-1m.db]
"""
from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from task_history import NAMES, WORKERS, generate

from celery_scope import create_app
from celery_scope.config import resolve
from celery_scope.services import Services
from celery_scope.store.history import HistoryStore

LIMIT = 100
WARM_UP = 5  # requests per filter before timing


def task_count(path: str) -> int | None:
    if not os.path.exists(path):
        return None
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return source.execute("SELECT count(*) FROM tasks").fetchone()[0]
    except sqlite3.Error:
        return None
    finally:
        source.close()


def prepare_store(source: str, tasks: int, directory: str) -> str:
    """A private copy of the benchmark store (or a freshly generated one)."""
    target = os.path.join(directory, "history.db")
    if task_count(source) == tasks:
        started = time.perf_counter()
        reader = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        writer = sqlite3.connect(target)
        reader.backup(writer)
        reader.close()
        writer.close()
        print(f"copied {tasks:,} tasks from {source} in {time.perf_counter() - started:.0f} s")
    else:
        store = HistoryStore(f"sqlite:///{target}")
        started = time.perf_counter()
        generate(store, tasks, time.time())
        store.close()
        print(f"generated {tasks:,} tasks in {time.perf_counter() - started:.0f} s")
    return f"sqlite:///{target}"


def timings(client, path: str, params: dict, requests: int, expect_rows: bool) -> list[float]:
    seconds = []
    for number in range(WARM_UP + requests):
        started = time.perf_counter()
        response = client.get(path, query_string=params)
        body = response.get_json()
        elapsed = time.perf_counter() - started
        if response.status_code != 200 or (expect_rows and len(body) != LIMIT):
            raise SystemExit(f"{path} {params}: HTTP {response.status_code}, "
                             f"{response.data[:200]!r}")
        if number >= WARM_UP:
            seconds.append(elapsed)
    return seconds


def describe(label: str, seconds: list[float]) -> str:
    p95 = statistics.quantiles(seconds, n=20)[-1]
    return (f"{label}: median {statistics.median(seconds) * 1000:.1f} ms, "
            f"p95 {p95 * 1000:.1f} ms ({len(seconds)} requests)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--db", default=os.path.join(tempfile.gettempdir(), "scope-bench-1m.db"))
    parser.add_argument("--requests", type=int, default=200)
    options = parser.parse_args()
    directory = tempfile.mkdtemp(prefix="bench-api-")
    try:
        url = prepare_store(options.db, options.tasks, directory)
        settings = resolve({"broker": "redis://127.0.0.1:1/0", "store": url,
                            "cache_dir": os.path.join(directory, "cache")}, environ={})
        services = Services.open(settings)
        client = create_app(settings, services).server.test_client()
        with services.store.engine.connect() as connection:
            newest = connection.exec_driver_sql("SELECT max(received) FROM tasks").scalar()
            some_id = connection.exec_driver_sql("SELECT uuid FROM tasks LIMIT 1").scalar()

        def local(moment: float) -> str:  # Flower's received_start format, server local time
            return datetime.fromtimestamp(moment).strftime("%Y-%m-%d %H:%M")

        filters = {
            "state=FAILURE": {"state": "FAILURE"},
            "taskname": {"taskname": NAMES[3]},
            "workername": {"workername": WORKERS[7]},
            "state=SUCCESS,FAILURE (a list)": {"state": "SUCCESS,FAILURE"},
            "received_start/received_end (last day)": {
                "received_start": local(newest - 86400), "received_end": local(newest)},
            "taskname + state=FAILURE": {"taskname": NAMES[3], "state": "FAILURE"},
            "workername, sort_by=-started": {"workername": WORKERS[7], "sort_by": "-started"},
            "none": {},
        }
        print(f"GET /api/tasks?limit={LIMIT} over {services.store.count_tasks():,} tasks, "
              "through the Flask app:")
        for label, params in filters.items():
            seconds = timings(client, "/api/tasks", {"limit": LIMIT, **params},
                              options.requests, expect_rows=True)
            print("  " + describe(f"filter {label}", seconds))
        deep = timings(client, "/api/tasks", {"limit": LIMIT, "offset": 5000, "state": "FAILURE"},
                       options.requests, expect_rows=True)
        print("  " + describe("filter state=FAILURE, offset=5000", deep))
        print(describe("GET /api/task/types", timings(client, "/api/task/types", {},
                                                          options.requests, False)))
        print(describe("GET /api/task/info/<id>", timings(client, f"/api/task/info/{some_id}", {},
                                                              options.requests, False)))
        services.close()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
