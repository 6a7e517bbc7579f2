"""How long a standby collector takes to lead after `kill -9` of the leader, and what is lost.

A real PostgreSQL server (fsync on), redis-server, a real `celery worker -E` and two
`celery-scope collect` processes with their own cache directories. Under a stream of
--rate tasks a second, the leading collector is killed with -9 --runs times (each time
restarted, to stand by); the time from the kill to the survivor's `leader_since` is the
takeover. At the end every task sent is looked up in the store: the ones missing or not
SUCCESS are lost. Prints each takeover, their median and max, the losses and peak RSS.

Run:  python bench/standby_takeover.py [--runs 5] [--rate 50]
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
from celery import Celery

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from celery_scope.store.history import HistoryStore  # noqa: E402
from tests.helpers import (  # noqa: E402
    PostgresServer,
    RedisServer,
    start_worker,
    stop_process,
    wait_until,
)
from tests.scale_out import collector, kill_leader, restart  # noqa: E402


def stream(app: Celery, rate: float, ids: list[str], stop: threading.Event) -> None:
    while not stop.wait(1 / rate):
        task_id = f"bench-{len(ids)}"
        app.send_task("cluster.add", args=(1, 2), task_id=task_id)
        ids.append(task_id)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rate", type=float, default=50.0, help="tasks a second")
    options = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="standby-bench-"))
    postgres = PostgresServer(fast=False).start()
    redis_server = RedisServer(workdir).start()
    worker = start_worker(redis_server.url, "alpha@bench", workdir, concurrency=4)
    app = Celery("bench", broker=redis_server.url, set_as_current=False)
    collectors = []
    try:
        url = postgres.create_database("scope")
        store = HistoryStore(url)
        first = collector(workdir / "c1", redis_server.url, url)
        wait_until(lambda: first.status().get("leading"), 10, "the first collector to lead")
        collectors = [first, collector(workdir / "c2", redis_server.url, url)]
        wait_until(lambda: store.workers(), 30, "the worker's heartbeat")
        ids: list[str] = []
        stop = threading.Event()
        sender = threading.Thread(target=stream, args=(app, options.rate, ids, stop), daemon=True)
        sender.start()
        takeovers, rss = [], []
        for run in range(options.runs):
            time.sleep(5)
            rss.append(max(psutil.Process(c.process.pid).memory_info().rss for c in collectors))
            killed, _, seconds = kill_leader(*collectors)
            takeovers.append(seconds)
            print(f"run {run + 1}: takeover {seconds:.2f} s after kill -9 "
                  f"({len(ids)} tasks sent so far)", flush=True)
            restart(killed)  # back, as the standby
        time.sleep(5)
        stop.set()
        sender.join()

        def missing() -> int:
            rows = store.load_tasks(ids)
            return sum(1 for task_id in ids
                       if task_id not in rows or rows[task_id]["state"] != "SUCCESS")
        try:
            wait_until(lambda: missing() == 0, 60, "every task")
        except AssertionError:
            pass
        print(f"takeover: median {statistics.median(takeovers):.2f} s, max {max(takeovers):.2f} s"
              f" over {len(takeovers)} runs; {len(ids)} tasks sent, {missing()} lost; "
              f"peak collector RSS {max(rss) >> 20} MB")
        store.close()
    finally:
        for instance in collectors:
            instance.stop()
        stop_process(worker)
        redis_server.stop()
        postgres.close()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
