"""The bulk retry's dry run (`GET /api/tasks/retry?filter=state=FAILURE`) over 1,000,000
stored tasks with about 100,000 failures, on SQLite and PostgreSQL. Target: < 1 s.

Each request goes through the real Flask app (routing, the filter, the SQL stream of every
matching row with its retry link, the round-trip rule for each args/kwargs text, JSON).
The store is bench/task_history.py's (20 names, 50 workers, 10% failures with distinct
args, over 7 days). Timed cold (a fresh process's first request: every text checked) and
warm (the cached verdicts: kwargs texts and those that needed parsing); also a selection of
10,000 ids. Wall and CPU seconds: on a shared machine the CPU figure is the steadier one.

Measured (2 shared, busy cores; 1M tasks, 100,120 failures), wall (CPU) seconds, before ->
after reading driver tuples and caching only the verdicts worth caching:
SQLite     cold 2.0-5.6 (2.1-2.3) -> 0.5-1.7 (0.5-0.8), warm 1.9-3.2 (2.0-2.2) -> 0.4-1.0 (0.4-0.7)
PostgreSQL cold 2.2-5.2 (1.6-1.9) -> 1.1-2.0 (0.4-0.5), warm 2.2-3.7 (1.5-1.9) -> 0.8-1.3 (0.3)
PostgreSQL's own share (a bitmap heap scan of the failures' 34k pages, ~0.46 s quiet) is
most of what is left there.

Run:  python bench/dry_run.py [--tasks 1000000] [--store sqlite|postgresql|both] [--runs 3]
      [--db /tmp/scope-dry-run.db]   (an SQLite store kept and reused across runs)
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from task_history import generate

from celery_scope import create_app
from celery_scope.bulk import roundtrip
from celery_scope.config import resolve
from celery_scope.services import Services
from celery_scope.store.history import HistoryStore


def timed(client, path: str, **kwargs) -> tuple[tuple[float, float], dict]:
    """(wall, CPU) seconds of one request, and its answer: on a shared machine the CPU
    seconds are the steadier figure."""
    started, cpu = time.perf_counter(), time.process_time()
    response = client.open(path, **kwargs)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return (seconds, cpu), response.get_json()


def shown(seconds: tuple[float, float]) -> str:
    return f"{seconds[0]:.2f} s ({seconds[1]:.2f} s CPU)"


def bench(url: str, directory: str, runs: int) -> None:
    settings = resolve({"broker": "redis://127.0.0.1:1/0", "store": url,
                        "cache_dir": os.path.join(directory, "cache")}, environ={})
    services = Services.open(settings)
    client = create_app(settings, services).server.test_client()
    assert client.get("/healthcheck").status_code == 200  # the app's first-request setup
    with services.store.engine.connect() as connection:
        ids = [uuid for (uuid,) in connection.exec_driver_sql(
            "SELECT uuid FROM tasks WHERE state = 'FAILURE' LIMIT 10000")]
    print(f"{services.store.engine.dialect.name}: {services.store.count_tasks():,} tasks")
    path = "/api/tasks/retry?filter=state%3DFAILURE"
    roundtrip._verdict.cache_clear()
    cold, answer = timed(client, path)
    print(f"  dry run, filter state=FAILURE, cold: {shown(cold)} "
          f"(matched {answer['matched']:,}, eligible {answer['eligible']:,}, "
          f"refused {answer['refused_count']:,})")
    warm = sorted(timed(client, path)[0] for _ in range(runs))
    print(f"  dry run, filter state=FAILURE, warm: median {shown(warm[len(warm) // 2])} "
          f"(all: {', '.join(shown(each) for each in warm)})")
    roundtrip._verdict.cache_clear()
    seconds, answer = timed(client, "/api/tasks/retry", method="POST",
                            json={"ids": ids, "dry_run": True})
    print(f"  dry run, {len(ids):,} ids, cold: {shown(seconds)} (eligible {answer['eligible']:,})")
    services.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--store", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--db", help="an SQLite file to keep (generated if absent)")
    options = parser.parse_args()
    directory = tempfile.mkdtemp(prefix="bench-dry-run-")
    urls = []
    if options.store in ("sqlite", "both"):
        urls.append(f"sqlite:///{options.db or directory + '/history.db'}")
    server = None
    if options.store in ("postgresql", "both"):
        from tests.helpers import PostgresServer
        server = PostgresServer(fast=False).start()
        urls.append(server.create_database("bench"))
    try:
        for url in urls:
            store = HistoryStore(url)
            if not store.count_tasks():
                started = time.perf_counter()
                generate(store, options.tasks, time.time())
                print(f"generated {options.tasks:,} tasks in "
                      f"{time.perf_counter() - started:.0f} s")
            store.close()
            bench(url, directory, options.runs)
    finally:
        if server is not None:
            server.close()
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
