"""Ingestion under load: does the collector keep its rate while the tasks grid is queried or
a CSV export runs, over a store of 1,000,000 tasks?

The collector is the store's one writer and the dashboard reads the same SQLite file. In WAL
mode readers and the writer do not block each other, but they still share the machine, the
disk, the page cache and the WAL (a checkpoint cannot recycle the WAL past the oldest open
read snapshot), and a collector that falls behind holds events in memory and, past Redis's
32 MB pub/sub limit, loses them. This script measures that against a real `celery-scope
collect` process fed through a real Redis, set up by bench/ingest.py's code:

* the store is a copy of bench/task_history.py's 1M-task store (--db, reused when it holds
  --tasks tasks, otherwise generated in the copy), so the run never alters it;
* three phases of --seconds each, each publishing a paced stream of --rate events/s from
  two publishers (24 task events per message, as bench/ingest.py's paced phase):
  alone; while another process requests grid pages in a loop (100 rows, newest received
  first; filters rotate state=FAILURE, a task name, a worker and the last 24 h, and every
  10th request is a free-text search); while another process exports every task as the CSV
  endpoint does (export_batches, text discarded, started over when it ends);
* per phase, bench/ingest.py's figures (events published and stored, lost, the collector's
  stored rate and CPU µs/event, peak lag and backlog), the reader's own (grid page latency
  median and p95, or export rows/s, while the phase's events were published and stored),
  how long the collector waited for a CPU, and the WAL file's size; then one summary line
  with the verdict (see summary()).

The collector gets CPU 1 to itself and the reader runs on CPU 0 with Redis and the
publishers (bench/ingest.py's pinning), so what the database sharing costs shows in the
collector's CPU µs/event and lag. Other work on the machine can still run on CPU 1: the
collector's wait for a CPU tells when lag came from that rather than from the database, and
the load average is printed before and after.

Run:  python bench/ingest_under_load.py [--seconds 15] [--rate 9000] [--db /tmp/scope-bench-1m.db]
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import queue
import signal
import sqlite3
import statistics
import sys
import tempfile
import time
from contextlib import closing, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import psutil
import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import ingest  # bench/ingest.py
import task_history  # bench/task_history.py

from celery_scope.store.cache import SnapshotCache
from celery_scope.store.engine import open_engine
from celery_scope.store.history import HistoryStore
from celery_scope.tasks import queries as task_queries
from celery_scope.tasks.filters import parse_filter

if TYPE_CHECKING:
    from typing import Self

PAGE_ROWS = 100
SEARCH_EVERY = 10  # every 10th grid request is a free-text search
SEARCH_TERM = "customer-4242"  # in ~1 task in 10,000: the search scans most of the table
RATE_SHARE = 0.95  # of the stored rate alone that ingestion must keep beside a reader
LAG_MARGIN = 1.0  # seconds of peak lag a reader may add before ingestion counts as slowed


# -- the readers (child processes) --------------------------------------------------------

def grid_filters(since: float) -> list[tuple[str, dict]]:
    """The grid requests, as (label, query parameters): filters in turn, then a search."""
    return [("state=FAILURE", {"state": "FAILURE"}),
            ("name", {"name": task_history.NAMES[3]}),
            ("worker", {"worker": task_history.WORKERS[7]}),
            ("last 24 h", {"since": repr(since)}),
            ("search", {"search": SEARCH_TERM})]


def grid_queries(url: str, since: float, ready, stop, results) -> None:
    """Child process: grid page requests in a loop until told to stop, then report each
    one as (finished at, label, seconds)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us on Ctrl-C
    engine = open_engine(url)
    *filters, search = [(label, parse_filter(params)) for label, params in grid_filters(since)]
    samples = []
    ready.set()
    while not stop.is_set():
        number = len(samples) + 1
        label, task_filter = (search if number % SEARCH_EVERY == 0
                              else filters[number % len(filters)])
        started = time.perf_counter()
        task_queries.page(engine, task_filter, 0, PAGE_ROWS)
        samples.append((time.time(), label, time.perf_counter() - started))
    results.put(samples)


def export_loop(url: str, ready, stop, results) -> None:
    """Child process: export every task as the CSV endpoint does (text discarded), starting
    over when done, until told to stop; then report each batch as (finished at, rows)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    engine = open_engine(url)
    everything = parse_filter({})
    samples = []
    ready.set()
    while not stop.is_set():
        with closing(task_queries.export_batches(engine, everything)) as batches:
            for rows, _text in batches:
                samples.append((time.time(), rows))
                if stop.is_set():
                    break
    results.put(samples)


class Reader:
    """One reader process beside the collector. Entering waits until it has opened the store
    and started; samples() stops it and returns what it measured."""

    def __init__(self, target, *args):
        context = multiprocessing.get_context("spawn")
        self._ready, self._stop, self._results = context.Event(), context.Event(), context.Queue()
        self._process = context.Process(target=target, name=target.__name__, daemon=True,
                                        args=(*args, self._ready, self._stop, self._results))

    def __enter__(self) -> Self:
        try:
            self._process.start()
            while not self._ready.wait(0.5):
                self._check_alive()
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise
        return self

    def samples(self) -> list[tuple]:
        self._stop.set()
        while True:
            try:
                return self._results.get(timeout=1)
            except queue.Empty:
                self._check_alive()

    def _check_alive(self) -> None:
        if self._process.exitcode is not None:
            raise RuntimeError(f"the {self._process.name} process died")

    def __exit__(self, error_type=None, *_details) -> None:
        """Reap the reader; on an error (or Ctrl-C) stop it rather than wait."""
        if self._process.pid is None:
            return
        self._stop.set()
        if error_type is not None:
            self._process.terminate()
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()


# -- the store ------------------------------------------------------------------------------

def prepare_store(source: Path, tasks: int, target: Path) -> str:
    """Put a store of `tasks` tasks at `target` (where the collector will write) and say how:
    a copy of `source` when it holds that many (SQLite's backup API, consistent even if
    something writes to it), otherwise new ones as bench/task_history.py generates them."""
    if source.exists() and ingest.store_size(source)[0] == tasks:
        with closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as original, \
                closing(sqlite3.connect(target)) as copy:
            original.backup(copy)
        return f"copied {source}"
    store = HistoryStore(f"sqlite:///{target}")
    try:
        task_history.generate(store, tasks, time.time())
    finally:
        store.close()
    return f"generated ({source} does not hold {tasks:,} tasks)"


def newest_received(db: Path) -> float:
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as connection:
        return connection.execute("SELECT max(received) FROM tasks").fetchone()[0]


# -- the phases -----------------------------------------------------------------------------

@dataclass
class Phase:
    """bench/ingest.py's figures for one phase, the seconds the collector waited for a CPU,
    and the reader's samples taken while the phase's events were published and stored."""
    result: ingest.PhaseResult
    cpu_wait: float
    samples: list[tuple]
    window: tuple[float, float]


def cpu_wait(pid: int) -> float:
    """Seconds the process's threads have spent runnable but waiting for a CPU (Linux
    schedstat): time that other processes took from the collector."""
    waited = 0
    for path in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        try:
            waited += int(path.read_text().split()[1])
        except OSError:
            continue  # the thread ended meanwhile
    return waited / 1e9


def phase_window(result: ingest.PhaseResult, last_event_at: float) -> tuple[float, float]:
    """(first event published, last event stored) in epoch seconds, from run_phase's figures:
    the publishers ran published/publisher_rate seconds and ended `lag` before the last
    store."""
    last_published = last_event_at - result.lag
    return last_published - result.published / result.publisher_rate, last_event_at


def run(reader: Reader | None, monitor: ingest.Monitor, ingest_args: tuple) -> Phase:
    """One ingest phase (bench/ingest.py's run_phase), with `reader` running throughout."""
    collector = monitor.collector.pid
    waited = cpu_wait(collector)
    with reader or nullcontext():
        result = ingest.run_phase(*ingest_args)
        samples = reader.samples() if reader else []
    start, end = window = phase_window(result, monitor.status["last_event_at"])
    return Phase(result, cpu_wait(collector) - waited,
                 [sample for sample in samples if start <= sample[0] <= end], window)


def grid_figures(phase: Phase) -> dict:
    """Median and p95 latency in ms over all requests, and the median of each kind."""
    if not phase.samples:
        raise RuntimeError("no grid request finished while the events were ingested")
    latencies = sorted(seconds * 1000 for _, _, seconds in phase.samples)
    kinds = {label: statistics.median(seconds * 1000 for _, kind, seconds in phase.samples
                                      if kind == label)
             for label in dict.fromkeys(label for _, label, _ in phase.samples)}
    return {"requests": len(latencies), "median": statistics.median(latencies),
            "p95": latencies[int(0.95 * (len(latencies) - 1))], "kinds": kinds}


def export_rate(phase: Phase) -> float:
    """Rows/s of the export while the phase's events were published and stored."""
    start, end = phase.window
    return sum(rows for _, rows in phase.samples) / (end - start)


# -- reporting and the command line ---------------------------------------------------------

def wal_megabytes(db: Path) -> float:
    wal = db.with_name(db.name + "-wal")
    return wal.stat().st_size / ingest.MB if wal.exists() else 0.0


def print_phase(title: str, phase: Phase, db: Path, reader: str = "") -> None:
    """bench/ingest.py's lines for the phase, then the reader's figures, the collector's wait
    for a CPU and the WAL file's size (it never shrinks, and grows while readers' snapshots
    hold checkpoints back)."""
    ingest.print_phase(title, phase.result)
    print(f"  {reader}collector waited {phase.cpu_wait:.1f} s for a CPU; "
          f"WAL file {wal_megabytes(db):,.0f} MB")


def grid_text(figures: dict) -> str:
    kinds = ", ".join(f"{label} {ms:,.0f}" for label, ms in figures["kinds"].items())
    return (f"grid pages: {figures['requests']:,} requests, median {figures['median']:,.0f} ms, "
            f"p95 {figures['p95']:,.0f} ms (median by filter, ms: {kinds}); ")


def summary(alone: Phase, grid: Phase, grid_ms: dict, export: Phase,
            rows_per_second: float) -> str:
    """One line: each phase's stored rate, peak lag and CPU wait, the readers' figures, events
    lost, and the verdict: ingestion keeps its rate beside a reader when nothing is lost and
    the stored rate and peak lag stay within RATE_SHARE and LAG_MARGIN of the phase alone."""

    def figures(phase: Phase) -> str:
        return (f"{phase.result.drain_rate:,.0f} ev/s lag {phase.result.peaks.lag:.1f} s "
                f"(CPU wait {phase.cpu_wait:.1f} s)")

    base = alone.result
    slowed = [name for name, phase in (("grid queries", grid.result), ("export", export.result))
              if phase.lost or phase.drain_rate < RATE_SHARE * base.drain_rate
              or phase.peaks.lag > base.peaks.lag + LAG_MARGIN]
    verdict = f"slowed by {' and '.join(slowed)}" if slowed else "keeps its rate"
    lost = sum(phase.result.lost for phase in (alone, grid, export))
    return (f"ingest under load: alone {figures(alone)}; with grid queries {figures(grid)} "
            f"(query median {grid_ms['median']:,.0f} ms, p95 {grid_ms['p95']:,.0f} ms); "
            f"with export {figures(export)} (export {rows_per_second:,.0f} rows/s); "
            f"lost {lost:,}; ingestion {verdict}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=15.0,
                        help="length of each phase (default 15)")
    parser.add_argument("--rate", type=float, default=9_000.0,
                        help="events/s published in each phase, both publishers together "
                             "(default 9,000)")
    parser.add_argument("--tasks", type=int, default=1_000_000,
                        help="tasks in the store before the run (default 1,000,000)")
    parser.add_argument("--db", type=Path,
                        default=Path(tempfile.gettempdir()) / "scope-bench-1m.db",
                        help="store to copy, as bench/task_history.py builds it "
                             "(default: %(default)s)")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    signal.signal(signal.SIGTERM, ingest._exit_on_sigterm)
    print(f"load average {os.getloadavg()[0]:.1f} before start on {os.cpu_count()} CPUs")
    pin = ingest.cpu_pins()
    with tempfile.TemporaryDirectory(prefix="scope-bench-") as tmp:
        workdir, port = Path(tmp), ingest.free_port()
        broker, db = f"redis://127.0.0.1:{port}/0", workdir / "h.db"  # start_collector's store
        started = time.perf_counter()
        how = prepare_store(args.db, args.tasks, db)
        print(f"store: {args.tasks:,} tasks {how} in {time.perf_counter() - started:.0f} s")
        url, since = f"sqlite:///{db}", newest_received(db) - task_history.DAY
        processes, monitor = [], None
        try:
            processes.append(ingest.start_redis(workdir, port))
            collector = ingest.start_collector(workdir, broker, pin)
            processes.append(collector)
            monitor = ingest.Monitor(psutil.Process(collector.pid),
                                     SnapshotCache(str(workdir / "cache")), redis.Redis(port=port))
            monitor.start()
            ingest.wait_connected(monitor, collector, workdir)
            rate_each = args.rate / ingest.PUBLISHERS
            ingest_args = (broker, collector, monitor, db,
                           round(args.rate * args.seconds / 4 / ingest.PUBLISHERS), rate_each)

            alone = run(None, monitor, ingest_args)
            print_phase("alone", alone, db)
            grid = run(Reader(grid_queries, url, since), monitor, ingest_args)
            grid_ms = grid_figures(grid)
            print_phase("with grid queries", grid, db, grid_text(grid_ms))
            export = run(Reader(export_loop, url), monitor, ingest_args)
            rows_per_second = export_rate(export)
            print_phase("with export", export, db, f"export {rows_per_second:,.0f} rows/s; ")
            print(summary(alone, grid, grid_ms, export, rows_per_second))
            print(f"load average {os.getloadavg()[0]:.1f} at the end")
        finally:
            if monitor is not None:
                monitor.stop()
            for process in reversed(processes):  # the collector first, then Redis
                ingest.stop(process)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)  # Ctrl-C: main's finally has already stopped everything it started
