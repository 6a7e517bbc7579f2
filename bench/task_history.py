"""Task history at scale: grid pages, free-text search and CSV export over 1,000,000 tasks.

Builds (once, reused with --db) an SQLite store holding --tasks tasks spread over 7 days
(20 task names, 50 workers, 4 queues, 10% failures with tracebacks, some retries), then
prints:

* grid page: median time of one page request (100 rows, one filter, sorted by received
  time) for each kind of filter, and of the filtered row count shown above the grid;
* search: median time of a free-text search page (args, kwargs, result, exception);
* export: rows/s of the CSV export of every row and the exporting process's peak memory,
  measured in a child process so the figures are the export's own.

Ingestion beside grid queries and exports is measured by bench/ingest_under_load.py.

Run:  python bench/task_history.py [--tasks 1000000] [--db /tmp/scope-bench.db]
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from celery_scope.store.history import HistoryStore
from celery_scope.store.merge import new_task_row
from celery_scope.tasks import queries as task_queries
from celery_scope.tasks.filters import parse_filter

DAY = 86400.0
NAMES = [f"project.tasks.{verb}_{noun}" for verb in ("send", "build", "sync", "clean", "score")
         for noun in ("email", "report", "invoice", "index")]
WORKERS = [f"worker{number:02d}@host{number % 10}" for number in range(50)]
QUEUES = ["celery", "priority", "reports", "emails"]
TRACEBACK = "Traceback (most recent call last):\n  File \"tasks.py\", line 42, in run\n" \
            "    raise ValueError(\"bad input\")\nValueError: bad input\n"


def generate(store: HistoryStore, count: int, end: float) -> None:
    """Insert `count` finished tasks with received times spread over the 7 days before `end`."""
    rng = random.Random(42)
    batch = []
    for number in range(count):
        received = end - 7 * DAY * (1 - number / count)
        row = new_task_row(f"{number:08x}-0000-4000-8000-{rng.getrandbits(48):012x}")
        failed = rng.random() < 0.1
        runtime = rng.lognormvariate(-1.5, 1.0)
        row.update(
            name=rng.choice(NAMES), worker=rng.choice(WORKERS), queue=rng.choice(QUEUES),
            routing_key="celery", args=f"({rng.randint(0, 10**6)}, 'customer-{number % 9973}')",
            kwargs=f"{{'priority': {rng.randint(0, 9)}, 'note': 'batch {number // 1000}'}}",
            retries=1 if rng.random() < 0.03 else 0, sent=received - 0.01, received=received,
            started=received + rng.random() * 0.5, runtime=runtime,
            state="FAILURE" if failed else "SUCCESS",
        )
        finished = row["started"] + runtime
        row["timestamp"] = finished
        if failed:
            row.update(failed=finished, exception="ValueError('bad input')", traceback=TRACEBACK)
        else:
            row.update(succeeded=finished, result=f"{{'rows': {rng.randint(0, 5000)}}}")
        batch.append(row)
        if len(batch) == 20000:
            store.write(batch)
            batch = []
    store.write(batch)


def grid_requests(url: str, filters: dict, repeat: int) -> dict[str, float]:
    """Median time of the grid's page callback through the Flask app (request parsing,
    query, JSON), per filter: what a browser scrolling the grid waits for."""
    from worker_page import callback_payload

    from celery_scope import create_app
    from celery_scope.config import resolve
    from celery_scope.services import Services

    directory = tempfile.mkdtemp(prefix="bench-grid-")
    settings = resolve({"broker": "redis://127.0.0.1:1/0", "store": url,
                        "cache_dir": f"{directory}/cache"}, environ={})
    client = create_app(settings, Services.open(settings)).server.test_client()
    client.get("/")
    rows = next(dependency for dependency in client.get("/_dash-dependencies").json
                if "getRowsResponse" in dependency["output"])
    medians = {}
    for label, params in filters.items():
        stored = parse_filter(params).to_params()
        request = {"startRow": 0, "endRow": 100, "sortModel": [{"colId": "received",
                                                                 "sort": "desc"}]}
        payload = callback_payload(rows, {"tasks-grid": request, "tasks-filter": stored})

        def call(body=payload, label=label):
            response = client.post("/_dash-update-component", json=body)
            if response.status_code != 200 or not response.json["response"]["tasks-grid"][
                    "getRowsResponse"]["rowData"]:
                raise SystemExit(f"grid callback failed for {label}: {response.data[:200]!r}")
        medians[label] = median_ms(call, repeat)
    return medians


def median_ms(action, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def export_in_child(url: str, queue) -> None:
    """Export every row as the CSV endpoint does, discarding the text; report rows/s, RSS."""
    store = HistoryStore(url)
    started = time.perf_counter()
    size = sum(len(text) for _, text in
               task_queries.export_batches(store.engine, parse_filter({})))
    seconds = time.perf_counter() - started
    queue.put((store.count_tasks(), seconds, size,
               resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--db", default=os.path.join(tempfile.gettempdir(), "scope-bench-1m.db"))
    parser.add_argument("--repeat", type=int, default=15)
    options = parser.parse_args()
    url = f"sqlite:///{options.db}"
    store = HistoryStore(url)
    end = time.time()
    if store.count_tasks() != options.tasks:
        store.close()
        for suffix in ("", "-wal", "-shm"):
            Path(options.db + suffix).unlink(missing_ok=True)
        store = HistoryStore(url)
        started = time.perf_counter()
        generate(store, options.tasks, end)
        print(f"generated {options.tasks:,} tasks in {time.perf_counter() - started:.0f} s")
    engine = store.engine
    filters = {
        "none": {},
        "state=FAILURE": {"state": "FAILURE"},
        "name": {"name": NAMES[3]},
        "worker": {"worker": WORKERS[7]},
        "queue": {"queue": "reports"},
        "last 24h": {"since": str(end - DAY)},
        "runtime>1s": {"runtime_min": "1"},
    }
    for label, params in filters.items():
        task_filter = parse_filter(params)
        page_ms = median_ms(lambda f=task_filter: task_queries.page(engine, f, 0, 100),
                            options.repeat)
        deep_ms = median_ms(lambda f=task_filter: task_queries.page(engine, f, 5000, 100),
                            options.repeat)
        count_ms = median_ms(lambda f=task_filter: task_queries.count(engine, f), 3)
        print(f"grid page, filter {label}: first page {page_ms:.1f} ms, page at row 5,000 "
              f"{deep_ms:.1f} ms, count {count_ms:.0f} ms (median)")
    for label, milliseconds in grid_requests(url, filters, options.repeat).items():
        print(f"grid page request through the app (100 rows, sorted by received), filter "
              f"{label}: {milliseconds:.1f} ms (median)")
    for term in ("customer-4242", "no such text anywhere"):
        task_filter = parse_filter({"search": term})
        print(f"search {term!r}: first page "
              f"{median_ms(lambda f=task_filter: task_queries.page(engine, f, 0, 100), 3):.0f}"
              " ms (median)")
    results = multiprocessing.Queue()
    child = multiprocessing.Process(target=export_in_child, args=(url, results))
    child.start()
    rows, seconds, size, peak = results.get()
    child.join()
    print(f"CSV export: {rows:,} rows ({size / 1e6:,.0f} MB) in {seconds:.1f} s = "
          f"{rows / seconds:,.0f} rows/s, peak RSS {peak:.0f} MB")
    store.close()


if __name__ == "__main__":
    main()
