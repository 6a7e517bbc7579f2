"""How soon a finished task can be read back: from the moment the client learns a real
worker finished it (its result arrives) to the moment `/api/task/info/<id>` says SUCCESS.

Against a real redis-server, a real `celery worker -E` and a real `celery-scope` process,
--tasks tasks are sent one at a time by --probes threads; each polls the API every 5 ms
once its result is in. Prints p50, p95, p99 and max in milliseconds.

Run:  python bench/visibility_latency.py [--tasks 2000] [--store sqlite|postgresql]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from celery import Celery

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.helpers import (  # noqa: E402
    PostgresServer,
    RedisServer,
    Scope,
    start_worker,
    stop_process,
)


def state_of(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return json.loads(response.read()).get("state")
    except urllib.error.HTTPError:
        return None  # not stored yet


def probe(app: Celery, scope: Scope, count: int, delays: list[float]) -> None:
    for _ in range(count):
        result = app.send_task("cluster.add", args=(1, 2))
        result.get(timeout=30)
        finished = time.perf_counter()
        url = f"{scope.url}/api/task/info/{result.id}"
        while state_of(url) != "SUCCESS":
            time.sleep(0.005)
        delays.append(time.perf_counter() - finished)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--probes", type=int, default=4)
    parser.add_argument("--store", choices=["sqlite", "postgresql"], default="sqlite")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        directory = Path(folder)
        redis_server = RedisServer(directory).start()
        postgres = PostgresServer(fast=False) if options.store == "postgresql" else None
        store = None
        if postgres is not None:
            postgres.start()
            store = postgres.create_database("latency")
        worker = start_worker(redis_server.url, "latency@bench", directory, concurrency=2)
        scope = Scope(directory, redis_server.url, store=store).start()
        app = Celery("client", broker=redis_server.url, backend=redis_server.url,
                     set_as_current=False)
        delays: list[float] = []
        try:
            threads = [threading.Thread(target=probe, args=(app, scope,
                                                            options.tasks // options.probes,
                                                            delays))
                       for _ in range(options.probes)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        finally:
            app.close()
            scope.stop()
            stop_process(worker)
            redis_server.stop()
            if postgres is not None:
                postgres.close()
    milliseconds = sorted(delay * 1000 for delay in delays)
    quantiles = statistics.quantiles(milliseconds, n=100)
    print(f"{options.store}: {len(milliseconds)} tasks, result → visible in /api/task/info: "
          f"p50 {quantiles[49]:.0f} ms, p95 {quantiles[94]:.0f} ms, "
          f"p99 {quantiles[98]:.0f} ms, max {milliseconds[-1]:.0f} ms")


if __name__ == "__main__":
    main()
