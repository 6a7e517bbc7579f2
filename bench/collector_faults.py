"""Fault benchmark: what the collector keeps when things go wrong, in numbers.

Against a real redis-server, a real `celery worker -E`, a real PostgreSQL server (fsync
on) and a real `celery-scope` process, each scenario prints what was sent, what was
stored, what was lost and what it cost:

* outage: PostgreSQL stopped for --outage seconds under a stream of --rate tasks/s;
  tasks lost, the collector's peak RSS, the spool's peak, seconds to catch up;
* poison: the hostile events of the fault report (objects as names, NaN timestamps,
  integers past 2^63, NUL bytes, an 88-character task id...) followed by --tasks ordinary
  tasks; how many of those were stored and how many events went to the quarantine;
* flood: heavy event messages (8 tasks, 16 kB results each) published at --flood-mb MB/s
  for --flood-seconds, above the writer's rate; peak RSS, peak spool, drain time, lost;
* metrics: --names distinct task names, then one /metrics scrape: its size and time.

Run:  python bench/collector_faults.py [--store postgresql|sqlite] [--outage 30] [--rate 20]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import psutil
import redis
from celery import Celery

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from celery_scope.store.history import HistoryStore  # noqa: E402
from tests.helpers import (  # noqa: E402
    PostgresServer,
    RedisServer,
    Scope,
    envelope,
    start_worker,
    stop_process,
    wait_until,
)

HOSTILE = [
    {"type": "task-received", "uuid": "h1", "timestamp": 1.0, "name": {"an": "object"}},
    {"type": "task-received", "uuid": "h2", "timestamp": 1.0, "hostname": ["an", "array"]},
    {"type": "worker-heartbeat", "hostname": "w@h", "timestamp": 1.0, "loadavg": ["x", "y", "z"]},
    {"type": "task-received", "uuid": "h3", "timestamp": "nan"},
    {"type": "task-received", "uuid": "h4", "timestamp": 1.0, "queue": {"q": 1}},
    {"type": "worker-heartbeat", "hostname": "w@h", "timestamp": 1.0, "processed": 2**63},
    {"type": "task-received", "uuid": "h5", "timestamp": 1.0, "retries": 2**63},
    {"type": "task-received", "uuid": "h6", "timestamp": 1.0, "name": 7},
    {"type": "task-received", "uuid": "h7", "timestamp": 1.0, "name": "nul\x00name"},
    {"type": "task-received", "uuid": "h8", "timestamp": 1.0, "name": "n" * 300},
]




class Peak:
    """Samples the dashboard's RSS and spool every 0.5 s in a thread."""

    def __init__(self, instance: Scope):
        self.instance, self.rss, self.spool = instance, 0, 0
        self._process = psutil.Process(instance.process.pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self.rss = max(self.rss, self._process.memory_info().rss)
            self.spool = max(self.spool, self.instance.status().get("spooled", 0))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def stored_successes(store: HistoryStore, ids: list[str]) -> int:
    found = {}
    for start in range(0, len(ids), 5000):
        found.update(store.load_tasks(ids[start:start + 5000]))
    return sum(row["state"] == "SUCCESS" for row in found.values())


def outage(args, client: Celery, instance: Scope, store: HistoryStore, pg: PostgresServer):
    peak, ids, stop = Peak(instance), [], threading.Event()

    def stream():
        while not stop.wait(1 / args.rate):
            ids.append(f"outage-{len(ids)}")
            client.send_task("cluster.add", args=(1, 2), task_id=ids[-1])

    sender = threading.Thread(target=stream)
    sender.start()
    time.sleep(5)
    pg.stop()
    time.sleep(args.outage)
    pg.start()
    back = time.monotonic()
    time.sleep(5)
    stop.set()
    sender.join()
    deadline = time.monotonic() + 300
    while stored_successes(store, ids) < len(ids) and time.monotonic() < deadline:
        time.sleep(0.5)
    caught_up = time.monotonic() - back
    peak.stop()
    lost = len(ids) - stored_successes(store, ids)
    print(f"outage   store stopped {args.outage:.0f} s under {args.rate:.0f} tasks/s: "
          f"{len(ids)} sent, {lost} lost; caught up {caught_up:.1f} s after it came back; "
          f"peak RSS {peak.rss / 2**20:.0f} MB, spool peak {peak.spool} messages")


def poison(args, client: Celery, broker: str, store: HistoryStore):
    before = store.count_quarantined()
    connection = redis.Redis.from_url(broker)
    for event in HOSTILE:
        connection.publish("/0.celeryev/task.multi", envelope(event))
    connection.close()
    long_id = f"nightly-report-{'a' * 36}-{'b' * 36}"
    ids = [long_id, *(f"poison-{n}" for n in range(args.tasks - 1))]
    for task_id in ids:
        client.send_task("cluster.add", args=(1, 2), task_id=task_id)
    deadline = time.monotonic() + 120
    while stored_successes(store, ids) < len(ids) and time.monotonic() < deadline:
        time.sleep(0.5)
    stored = stored_successes(store, ids)
    print(f"poison   {len(HOSTILE)} hostile events, then {len(ids)} tasks (one with an "
          f"88-character id): {stored} stored, {len(ids) - stored} lost; "
          f"{store.count_quarantined() - before} events quarantined")


def flood(args, broker: str, instance: Scope, store: HistoryStore):
    peak = Peak(instance)
    connection = redis.Redis.from_url(broker)
    result = "'" + "r" * 16_000 + "'"
    sent, started = 0, time.monotonic()
    messages_per_tick = max(1, int(args.flood_mb * 2**20 / 10 / (8 * 16_200)))
    ends = started + args.flood_seconds
    while time.monotonic() < ends:
        tick = time.monotonic()
        for _ in range(messages_per_tick):
            events = []
            for index in range(8):
                task_id = f"flood-{sent}-{index}"
                events += [{"type": "task-received", "uuid": task_id, "timestamp": time.time(),
                            "hostname": "flood@bench", "name": "flood.task"},
                           {"type": "task-succeeded", "uuid": task_id, "timestamp": time.time(),
                            "hostname": "flood@bench", "runtime": 0.01, "result": result}]
            connection.publish("/0.celeryev/task.multi", envelope(events))
            sent += 1
        time.sleep(max(0.0, 0.1 - (time.monotonic() - tick)))
    published = time.monotonic()
    connection.close()
    expected = sent * 8

    def flooded() -> int:
        with store.engine.connect() as db:
            return db.exec_driver_sql(
                "SELECT count(*) FROM tasks WHERE name = 'flood.task'").scalar()

    deadline = published + 600
    while time.monotonic() < deadline and (flooded() < expected and (
            instance.status().get("backlog") or time.monotonic() < published + 5)):
        time.sleep(1)  # until all is stored, or nothing waits any more (the cap dropped some)
    drained = time.monotonic() - published
    peak.stop()
    rate = expected * 2 / (published - started)
    print(f"flood    {expected * 2 / 1e3:.0f}k events ({rate:,.0f} events/s, "
          f"{args.flood_mb:.0f} MB/s) for {args.flood_seconds:.0f} s: "
          f"{expected - flooded()} lost, {instance.status().get('spool_dropped', 0)} dropped; "
          f"drained {drained:.0f} s after the flood; peak RSS {peak.rss / 2**20:.0f} MB, "
          f"spool peak {peak.spool} messages")


def metrics(args, broker: str, instance: Scope):
    connection = redis.Redis.from_url(broker)
    for start in range(0, args.names, 100):
        events = [event for n in range(start, min(args.names, start + 100)) for event in (
            {"type": "task-received", "uuid": f"names-{n}", "timestamp": time.time(),
             "hostname": "names@bench", "name": f"bench.task_{n}"},
            {"type": "task-succeeded", "uuid": f"names-{n}", "timestamp": time.time(),
             "hostname": "names@bench", "runtime": 0.1})]
        connection.publish("/0.celeryev/task.multi", envelope(events))
    connection.close()
    time.sleep(5)
    began = time.monotonic()
    with urllib.request.urlopen(instance.url + "/metrics", timeout=60) as response:
        body = response.read()
    print(f"metrics  {args.names:,} distinct task names: /metrics is {len(body) / 2**20:.2f} MB, "
          f"scraped in {time.monotonic() - began:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--outage", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--tasks", type=int, default=500)
    parser.add_argument("--flood-mb", type=float, default=48.0)
    parser.add_argument("--flood-seconds", type=float, default=60.0)
    parser.add_argument("--names", type=int, default=10_000)
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="celery-scope-faults-"))
    broker = RedisServer(directory).start()
    pg = PostgresServer(fast=False).start() if args.store == "postgresql" else None
    url = pg.create_database("scope") if pg else f"sqlite:///{directory / 'history.db'}"
    worker = start_worker(broker.url, "bench@faults", directory, concurrency=4)
    instance = Scope(directory, broker.url, store=url).start(timeout=60)
    client = Celery("bench", broker=broker.url, set_as_current=False)
    store = HistoryStore(url)
    try:
        wait_until(lambda: instance.status().get("broker_connected") and store.workers(), 60,
                   "the collector and the worker")
        print(f"store: {args.store}")
        if pg and args.outage > 0:
            outage(args, client, instance, store, pg)
        poison(args, client, broker.url, store)
        flood(args, broker.url, instance, store)
        metrics(args, broker.url, instance)
    finally:
        store.close()
        client.close()
        instance.stop()
        stop_process(worker)
        if pg:
            pg.close()
        broker.stop()


if __name__ == "__main__":
    main()
