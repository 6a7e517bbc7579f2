"""Ingest benchmark: how fast, how cheaply and how safely the collector stores Celery events.

The collector is the one part of celery-scope that must keep up with a whole cluster:
Redis pub/sub keeps nothing for a slow subscriber and cuts it off past 32 MB of backlog,
so an ingest path that is too slow loses events, and one that is too hungry steals the
machine from the dashboard. This script measures, against a real `celery-scope collect`
process fed through a real Redis by celery's own EventDispatcher:

* drain: a bounded backlog (--events) published as fast as two publishers can; the
  collector's events/s from the first event published to the last one committed, its CPU
  time per event and share of its core, and its lag (publishers done -> last event
  stored). The publishers' own rate is printed too: it caps the drain figure (on two
  cores they share one with Redis), so a drain rate close to it with a short lag means
  the collector kept up rather than hit its limit;
* input rate: two publishers paced at --rate events/s in total for --seconds; every task
  must then be in the store with the final state it was published with;
* memory: the collector's peak RSS over the whole run.

The load looks like a busy cluster: 50 workers each with its own dispatcher (celery stamps
every event with its dispatcher's hostname), task events buffered 24 per message as
workers send them (task-sent too, although real clients send it alone), lifecycles
task-sent -> received -> started -> succeeded/failed (10% failures with a traceback)
overlapping so that a task's events land in different write batches, and a heartbeat per
worker every 2 s. The collector gets CPU 1 to itself; Redis, the publishers and this
script share CPU 0.

With --store postgresql the collector writes to a private PostgreSQL server (fsync on),
started on CPU 0 beside Redis and the publishers.

Run:  python bench/ingest.py [--store sqlite|postgresql] [--events 400000] [--seconds 20]
                             [--rate 18000]
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import queue
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import celery
import psutil
import redis
from celery import Celery
from celery.events import EventDispatcher
from sqlalchemy import create_engine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.helpers

from celery_scope.store.cache import SnapshotCache
from tests.helpers import PostgresServer

if TYPE_CHECKING:
    from typing import Self  # Python 3.11+, and only needed by type checkers

PUBLISHERS = 2
WORKERS = [f"celery@worker-{number:02d}.bench" for number in range(50)]
TASK_NAMES = [f"proj.{area}.{verb}" for area in ("billing", "mail", "reports", "search", "media")
              for verb in ("sync", "send", "build", "index")]
BUFFER_LIMIT = 24  # task events per message, as a worker's EventDispatcher buffers them
FAILURE_RATE = 0.1
HEARTBEAT_SECONDS = 2.0
STAGE_GAP = 1000  # tasks waiting at each lifecycle step: keeps ~3,000 tasks in flight
TRACEBACK = ('Traceback (most recent call last):\n'
             '  File "/srv/app/venv/lib/python3.11/site-packages/celery/app/trace.py", line 453, '
             'in trace_task\n    R = retval = fun(*args, **kwargs)\n'
             '  File "/srv/app/proj/billing.py", line 88, in sync\n'
             '    raise ValueError(f"upstream answered {status}")\n'
             'ValueError: upstream answered 503\n')
PUBLISHER_CPU, COLLECTOR_CPU = 0, 1
SAMPLE_SECONDS = 0.05  # monitor period: RSS, collector status, Redis output buffer
STALL_SECONDS = 15.0  # no progress for this long after publishing means events were lost
MB = 1024 * 1024


# -- the publishers (child processes) -------------------------------------------------------

class LoadGenerator:
    """One publisher's share of a fake cluster: a client sending tasks and the workers running
    them. Each has its own EventDispatcher because send() stamps the dispatcher's hostname on
    every event and refuses a `hostname` field."""

    def __init__(self, app: Celery, connection, index: int, hostnames: list[str]):
        dispatcher = partial(EventDispatcher, connection, app=app, buffer_group=["task"],
                             buffer_limit=BUFFER_LIMIT)
        self.client = dispatcher(hostname=f"client-{index}@loadgen.bench")
        self.workers = [dispatcher(hostname=hostname) for hostname in hostnames]
        self.processed = [0] * len(hostnames)
        self.stages: list[deque] = [deque(), deque(), deque()]  # to receive, start, finish
        self.expected: dict[str, str] = {}  # uuid -> final state
        self.events = self.heartbeats = 0
        self.next_heartbeat = 0.0

    @property
    def in_flight(self) -> int:
        return sum(len(stage) for stage in self.stages)

    def tick(self, start_new: bool) -> None:
        """Start a task if asked, and move each lifecycle step's oldest task on once the step
        holds STAGE_GAP tasks (or always, when draining), so lifecycles overlap as on a busy
        cluster instead of arriving as four adjacent events."""
        for step in (2, 1, 0):
            stage = self.stages[step]
            if stage and (len(stage) > STAGE_GAP or not start_new):
                task = stage.popleft()
                (self._received, self._started, self._finished)[step](task)
                if step < 2:
                    self.stages[step + 1].append(task)
        if start_new:
            self.stages[0].append(self._sent())

    def heartbeat_if_due(self) -> None:
        """Every worker says it is alive every HEARTBEAT_SECONDS, as `celery worker` does."""
        now = time.monotonic()
        if now < self.next_heartbeat:
            return
        self.next_heartbeat = now + HEARTBEAT_SECONDS
        for number, worker in enumerate(self.workers):
            worker.send("worker-heartbeat", freq=HEARTBEAT_SECONDS, sw_ident="py-celery",
                        sw_ver=celery.__version__, sw_sys="Linux", active=random.randint(0, 8),
                        processed=self.processed[number],
                        loadavg=[round(random.uniform(0, 4), 2) for _ in range(3)])
            self.heartbeats += 1

    def close(self) -> None:
        """Send what the dispatchers still buffer: the last partial message of each."""
        for dispatcher in (self.client, *self.workers):
            dispatcher.flush()
            dispatcher.close()

    def _send(self, dispatcher: EventDispatcher, kind: str, **fields) -> None:
        dispatcher.send(kind, **fields)
        self.events += 1

    def _sent(self) -> tuple:
        task_id = str(uuid.uuid4())
        fails = random.random() < FAILURE_RATE
        task = (task_id, random.choice(TASK_NAMES), random.randrange(len(self.workers)), fails)
        self.expected[task_id] = "FAILURE" if fails else "SUCCESS"
        self._send(self.client, "task-sent", uuid=task_id, name=task[1], args=_args(),
                   kwargs=_kwargs(), retries=0, eta=None, expires=None, queue="celery",
                   exchange="", routing_key="celery", root_id=task_id, parent_id=None)
        return task

    def _received(self, task: tuple) -> None:
        task_id, name, worker, _ = task
        self._send(self.workers[worker], "task-received", uuid=task_id, name=name, args=_args(),
                   kwargs=_kwargs(), retries=0, eta=None, expires=None, root_id=task_id,
                   parent_id=None)

    def _started(self, task: tuple) -> None:
        self._send(self.workers[task[2]], "task-started", uuid=task[0])

    def _finished(self, task: tuple) -> None:
        task_id, _, worker, fails = task
        self.processed[worker] += 1
        if fails:
            self._send(self.workers[worker], "task-failed", uuid=task_id,
                       exception="ValueError('upstream answered 503')", traceback=TRACEBACK)
        else:
            self._send(self.workers[worker], "task-succeeded", uuid=task_id,
                       result=repr({"rows": random.randint(0, 10_000), "ok": True}),
                       runtime=round(random.expovariate(5.0), 4))


def _args() -> str:
    """A ~50-byte args repr, as celery's argsrepr puts it in task-sent/received."""
    return repr((random.randint(1, 10**6), f"customer-{random.randint(1, 9999):04d}",
                 [round(random.random(), 3) for _ in range(2)]))


def _kwargs() -> str:
    return repr({"region": random.choice(("eu-west", "us-east", "ap-south")),
                 "priority": random.randint(0, 9), "dry_run": False})


def _pace(events: int, rate: float | None, started: float) -> None:
    """Sleep while ahead of `rate`, so the input is steady rather than bursts."""
    if rate:
        ahead = events / rate - (time.monotonic() - started)
        if ahead > 0.001:
            time.sleep(ahead)


def publish(index: int, broker: str, hostnames: list[str], tasks: int, rate: float | None,
            ready, go, results) -> None:
    """Child process: send `tasks` full lifecycles (at most `rate` events/s) once told to go,
    then report what was sent and which final state each task has."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us on Ctrl-C
    app = Celery("bench-publisher", broker=broker, set_as_current=False)
    with app.connection_for_write() as connection:
        load = LoadGenerator(app, connection, index, hostnames)
        ready.wait()
        go.wait()
        started_at, started = time.time(), time.monotonic()
        while load.in_flight or len(load.expected) < tasks:
            load.tick(start_new=len(load.expected) < tasks)
            load.heartbeat_if_due()
            _pace(load.events, rate, started)
        load.close()
        results.put({"events": load.events + load.heartbeats, "started": started_at,
                     "finished": time.time(), "expected": load.expected})


class Publishers:
    """PUBLISHERS processes, each with its share of the workers. Entering waits until all are
    connected (spawning and importing celery takes a second or two), so that the baseline
    taken before go() excludes that start-up."""

    def __init__(self, broker: str, tasks_each: int, rate_each: float | None):
        context = multiprocessing.get_context("spawn")
        self._ready, self._go = context.Barrier(PUBLISHERS + 1), context.Event()
        self._results = context.Queue()
        self._processes = [
            context.Process(target=publish, name=f"publisher-{index}", daemon=True,
                            args=(index, broker, WORKERS[index::PUBLISHERS], tasks_each,
                                  rate_each, self._ready, self._go, self._results))
            for index in range(PUBLISHERS)]

    def __enter__(self) -> Self:
        try:
            for process in self._processes:
                process.start()
            self._ready.wait(timeout=60)
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise
        return self

    def go(self) -> None:
        self._go.set()

    def reports(self) -> list[dict]:
        """Each publisher's report, once it has sent everything."""
        reports = []
        while len(reports) < PUBLISHERS:
            try:
                reports.append(self._results.get(timeout=1))
            except queue.Empty:
                if any(process.exitcode not in (None, 0) for process in self._processes):
                    raise RuntimeError("a publisher process died") from None
        return reports

    def __exit__(self, error_type=None, *_details) -> None:
        """Reap the publishers; on an error (or Ctrl-C) stop them rather than wait."""
        for process in self._processes:
            if process.pid is None:
                continue
            if error_type is not None:
                process.terminate()
            process.join(5)
            if process.is_alive():
                process.kill()
                process.join()


# -- the processes under test -----------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_redis(workdir: Path, port: int) -> subprocess.Popen:
    """A throwaway Redis without persistence, so disk writes never skew the numbers."""
    with open(workdir / "redis.log", "wb") as log:
        server = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no"],
            cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
    client = redis.Redis(port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            return server
        except redis.ConnectionError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start; see redis.log") from None
            time.sleep(0.05)


def start_collector(workdir: Path, broker: str, store: str, pin: list[str]) -> subprocess.Popen:
    command = shutil.which("celery-scope") or sys.exit("celery-scope is not installed")
    with open(workdir / "collector.log", "wb") as log:
        return subprocess.Popen(
            [*pin, command, "collect", "--broker", broker, "--store", store,
             "--cache-dir", str(workdir / "cache"), "--no-enable-events"],
            stdout=log, stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen, grace: float = 10.0) -> None:
    """SIGTERM (the collector then writes out what it holds), SIGKILL if it lingers."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


# -- watching the collector ---------------------------------------------------------------------

@dataclass
class PhasePeaks:
    lag: float = 0.0
    backlog: int = 0
    pubsub_buffer: int = 0  # bytes Redis holds for the collector's subscription
    disconnects: int = 0


class Monitor(threading.Thread):
    """Samples the collector's RSS, its published status and Redis's output buffer for it."""

    def __init__(self, collector: psutil.Process, cache: SnapshotCache, broker: redis.Redis):
        super().__init__(name="monitor", daemon=True)
        self.collector, self.cache, self.broker = collector, cache, broker
        self.status: dict = cache.collector_status() or {}
        self.peak_rss = 0
        self.peaks = PhasePeaks()
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(SAMPLE_SECONDS):
            try:
                self._sample()
            except (psutil.Error, redis.RedisError):
                return  # the collector or Redis is gone: the main thread finds out

    def _sample(self) -> None:
        self.peak_rss = max(self.peak_rss, self.collector.memory_info().rss)
        status = self.cache.collector_status() or self.status
        if self.status.get("broker_connected") and not status.get("broker_connected"):
            self.peaks.disconnects += 1
        self.status = status
        self.peaks.lag = max(self.peaks.lag, status.get("lag") or 0.0)
        self.peaks.backlog = max(self.peaks.backlog, status.get("backlog") or 0)
        buffers = [int(client["omem"]) for client in self.broker.client_list(_type="pubsub")]
        self.peaks.pubsub_buffer = max([self.peaks.pubsub_buffer, *buffers])

    def new_phase(self) -> None:
        self.peaks = PhasePeaks()

    def stop(self) -> None:
        self._done.set()
        self.join()
        self.cache.close()


def wait_connected(monitor: Monitor, collector: subprocess.Popen, workdir: Path) -> None:
    """Publishing before the subscription exists would lose events for good (pub/sub)."""
    deadline = time.monotonic() + 60
    while not monitor.status.get("broker_connected"):
        if collector.poll() is not None or time.monotonic() > deadline:
            log = (workdir / "collector.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"the collector did not connect:\n{log}")
        time.sleep(SAMPLE_SECONDS)


def wait_ingested(monitor: Monitor, collector: subprocess.Popen, target: int) -> dict:
    """The collector's status once it has stored `target` events, or once it has stopped
    making progress (events lost)."""
    last_events, last_progress = -1, time.monotonic()
    while True:
        status = monitor.status
        if status["events"] >= target:
            return status
        if status["events"] != last_events:
            last_events, last_progress = status["events"], time.monotonic()
        elif time.monotonic() - last_progress > STALL_SECONDS:
            return status
        if collector.poll() is not None:
            raise RuntimeError("the collector exited during the run; see collector.log")
        time.sleep(SAMPLE_SECONDS)


# -- the phases ---------------------------------------------------------------------------------

@dataclass
class PhaseResult:
    published: int
    stored: int
    publisher_rate: float
    drain_rate: float
    cpu_us: float
    cpu_use: float  # share of its core the collector used from first event to last stored
    lag: float
    tasks: int
    tasks_right: int
    missing: int
    wrong: int
    peaks: PhasePeaks = field(default_factory=PhasePeaks)

    @property
    def lost(self) -> int:
        return max(0, self.published - self.stored)


def run_phase(broker: str, collector: subprocess.Popen, monitor: Monitor, store: str,
              tasks_each: int, rate_each: float | None) -> PhaseResult:
    """Publish, wait for the collector to store it all, then check the store task by task."""
    process = psutil.Process(collector.pid)
    monitor.new_phase()
    with Publishers(broker, tasks_each, rate_each) as publishers:
        base, cpu_before = monitor.status["events"], cpu_seconds(process)
        publishers.go()
        reports = publishers.reports()
    published = sum(report["events"] for report in reports)
    first, last = min(r["started"] for r in reports), max(r["finished"] for r in reports)
    status = wait_ingested(monitor, collector, base + published)
    cpu = cpu_seconds(process) - cpu_before
    stored = status["events"] - base
    if not stored:
        raise RuntimeError("the collector stored none of the events; see collector.log")
    busy_seconds = status["last_event_at"] - first
    expected = {uuid: state for report in reports for uuid, state in report["expected"].items()}
    missing, wrong = check_tasks(store, expected)
    return PhaseResult(
        published=published, stored=stored, publisher_rate=published / (last - first),
        drain_rate=stored / busy_seconds, cpu_us=cpu / stored * 1e6, cpu_use=cpu / busy_seconds,
        lag=status["last_event_at"] - last, tasks=len(expected),
        tasks_right=len(expected) - missing - wrong, missing=missing, wrong=wrong,
        peaks=monitor.peaks)


def check_tasks(store: str, expected: dict[str, str]) -> tuple[int, int]:
    """(missing, wrong state) among the expected tasks, read straight from the store."""
    engine = create_engine(store)
    try:
        with engine.connect() as connection:
            stored = dict(connection.exec_driver_sql("SELECT uuid, state FROM tasks").all())
    finally:
        engine.dispose()
    missing = sum(1 for uuid in expected if uuid not in stored)
    wrong = sum(1 for uuid, state in expected.items() if stored.get(uuid, state) != state)
    return missing, wrong


def store_size(store: str) -> tuple[int, float]:
    """(task rows, MB on disk: the SQLite file and its WAL, or the PostgreSQL database)."""
    engine = create_engine(store)
    try:
        with engine.connect() as connection:
            rows = connection.exec_driver_sql("SELECT count(*) FROM tasks").scalar_one()
            if engine.dialect.name != "sqlite":
                size = connection.exec_driver_sql(
                    "SELECT pg_database_size(current_database())").scalar_one()
                return rows, size / MB
    finally:
        engine.dispose()
    db = Path(store.removeprefix("sqlite:///"))
    files = [db, db.with_name(db.name + "-wal")]
    return rows, sum(path.stat().st_size for path in files if path.exists()) / MB


# -- reporting and the command line ------------------------------------------------------------

def print_phase(title: str, result: PhaseResult) -> None:
    peaks = result.peaks
    print(f"{title}: published {result.published:,} events at {result.publisher_rate:,.0f} ev/s; "
          f"stored {result.stored:,} (lost {result.lost:,}) at {result.drain_rate:,.0f} ev/s, "
          f"{result.cpu_us:.1f} µs CPU/ev ({result.cpu_use:.0%} of its core), "
          f"lag at end {result.lag:.2f} s")
    print(f"  tasks right {result.tasks_right:,}/{result.tasks:,} (missing {result.missing:,}, "
          f"wrong state {result.wrong:,}); peak lag {peaks.lag:.2f} s, "
          f"peak backlog {peaks.backlog:,} messages, peak Redis buffer "
          f"{peaks.pubsub_buffer / MB:.1f} MB of 32, disconnects {peaks.disconnects}")


def summary(drain: PhaseResult, paced: PhaseResult, rate: float, peak_rss: int) -> str:
    return (f"ingest: drain {drain.drain_rate:,.0f} ev/s, {drain.cpu_us:.0f} µs CPU/ev, "
            f"lag {drain.lag:.1f} s; publisher {drain.publisher_rate:,.0f} ev/s; "
            f"{rate / 1000:g}k/s input: {paced.stored:,}/{paced.published:,} events, "
            f"{paced.tasks_right:,}/{paced.tasks:,} tasks right, "
            f"lost {drain.lost + paced.lost:,}; peak RSS {peak_rss / MB:.0f} MB")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--events", type=int, default=400_000,
                        help="task events of the drain phase (default 400,000)")
    parser.add_argument("--seconds", type=float, default=20.0,
                        help="length of the paced phase (default 20)")
    parser.add_argument("--rate", type=float, default=18_000.0,
                        help="events/s of the paced phase, all publishers together "
                             "(default 18,000)")
    return parser.parse_args()


def cpu_pins() -> list[str]:
    """Give the collector a core to itself: this process (and so Redis and the publishers)
    moves to PUBLISHER_CPU, the collector starts under taskset on COLLECTOR_CPU."""
    if not {PUBLISHER_CPU, COLLECTOR_CPU} <= os.sched_getaffinity(0) or not shutil.which("taskset"):
        print("note: cannot pin processes to CPUs 0 and 1; figures will be noisier")
        return []
    os.sched_setaffinity(0, {PUBLISHER_CPU})
    return ["taskset", "-c", str(COLLECTOR_CPU)]


def _exit_on_sigterm(_signum, _frame) -> None:
    raise SystemExit("terminated")  # unwinds through main's finally: nothing is left running


def main() -> None:
    args = parse_args()
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    load = os.getloadavg()[0]
    if load > 0.5:
        print(f"note: load average {load:.1f} before start: other processes share these CPUs")
    pin = cpu_pins()
    with tempfile.TemporaryDirectory(prefix="scope-bench-") as tmp:
        workdir, port = Path(tmp), free_port()
        broker = f"redis://127.0.0.1:{port}/0"
        started: list[subprocess.Popen] = []
        closers: list = []
        monitor = None
        try:
            started.append(start_redis(workdir, port))
            if args.store == "postgresql":
                postgres = PostgresServer(fast=False).start()  # fsync on: a benchmark
                closers.append(postgres.close)
                store = postgres.url()
            else:
                store = f"sqlite:///{workdir}/h.db"
            collector = start_collector(workdir, broker, store, pin)
            started.append(collector)
            cache = SnapshotCache(str(workdir / "cache"))
            monitor = Monitor(psutil.Process(collector.pid), cache, redis.Redis(port=port))
            monitor.start()
            wait_connected(monitor, collector, workdir)
            idle_rss = psutil.Process(collector.pid).memory_info().rss
            drain = run_phase(broker, collector, monitor, store,
                              tasks_each=args.events // 4 // PUBLISHERS, rate_each=None)
            print_phase("drain", drain)
            paced = run_phase(broker, collector, monitor, store,
                              tasks_each=round(args.rate * args.seconds / 4 / PUBLISHERS),
                              rate_each=args.rate / PUBLISHERS)
            print_phase(f"paced {args.rate:,.0f} ev/s", paced)
            rows, megabytes = store_size(store)
            print(f"store: {rows:,} tasks, {megabytes:.0f} MB; malformed events "
                  f"{monitor.status['malformed']}; collector RSS {idle_rss / MB:.0f} MB idle, "
                  f"{monitor.peak_rss / MB:.0f} MB peak")
            print(summary(drain, paced, args.rate, monitor.peak_rss))
        finally:
            if monitor is not None:
                monitor.stop()
            for process in reversed(started):  # the collector first, then Redis
                stop(process)
            for close in closers:
                close()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)  # Ctrl-C: main's finally has already stopped everything it started
