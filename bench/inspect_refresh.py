"""Forced Inspector refresh: how long a round takes with 4 live workers.

A forced refresh (the dashboard's Refresh button) passes the workers believed online as
`expected`, so every inspect call stops waiting as soon as all of them replied (Celery's
broadcast `limit`) instead of sitting out the whole timeout. This prints the median and
worst round time over --rounds rounds with 4 prefork workers on a private redis-server,
next to a round without `expected` (which waits the full timeout, as Flower does), and a
round where one expected worker is stopped (it must be reported when the timeout ends).

Run:  python bench/inspect_refresh.py [--rounds 30] [--timeout 1.0]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from celery_scope.collector.inspector import Inspector
from celery_scope.collector.service import make_celery_app
from celery_scope.store.cache import SnapshotCache
from tests.helpers import RedisServer, start_worker, stop_process, wait_until

WORKERS = [f"bench{number}@refresh" for number in range(4)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--timeout", type=float, default=1.0)
    options = parser.parse_args()

    directory = Path(tempfile.mkdtemp(prefix="bench-refresh-"))
    redis_server = RedisServer(directory).start()
    processes = [start_worker(redis_server.url, name, directory, concurrency=1)
                 for name in WORKERS]
    celery_app = make_celery_app(redis_server.url)
    cache = SnapshotCache(str(directory / "cache"))
    inspector = Inspector(celery_app, cache, options.timeout)
    try:
        wait_until(lambda: inspector.refresh(expected=WORKERS).answered == WORKERS, 60,
                   "all workers answering")
        fast = [inspector.refresh(expected=WORKERS).seconds for _ in range(options.rounds)]
        full = inspector.refresh().seconds
        stop_process(processes[-1])
        missing = inspector.refresh(expected=WORKERS)
        print(f"inspect refresh, {len(WORKERS)} live workers, timeout {options.timeout:g} s: "
              f"median {statistics.median(fast) * 1000:.0f} ms, "
              f"max {max(fast) * 1000:.0f} ms over {options.rounds} rounds; "
              f"without expected workers {full * 1000:.0f} ms; "
              f"one worker stopped: {missing.seconds * 1000:.0f} ms, silent {missing.silent}")
    finally:
        inspector.close()
        cache.close()
        for process in processes:
            stop_process(process)
        redis_server.stop()


if __name__ == "__main__":
    main()
