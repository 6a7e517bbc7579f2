"""`GET /api/issues` over 1,000,000 stored tasks holding 100,000 failures, on SQLite and
PostgreSQL (target: under 1 s).

The failures come in 40 kinds (4 task names x 10 messages, each message with a varying
id or number, so 100,000 distinct exception texts fold into 40 issues); a fifth of them
recovered after a retry. Rows carry the fingerprint the merge rules write. Each request
goes through the real Flask app with the test client; the figures are the median and 95th
percentile per window over --requests requests, after warm-up requests.

Run:  python bench/issues.py [--tasks 1000000] [--requests 20] [--backend sqlite|postgresql|both]
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from celery_scope import create_app
from celery_scope.config import resolve
from celery_scope.services import Services
from celery_scope.store.fingerprint import fingerprint
from celery_scope.store.history import HistoryStore
from celery_scope.store.merge import new_task_row
from tests.helpers import PostgresServer

DAY = 86400.0
NAMES = [f"app.tasks.job_{number}" for number in range(20)]
FAILING = NAMES[:4]
MESSAGES = ["order {} not found", "payment {} declined", "timeout after {} s",
            "connection to 10.0.0.{} refused", "user {} has no plan", "row {} locked",
            "invoice {} already paid", "queue depth {} over limit", "shard {} offline",
            "cache key {} missing"]
WORKERS = [f"celery@worker-{number}" for number in range(50)]
WARM_UP = 3


def generate(store: HistoryStore, count: int, failures: int, end: float) -> None:
    rng = random.Random(15)
    every = count // failures
    batch = []
    for number in range(count):
        received = end - 7 * DAY * (1 - number / count)
        row = new_task_row(f"{number:08x}-0000-4000-8000-{rng.getrandbits(48):012x}")
        finished = received + rng.random()
        row.update(name=rng.choice(NAMES), worker=rng.choice(WORKERS), queue="celery",
                   received=received, started=received + 0.01, timestamp=finished,
                   runtime=finished - received, state="SUCCESS", succeeded=finished,
                   retries=0)
        if number % every == 0:
            name, message = rng.choice(FAILING), rng.choice(MESSAGES)
            varying = uuid.UUID(int=rng.getrandbits(128)) if "{}" in message[:6] else \
                rng.randint(1, 10**6)
            exception = f"ValueError('{message.format(varying)}')"
            row.update(name=name, exception=exception, issue=fingerprint(name, exception))
            if rng.random() < 0.2:  # recovered: retried once, then succeeded
                row.update(retried=received + 0.5, retries=1)
            else:
                row.update(state="FAILURE", failed=finished, succeeded=None)
        batch.append(row)
        if len(batch) == 20000:
            store.write(batch)
            batch = []
    store.write(batch)


def timings(client, params: dict, requests: int) -> tuple[list[float], dict]:
    seconds, body = [], {}
    for number in range(WARM_UP + requests):
        started = time.perf_counter()
        response = client.get("/api/issues", query_string=params)
        elapsed = time.perf_counter() - started
        body = response.get_json()
        if response.status_code != 200:
            raise SystemExit(f"/api/issues {params}: HTTP {response.status_code} {body}")
        if number >= WARM_UP:
            seconds.append(elapsed)
    return seconds, body


def run(url: str, options, directory: str) -> None:
    store = HistoryStore(url)
    started = time.perf_counter()
    generate(store, options.tasks, options.failures, time.time())
    store.close()
    print(f"  generated {options.tasks:,} tasks ({options.failures:,} failures) in "
          f"{time.perf_counter() - started:.0f} s")
    settings = resolve({"broker": "redis://127.0.0.1:1/0", "store": url,
                        "cache_dir": os.path.join(directory, "cache")}, environ={})
    services = Services.open(settings)
    client = create_app(settings, services).server.test_client()
    for label, params in {"range=24h": {"range": "24h"}, "range=7d": {"range": "7d"},
                          "range=all": {"range": "all"},
                          "range=7d, one task name": {"range": "7d", "name": FAILING[0]}}.items():
        seconds, body = timings(client, params, options.requests)
        p95 = statistics.quantiles(seconds, n=20)[-1] if len(seconds) > 1 else seconds[0]
        print(f"  GET /api/issues?{label}: median {statistics.median(seconds) * 1000:.0f} ms, "
              f"p95 {p95 * 1000:.0f} ms ({body['total_failures']:,} failures in "
              f"{body['total_issues']} issues)")
    services.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--failures", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    options = parser.parse_args()
    directory = tempfile.mkdtemp(prefix="bench-issues-")
    try:
        if options.backend in ("sqlite", "both"):
            print("SQLite:")
            run(f"sqlite:///{directory}/history.db", options, directory)
        if options.backend in ("postgresql", "both"):
            print("PostgreSQL:")
            server = PostgresServer(fast=False).start()
            try:
                run(server.create_database("bench"), options, directory)
            finally:
                server.close()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
