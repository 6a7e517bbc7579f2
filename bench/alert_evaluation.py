"""Alert evaluation over a 1,000,000-task store: 50 rules of every kind, on SQLite and
PostgreSQL. Prints the CPU seconds of the evaluator's thread per round (SQLite runs its
queries in that thread, so its figure is the whole cost; PostgreSQL's server work is not
in it, so wall seconds are printed too), the % of one core that makes at the default
--alert-interval (target: under 5 %), and each kind's share.

The tasks span one day (about 11.6 a second, ~3,500 in a 5-minute window), of 20 names
over 50 workers; 5 % fail, a few hundred are STARTED and some of those orphaned.

Run:  python bench/alert_evaluation.py [--tasks 1000000] [--rounds 10]
                                       [--backend sqlite|postgresql|both] [--keep DIR]

Measured (2 cores, 1,000,000 tasks, 50 rules): SQLite 0.152 CPU s per round (3.0 % of one
core at 5 s; wall 0.43 s); PostgreSQL 0.101 CPU s in the evaluator (2.0 %), wall 0.72 s
(14.5 % of the interval, mostly the server's work).
"""
from __future__ import annotations

import argparse
import dataclasses
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from celery_scope.alerts.evaluator import QUEUE_SAMPLES_KEPT, Evaluator
from celery_scope.alerts.measures import Readings, measure
from celery_scope.collector.leadership import SoleLeader
from celery_scope.config import Settings, resolve
from celery_scope.store.cache import SnapshotCache
from celery_scope.store.history import HistoryStore
from celery_scope.store.merge import new_task_row, new_worker_row
from tests.helpers import PostgresServer

DAY = 86400.0
NAMES = [f"app.tasks.job_{number}" for number in range(20)]
WORKERS = [f"celery@worker-{number}" for number in range(50)]
QUEUES = ["celery", "mail", "reports", "billing"]


def generate(store: HistoryStore, count: int, end: float) -> None:
    rng = random.Random(16)
    batch = []
    for number in range(count):
        received = end - DAY * (1 - number / count)
        row = new_task_row(f"{number:08x}-0000-4000-8000-{rng.getrandbits(48):012x}")
        runtime = rng.expovariate(2.0)
        finished = received + 0.01 + runtime
        row.update(name=rng.choice(NAMES), worker=rng.choice(WORKERS),
                   queue=rng.choice(QUEUES), received=received, started=received + 0.01,
                   timestamp=finished, runtime=runtime, state="SUCCESS", succeeded=finished)
        if rng.random() < 0.05:
            row.update(state="FAILURE", failed=finished, succeeded=None, runtime=None,
                       exception="ValueError('x')")
        elif number % 3000 == 0:  # a few hundred still running, some of them orphaned
            row.update(state="STARTED", timestamp=received + 0.01, succeeded=None, runtime=None,
                       orphaned=received + 5 if number % 2 else None)
        batch.append(row)
        if len(batch) == 20000:
            store.write(batch)
            batch = []
    store.write(batch)
    store.write([], [{**new_worker_row(host), "last_heartbeat": end - (1 if index else 600),
                      "freq": 2.0} for index, host in enumerate(WORKERS)])
    store.write_queue_samples([{"queue": queue, "timestamp": end - 1, "messages": 10 * index,
                                "latency_seconds": 3.0 * index, "latency_source": "sent",
                                "priorities": None} for index, queue in enumerate(QUEUES)])


def rule_tables() -> list[dict]:
    tables: list[dict] = []

    def add(kind: str, count: int, **fields) -> None:
        for number in range(count):
            table = {"name": f"{kind} {len(tables)}", "kind": kind, **fields}
            if "task" in fields:
                table["task"] = NAMES[number % len(NAMES)]
            tables.append(table)

    add("failure_ratio", 5, threshold=0.1, min_count=20)
    add("failure_ratio", 5, threshold=0.1, min_count=20, task="")
    add("failure_count", 8, threshold=50, window="15m")
    add("runtime_p95", 6, threshold="2s")
    add("runtime_p95", 2, threshold="2s", task="")
    add("stuck_started", 5, threshold="10m")
    add("orphaned", 5)
    add("dead_mans_switch", 5, threshold="5m", task="")
    add("queue_latency", 4, threshold="30s")
    add("queue_depth", 2, threshold=100)
    add("no_consumer", 2)
    add("worker_offline", 1)
    assert len(tables) == 50
    return tables


def run(name: str, url: str, tasks: int, rounds: int, directory: Path) -> None:
    store = HistoryStore(url)
    end = time.time()
    started = time.perf_counter()
    if store.count_tasks() < tasks:
        generate(store, tasks, end)
    print(f"{name}: {store.count_tasks():,} tasks ready in {time.perf_counter() - started:.0f} s")
    settings: Settings = dataclasses.replace(
        resolve({"store": url, "cache_dir": str(directory / "cache")}, environ={}),
        alerts=tuple(rule_tables()))
    cache = SnapshotCache(settings.cache_dir)
    evaluator = Evaluator(store, cache, settings, SoleLeader())
    evaluator.evaluate()  # warm: the page cache and the first states
    cpu, wall = [], []
    for _ in range(rounds):
        report = evaluator.evaluate()
        assert report.paused is None and not report.failed, report
        cpu.append(report.cost.cpu_seconds)
        wall.append(report.cost.seconds)
    interval = Settings.alert_interval
    print(f"{name}: 50 rules, {rounds} rounds: CPU {statistics.median(cpu):.3f} s per round "
          f"(max {max(cpu):.3f}), wall {statistics.median(wall):.3f} s; at the default "
          f"{interval:g} s interval: {100 * statistics.median(cpu) / interval:.1f} % of one "
          f"core (wall {100 * statistics.median(wall) / interval:.1f} %)")
    by_kind: dict[str, list[float]] = defaultdict(list)
    readings = Readings(store, cache, time.time(), QUEUE_SAMPLES_KEPT * 10.0, end - DAY)
    for rule in evaluator.alerts.rules(settings):
        begun = time.perf_counter()
        measure(rule, readings)
        by_kind[rule.kind].append(time.perf_counter() - begun)
    for kind, seconds in sorted(by_kind.items(), key=lambda item: -sum(item[1])):
        print(f"  {kind:17s} {len(seconds):2d} rules  {1000 * sum(seconds):8.1f} ms "
              f"({1000 * statistics.mean(seconds):.1f} ms each)")
    evaluator.stop()
    cache.close()
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--keep", help="a folder to keep the SQLite store in between runs")
    args = parser.parse_args()
    directory = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="alert-bench-"))
    directory.mkdir(parents=True, exist_ok=True)
    try:
        if args.backend in ("sqlite", "both"):
            run("SQLite", f"sqlite:///{directory / 'history.db'}", args.tasks, args.rounds,
                directory)
        if args.backend in ("postgresql", "both"):
            server = PostgresServer(fast=False).start()
            try:
                run("PostgreSQL", server.create_database("bench"), args.tasks, args.rounds,
                    directory)
            finally:
                server.stop()
                server.close()
    finally:
        if not args.keep:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
