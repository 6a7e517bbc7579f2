"""`GET /api/workers?refresh=1&workername=…` over HTTP: ask one worker, answer with its data.

Against a real redis-server, --workers real `celery worker -E` processes and a real
`celery-scope` process on SQLite or PostgreSQL, the route is called --rounds times for
one worker (a different one each round), after a warm-up round each. Each call makes the
Inspector ask that worker its eight questions and merge the replies before answering.
Prints the median, p95 and worst wall time in milliseconds, as a client sees it.

Run:  python bench/api_workers_refresh.py [--rounds 60] [--workers 4] [--store sqlite|postgresql]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.helpers import (  # noqa: E402
    PostgresServer,
    RedisServer,
    Scope,
    start_worker,
    stop_process,
    wait_until,
)


def fetch(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def timed_refresh(scope: Scope, worker: str) -> float:
    """One call's wall time; the answer must carry the worker's fresh stats."""
    started = time.perf_counter()
    answer = fetch(f"{scope.url}/api/workers?refresh=1&workername={worker}")
    elapsed = time.perf_counter() - started
    if "stats" not in answer.get(worker, {}):
        raise SystemExit(f"{worker} did not answer: {answer}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--store", choices=["sqlite", "postgresql"], default="sqlite")
    options = parser.parse_args()
    names = [f"refresh{number}@bench" for number in range(options.workers)]
    with tempfile.TemporaryDirectory() as folder:
        directory = Path(folder)
        redis_server = RedisServer(directory).start()
        postgres = PostgresServer(fast=False) if options.store == "postgresql" else None
        store = None
        if postgres is not None:
            postgres.start()
            store = postgres.create_database("refresh")
        workers = [start_worker(redis_server.url, name, directory, concurrency=1)
                   for name in names]
        scope = Scope(directory, redis_server.url, store=store).start()
        try:
            wait_until(lambda: set(names) <= set(fetch(f"{scope.url}/api/workers?status=1")),
                       60, "every worker's heartbeat")
            for name in names:
                timed_refresh(scope, name)
            times = [timed_refresh(scope, names[round_ % len(names)]) * 1000
                     for round_ in range(options.rounds)]
        finally:
            scope.stop()
            for worker in workers:
                stop_process(worker)
            redis_server.stop()
            if postgres is not None:
                postgres.close()
    times.sort()
    p95 = statistics.quantiles(times, n=20)[-1]
    print(f"{options.store}: /api/workers?refresh=1&workername=… with {options.workers} "
          f"workers, {len(times)} calls: median {statistics.median(times):.1f} ms, "
          f"p95 {p95:.1f} ms, worst {times[-1]:.1f} ms")


if __name__ == "__main__":
    main()
