"""The scale table: SQLite and PostgreSQL side by side over millions of stored tasks.

Seeds (bench/seed.py) one store per kind with --tasks tasks over 7 days, then measures
through the code the pages and the API run:

* the grid's pages (tasks.queries.page with a parsed filter): first page and the page at
  row 50,000 sorted by received time, rows 100-200 sorted by name, worker and runtime;
* the dashboard's refresh callback (cards, worker table, throughput) posted to Dash through
  the Flask test client, as an open tab does every 2 s;
* the filtered row count per single filter; free-text search (first 100 matches of
  /api/tasks?search=) for a word found in a few rows and for one found nowhere;
* the CSV export (/api/tasks.csv, streamed) in rows/s; every /explore chart over 24 h and
  7 d (query + frame + figure, as bench/explore.py), the slowest of each;
* retention pruning (HistoryStore.prune in the collector's batches) of the oldest 10%, on a
  copy of the store;
* a real `celery-scope` process over the store: start-up until /healthcheck answers, its
  RSS after the page requests above; then 500 workers heartbeating every 2 s through a
  real redis-server (celery's EventDispatcher) while the dashboard callback is posted to
  that process: its median and p95, and the process's CPU share (collector and web in one
  process: with heartbeats alone, and with the refreshes too).

Figures are medians (and p95 where the target is about latency) over --runs runs. The
machine may be shared: the load average is printed, rerun to compare. Ingest drain,
standby takeover and visibility latency have their own benches (ingest.py,
standby_takeover.py, visibility_latency.py).

Run:  python bench/scale_table.py --store both --tasks 1000000 --keep /var/tmp/scope-scale
(with --keep, seeded stores are kept there and reused; without, they go at the end)
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import celery
import psutil
import psycopg
import requests
from celery import Celery
from celery.events import EventDispatcher
from explore import chart_seconds
from seed import seed_postgresql, seed_sqlite
from task_history import DAY, NAMES, QUEUES, WORKERS
from worker_page import callback_payload

from celery_scope import create_app
from celery_scope.collector.retention import DELETE_BATCH
from celery_scope.config import resolve
from celery_scope.series.spec import METRICS, SeriesSpec
from celery_scope.services import Services
from celery_scope.store.history import HistoryStore
from celery_scope.store.search_index import ensure_search_index, stop_search_index
from celery_scope.tasks import queries
from celery_scope.tasks.filters import parse_filter
from tests.helpers import PostgresServer, RedisServer, Scope, wait_until

HEARTBEATING = 500  # workers
HEARTBEAT_SECONDS = 2.0
SEARCH_WORD = "customer-4242"  # in the args of one task in 9,973
MISSING_WORD = "nowhere-to-be-found"


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    target: str = ""
    limit: float | None = None  # the target as a number in the figure's unit
    higher_is_better: bool = False


FIGURES = [
    Figure("first_page", "grid first page (sorted by received)", "< 50 ms", 50),
    Figure("page_50k", "grid page at row 50,000", "< 100 ms", 100),
    *(Figure(f"sort_{column}", f"grid rows 100-200 sorted by {column}", "< 100 ms", 100)
      for column in ("name", "worker", "runtime")),
    Figure("dashboard", "dashboard refresh callback", "< 50 ms", 50),
    *(Figure(f"count_{label}", f"row count, filter {label}", "< 200 ms", 200)
      for label in ("state", "name", "worker", "queue", "runtime range")),
    Figure("search_index", "search index build (once, when a store first opens with it)"),
    Figure("search_hit", f"search {SEARCH_WORD!r}, first 100 (/api/tasks)", "< 300 ms", 300),
    Figure("search_miss", "search a word found nowhere, first 100", "< 300 ms", 300),
    Figure("export", "CSV export /api/tasks.csv (streamed)", "", None, True),
    Figure("explore_24h", "/explore slowest 24 h chart", "< 500 ms", 500),
    Figure("explore_7d", "/explore slowest 7 d chart", "< 500 ms", 500),
    Figure("prune", "retention pruning, oldest 10%", "", None, True),
    Figure("startup", "start-up until /healthcheck answers", "", None),
    Figure("rss", "web process RSS after the page requests", "< 300 MB", 300),
    Figure("hb_dashboard", f"dashboard callback, {HEARTBEATING} workers heartbeating",
           "< 50 ms", 50),
    Figure("hb_cpu_idle", f"process CPU, {HEARTBEATING} heartbeating, no page open"),
    Figure("hb_cpu_busy", "process CPU, heartbeats + dashboard refreshes"),
]


@dataclass
class Cell:
    text: str
    value: float | None = None  # compared with the figure's limit


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def timings(action: Callable[[], object], runs: int, warm_up: int = 1) -> list[float]:
    """Seconds per call of `action`, after `warm_up` calls not counted."""
    for _ in range(warm_up):
        action()
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        seconds.append(time.perf_counter() - started)
    return seconds


def latency(seconds: list[float], with_p95: bool = True) -> Cell:
    median = statistics.median(seconds) * 1000
    if with_p95 and len(seconds) >= 5:
        p95 = statistics.quantiles(seconds, n=20, method="inclusive")[-1] * 1000
        return Cell(f"{median:,.1f} ms (p95 {p95:,.1f})", max(median, p95))
    return Cell(f"{median:,.1f} ms", median)


# -- stores --------------------------------------------------------------------------


class Stores:
    """Where the seeded stores live: --keep, or a temporary folder removed at the end; the
    PostgreSQL server's data folder is in it too, so a kept one is started again."""

    def __init__(self, keep: str | None):
        self.root = Path(keep or tempfile.mkdtemp(prefix="scope-scale-"))
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)  # the postgres user walks into its data folder
        self.kept = keep is not None
        self.postgres: PostgresServer | None = None

    def _meta(self, name: str) -> dict | None:
        path = self.root / f"{name}.json"
        return json.loads(path.read_text()) if path.exists() else None

    def _remember(self, name: str, meta: dict) -> None:
        (self.root / f"{name}.json").write_text(json.dumps(meta))

    def sqlite(self, tasks: int) -> tuple[str, float]:
        """The URL of an SQLite store of `tasks` tasks and the end of its data."""
        name, path = f"sqlite-{tasks}", self.root / f"sqlite-{tasks}.db"
        meta = self._meta(name)
        if meta is None or not path.exists():
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            end = time.time()
            say(f"seeding {tasks:,} tasks into {path}")
            seed_sqlite(str(path), tasks, end)
            meta = {"end": end, "tasks": tasks}
            self._remember(name, meta)
        return f"sqlite:///{path}", meta["end"]

    def server(self) -> PostgresServer:
        if self.postgres is None:
            server = PostgresServer(fast=False)  # fsync on: a benchmark, not a test
            shutil.rmtree(server.directory)
            server.directory = self.root / "postgresql"
            server.data, server.sockets = server.directory / "data", server.directory / "sockets"
            self.postgres = server.start()
        return self.postgres

    def postgresql(self, tasks: int) -> tuple[str, float]:
        server, name = self.server(), f"postgresql-{tasks}"
        database = f"scope_{tasks}"
        meta = self._meta(name)
        with psycopg.connect(server.url(), autocommit=True) as connection:
            exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                        (database,)).fetchone()
            if meta is None and exists:
                connection.execute(f'DROP DATABASE "{database}"')
        if meta is None or not exists:
            end = time.time()
            say(f"seeding {tasks:,} tasks into PostgreSQL database {database}")
            seed_postgresql(server.create_database(database), tasks, end)
            meta = {"end": end, "tasks": tasks}
            self._remember(name, meta)
        return server.url(database), meta["end"]

    def store(self, kind: str, tasks: int) -> tuple[str, float]:
        return self.sqlite(tasks) if kind == "sqlite" else self.postgresql(tasks)

    def close(self) -> None:
        if self.postgres is not None:
            if self.kept:
                self.postgres.stop()
            else:
                self.postgres.close()
        if not self.kept:
            shutil.rmtree(self.root, ignore_errors=True)


# -- in-process figures ----------------------------------------------------------------


def grid_figures(engine, now: float, runs: int) -> dict[str, Cell]:
    by_received = parse_filter({})
    cells: dict[str, Cell] = {
        label: latency(timings(partial(queries.page, engine, by_received, start, 100, now),
                               runs))
        for label, start in (("first_page", 0), ("page_50k", 50_000))}
    for column in ("name", "worker", "runtime"):
        task_filter = parse_filter({"sort": column})
        cells[f"sort_{column}"] = latency(timings(
            partial(queries.page, engine, task_filter, 100, 100, now), runs))
    filters = {"state": {"state": "FAILURE"}, "name": {"name": NAMES[3]},
               "worker": {"worker": WORKERS[7]}, "queue": {"queue": QUEUES[2]},
               "runtime range": {"runtime_min": "1", "runtime_max": "10"}}
    for label, params in filters.items():
        task_filter = parse_filter(params)
        cells[f"count_{label}"] = latency(timings(
            partial(queries.count, engine, task_filter, now), max(3, runs // 3)), False)
    return cells


def app_client(url: str, broker: str, directory: str, search_index: bool = False):
    settings = resolve({"broker": broker, "store": url, "cache_dir": f"{directory}/cache",
                        "retention_tasks": 10**9, "retention_days": 3650,
                        "search_index": search_index}, environ={})
    services = Services.open(settings)
    client = create_app(settings, services).server.test_client()
    client.get("/")
    return client, services


def dashboard_payload(dependencies: list[dict]) -> dict:
    refresh = next(dep for dep in dependencies if "dashboard-summary.children" in dep["output"])
    return callback_payload(refresh, {
        entry["id"]: 1 if entry["property"] == "n_intervals" else "Europe/Paris"
        for entry in refresh["inputs"]})


def dashboard_figures(client, runs: int) -> dict[str, Cell]:
    payload = dashboard_payload(client.get("/_dash-dependencies").json)

    def refresh():
        response = client.post("/_dash-update-component", json=payload)
        if response.status_code != 200:
            raise SystemExit(f"dashboard callback: {response.status_code} {response.data[:300]!r}")
    return {"dashboard": latency(timings(refresh, runs))}


def search_figures(client, runs: int) -> dict[str, Cell]:
    def search(word: str, expect_rows: bool):
        def call():
            response = client.get("/api/tasks", query_string={"search": word, "limit": 100})
            if response.status_code != 200 or bool(response.get_json()) != expect_rows:
                raise SystemExit(f"search {word!r}: {response.status_code} "
                                 f"{response.data[:300]!r}")
        return call
    return {"search_hit": latency(timings(search(SEARCH_WORD, True), runs)),
            "search_miss": latency(timings(search(MISSING_WORD, False), max(3, runs // 3)))}


def export_figures(client, total: int, export_runs: int) -> dict[str, Cell]:
    rates = []
    for _ in range(export_runs):
        started = time.perf_counter()
        response = client.get("/api/tasks.csv", buffered=False)
        size = sum(len(part) for part in response.response)
        response.close()
        rates.append(total / (time.perf_counter() - started))
    rate = statistics.median(rates)
    return {"export": Cell(f"{rate:,.0f} rows/s ({size / 2**20:,.0f} MB)", rate)}


def explore_figures(engine, now: float, runs: int) -> dict[str, Cell]:
    cells = {}
    for label, span in (("24h", "24h"), ("7d", "7d")):
        slowest, which = 0.0, ""
        for metric, definition in METRICS.items():
            for group in (None, definition.groups[0]):
                spec = SeriesSpec(metric=metric, group=group, range=span)
                seconds = chart_seconds(engine, spec, now, runs)
                if seconds > slowest:
                    slowest, which = seconds, f"{metric}{' by ' + group if group else ''}"
        cells[f"explore_{label}"] = Cell(f"{slowest * 1000:,.0f} ms ({which})", slowest * 1000)
    return cells


def prune_figure(copy_url: str, end: float, total: int, budget: float) -> Cell:
    """Delete the oldest 10% as the collector's retention does, batch by batch, for at most
    `budget` seconds; rows/s."""
    store = HistoryStore(copy_url)
    cutoff = end - 7 * DAY * 0.9
    deleted, started = 0, time.perf_counter()
    while time.perf_counter() - started < budget:
        step = store.prune(cutoff, DELETE_BATCH)
        deleted += step
        if step < DELETE_BATCH:
            break
    seconds = time.perf_counter() - started
    store.close()
    rate = deleted / seconds
    share = "" if deleted >= total // 10 - DELETE_BATCH else f", {deleted:,} rows in {budget:.0f} s"
    return Cell(f"{rate:,.0f} rows/s ({DELETE_BATCH:,} a batch{share})", rate)


def store_copy(stores: Stores, kind: str, url: str) -> tuple[str, Callable[[], None]]:
    """A throwaway copy of a store, and how to remove it."""
    if kind == "sqlite":
        target = stores.root / "prune-copy.db"
        reader = sqlite3.connect(f"file:{url.removeprefix('sqlite:///')}?mode=ro", uri=True)
        writer = sqlite3.connect(target)
        reader.backup(writer)
        reader.close()
        writer.close()

        def remove() -> None:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{target}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{target}", remove
    server, source = stores.server(), url.rsplit("/", 1)[1]
    with psycopg.connect(server.url(), autocommit=True) as connection:
        connection.execute('DROP DATABASE IF EXISTS "prune_copy"')
        connection.execute(f'CREATE DATABASE "prune_copy" TEMPLATE "{source}"')

    def drop() -> None:
        with psycopg.connect(server.url(), autocommit=True) as connection:
            connection.execute('DROP DATABASE "prune_copy"')
    return server.url("prune_copy"), drop


# -- a real process ----------------------------------------------------------------


class Heartbeats:
    """`count` workers each sending worker-heartbeat every 2 s (spread over the 2 s, as
    independent workers are), through celery's EventDispatcher, from a thread."""

    def __init__(self, broker: str, count: int):
        self.app = Celery(broker=broker)
        self.connection = self.app.connection_for_write()
        self.dispatchers = [EventDispatcher(self.connection, app=self.app,
                                            hostname=f"hb{number:03d}@scale.bench")
                            for number in range(count)]
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        for dispatcher in self.dispatchers:
            dispatcher.send("worker-online", freq=HEARTBEAT_SECONDS, sw_ident="py-celery",
                            sw_ver=celery.__version__, sw_sys="Linux")
        gap = HEARTBEAT_SECONDS / len(self.dispatchers)
        next_at = time.monotonic()
        while not self._stop.is_set():
            for number, dispatcher in enumerate(self.dispatchers):
                dispatcher.send("worker-heartbeat", freq=HEARTBEAT_SECONDS,
                                sw_ident="py-celery", sw_ver=celery.__version__, sw_sys="Linux",
                                active=number % 5, processed=self.sent // len(self.dispatchers),
                                loadavg=[0.5, 0.4, 0.3])
                self.sent += 1
                next_at += gap
                if self._stop.wait(max(0.0, next_at - time.monotonic())):
                    break

    def __enter__(self) -> Heartbeats:
        self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._stop.set()
        self._thread.join(10)
        for dispatcher in self.dispatchers:
            dispatcher.close()
        self.connection.release()


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def process_figures(url: str, broker: str, end: float, directory: Path, seconds: float,
                    rounds: int, search_index: bool) -> dict[str, Cell]:
    scope = Scope(directory, broker, "--retention-tasks", str(10**9), "--retention-days", "3650",
                  *(["--search-index"] if search_index else []), store=url)
    started = time.perf_counter()
    scope.start(timeout=600)
    assert scope.process is not None
    cells = {"startup": Cell(f"{time.perf_counter() - started:,.1f} s")}
    try:
        process = psutil.Process(scope.process.pid)
        http = requests.Session()
        dependencies = http.get(scope.url + "/_dash-dependencies", timeout=30).json()
        dashboard = dashboard_payload(dependencies)
        grid = next(dep for dep in dependencies if "getRowsResponse" in dep["output"])
        chart = next(dep for dep in dependencies if "explore-chart.figure" in dep["output"])

        def post(payload: dict) -> None:
            response = http.post(scope.url + "/_dash-update-component", json=payload,
                                 timeout=120)
            if response.status_code != 200:
                raise SystemExit(f"callback: {response.status_code} {response.text[:300]}")

        for _ in range(rounds):  # the pages above, as a browser asks them
            post(dashboard)
            for start, sort in ((0, "received"), (50_000, "received"), (100, "name")):
                post(callback_payload(grid, {"tasks-grid": {
                    "startRow": start, "endRow": start + 100,
                    "sortModel": [{"colId": sort, "sort": "desc"}]},
                    "tasks-filter": parse_filter({}).to_params()}))
            post(callback_payload(chart, {"explore-spec": {
                "metric": "runtime", "group": "name", "range": "", "since": repr(end - 7 * DAY),
                "until": repr(end)}, "browser-tz": "Europe/Paris", "explore-redraw-chart": 1}))
            http.get(scope.url + "/api/tasks", params={"search": SEARCH_WORD, "limit": "100"},
                     timeout=120).raise_for_status()
        if rounds:
            with http.get(scope.url + "/api/tasks.csv", params={"state": "FAILURE"},
                          stream=True, timeout=600) as response:
                for _ in response.iter_content(1 << 20):
                    pass
            cells["rss"] = Cell(f"{process.memory_info().rss / 2**20:,.0f} MB",
                                process.memory_info().rss / 2**20)

        with Heartbeats(broker, HEARTBEATING) as beats:
            store = HistoryStore(url)
            wait_until(lambda: len([worker for worker in store.workers()
                                    if worker["hostname"].endswith("@scale.bench")
                                    and worker["status"] == "online"]) == HEARTBEATING,
                       120, f"{HEARTBEATING} heartbeating workers stored", every=0.5)
            store.close()
            busy_before, wall = cpu_seconds(process), time.perf_counter()
            time.sleep(seconds)  # heartbeats alone: what the collector costs
            share = (cpu_seconds(process) - busy_before) / (time.perf_counter() - wall)
            cells["hb_cpu_idle"] = Cell(f"{share:.0%} of a core")
            busy_before, wall = cpu_seconds(process), time.perf_counter()
            refreshes = []
            while time.perf_counter() - wall < seconds:  # 4 open tabs refreshing every 2 s
                began = time.perf_counter()
                post(dashboard)
                refreshes.append(time.perf_counter() - began)
                time.sleep(max(0.0, 0.5 - (time.perf_counter() - began)))
            share = (cpu_seconds(process) - busy_before) / (time.perf_counter() - wall)
            cells["hb_cpu_busy"] = Cell(f"{share:.0%} of a core ({len(refreshes)} refreshes)")
            cells["hb_dashboard"] = latency(refreshes)
            say(f"  heartbeats sent: {beats.sent:,}")
    finally:
        scope.stop()
    return cells


# -- the table -----------------------------------------------------------------------


def measure(stores: Stores, kind: str, options, redis_url: str) -> dict[str, Cell]:
    """Every figure for one store. A part that fails (a checkout caught mid-edit, a server
    that would not start) is reported and leaves its figures out; the others still count."""
    url, end = stores.store(kind, options.tasks)
    now = end + 1  # the data's own "now", so a kept store keeps its last day and week
    say(f"{kind}: measuring over {options.tasks:,} tasks "
        f"(data ends {(time.time() - end) / 3600:.1f} h ago; load average "
        f"{os.getloadavg()[0]:.1f})")
    cells: dict[str, Cell] = {}
    store = HistoryStore(url)
    total = store.count_tasks()
    started = time.perf_counter()  # the collector's once-only rebuild of a seeded store
    if not store.rollups_ready():
        store.rebuild_rollups()
        say(f"  {kind}: the chart rollups built from {total:,} tasks in "
            f"{time.perf_counter() - started:,.0f} s")
    directory = tempfile.mkdtemp(prefix=f"scope-scale-{kind}-")

    def built_index() -> dict[str, Cell]:
        started = time.perf_counter()  # once per kept store: the index stays in it
        building = ensure_search_index(store.engine)
        if building is not None:
            building.join()
        stop_search_index(store.engine)
        return {"search_index": Cell(f"{time.perf_counter() - started:,.1f} s")}

    def in_app(figures: Callable[..., dict[str, Cell]], *args,
               search_index: bool = False) -> Callable[[], dict[str, Cell]]:
        def run() -> dict[str, Cell]:
            client, services = app_client(url, redis_url, directory, search_index)
            try:
                return figures(client, *args)
            finally:
                services.close()
        return run

    def pruned() -> dict[str, Cell]:
        store.engine.dispose()  # PostgreSQL copies a database nobody is connected to
        copy_url, drop = store_copy(stores, kind, url)
        try:
            return {"prune": prune_figure(copy_url, end, total, options.prune_seconds)}
        finally:
            drop()

    parts = {
        "grid": lambda: grid_figures(store.engine, now, options.runs),
        "explore": lambda: explore_figures(store.engine, now, options.chart_runs),
        "dashboard": in_app(dashboard_figures, options.runs),
        "search": lambda: built_index() | in_app(search_figures, options.runs,
                                                 search_index=True)(),
        "export": in_app(export_figures, total, options.export_runs),
        "process": lambda: process_figures(url, redis_url, end, Path(directory),
                                           options.heartbeat_seconds, options.page_rounds,
                                           "search" in options.parts),
        "prune": pruned,
    }
    try:
        for name, part in parts.items():
            if name not in options.parts:
                continue
            try:
                found = part()
            except Exception as exc:  # noqa: BLE001 — reported, and the other parts go on
                say(f"  {name}: FAILED: {type(exc).__name__}: {exc}")
                continue
            cells |= found
            say(f"  {name} done: " + "; ".join(f"{key} {cell.text}"
                                               for key, cell in found.items()))
    finally:
        store.close()
        shutil.rmtree(directory, ignore_errors=True)
    return cells


def missed(figure: Figure, cell: Cell) -> bool:
    if figure.limit is None or cell.value is None:
        return False
    return cell.value < figure.limit if figure.higher_is_better else cell.value >= figure.limit


def table(results: dict[str, dict[str, Cell]], tasks: int) -> str:
    kinds = list(results)
    names = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
    lines = [f"| figure, {tasks:,} tasks | target | "
             + " | ".join(names[kind] for kind in kinds) + " |",
             "|---|---|" + "---|" * len(kinds)]
    for figure in FIGURES:
        cells = []
        for kind in kinds:
            cell = results[kind].get(figure.key)
            if cell is None:
                cells.append("—")
            else:
                cells.append(f"**{cell.text} ✗**" if missed(figure, cell) else cell.text)
        lines.append(f"| {figure.label} | {figure.target or '—'} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def measured_commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                              check=False).stdout.strip()
    changed = git("status", "--porcelain", "--", "app")
    return git("rev-parse", "--short", "HEAD") + (
        f" (with uncommitted changes in {len(changed.splitlines())} file(s) of app/)"
        if changed else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--keep", help="folder keeping the seeded stores between runs")
    parser.add_argument("--runs", type=int, default=15, help="timed runs per latency figure")
    parser.add_argument("--chart-runs", type=int, default=3, help="timed runs per chart")
    parser.add_argument("--export-runs", type=int, default=2)
    parser.add_argument("--prune-seconds", type=float, default=120.0,
                        help="at most this long deleting (rows/s of what went)")
    parser.add_argument("--heartbeat-seconds", type=float, default=20.0,
                        help="length of each heartbeat phase")
    parser.add_argument("--page-rounds", type=int, default=5,
                        help="rounds of page requests to the real process before its RSS")
    parser.add_argument("--parts", type=lambda text: text.split(","),
                        default=["grid", "explore", "dashboard", "search", "export", "process",
                                 "prune"],
                        help="which figures, comma-separated: grid, explore, dashboard, search "
                             "(builds the search index first, once per kept store), export, "
                             "process (start-up, RSS, heartbeats), prune")
    parser.add_argument("--seed-only", action="store_true",
                        help="seed the stores (into --keep) and stop")
    options = parser.parse_args()
    commit = measured_commit()  # the code this process runs, whatever lands meanwhile
    kinds = ["sqlite", "postgresql"] if options.store == "both" else [options.store]
    stores = Stores(options.keep)
    if options.seed_only:
        for kind in kinds:
            stores.store(kind, options.tasks)
        stores.close()
        return
    redis_dir = Path(tempfile.mkdtemp(prefix="scope-scale-redis-"))
    redis_server = RedisServer(redis_dir).start()
    load_before = os.getloadavg()
    results = {}
    try:
        for kind in kinds:
            results[kind] = measure(stores, kind, options, redis_server.url)
    finally:
        redis_server.stop()
        shutil.rmtree(redis_dir, ignore_errors=True)
        stores.close()
    print(table(results, options.tasks))
    print(f"\nMeasured at commit {commit}, {os.cpu_count()} CPUs shared with other "
          f"work (load average {load_before[0]:.1f} at start, {os.getloadavg()[0]:.1f} at the "
          f"end); medians of {options.runs} runs (counts and the search miss: "
          f"{max(3, options.runs // 3)}; charts: {options.chart_runs}; exports: "
          f"{options.export_runs}). ✗ marks a figure that misses its target.")


if __name__ == "__main__":
    main()
