"""/explore at scale: chart render time over 1,000,000 tasks spread over 7 days, and memory
across 50 consecutive refreshes.

Builds (once, reused with --db) the SQLite store of bench/task_history.py, plus a week of
worker samples (50 workers, every 10 s), then prints:

* per metric and grouping, for the last 24 hours and the whole 7 days: the median time of
  query + frame + figure (what one chart costs the server), against the 300 ms and 1.5 s
  targets;
* the server's resident memory across 50 consecutive refreshes of the chart callback,
  through the real Flask app (request parsing and JSON included);
* the browser page's JS heap (after a forced GC) across 50 consecutive redraws in headless
  chromium, when /usr/bin/chromium is there.

Run:  python bench/explore.py [--db /tmp/scope-bench-1m.db] [--runs 5] [--no-browser]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import psutil
from task_history import DAY, WORKERS, generate
from worker_page import callback_payload

from celery_scope import create_app
from celery_scope.components.explore_charts import series_figure
from celery_scope.config import resolve
from celery_scope.series.build import build_series
from celery_scope.series.frames import zone
from celery_scope.series.spec import METRICS, SeriesSpec
from celery_scope.services import Services
from celery_scope.store.history import HistoryStore

TARGETS = {"24 h": 0.300, "7 d": 1.5}
SAMPLE_EVERY = 10.0


def ensure_store(path: str, tasks: int) -> float:
    """Build the store if it is missing; return the end of its data (epoch seconds)."""
    store = HistoryStore(f"sqlite:///{path}")
    with store.engine.connect() as connection:
        end = connection.exec_driver_sql("SELECT max(received) FROM tasks").scalar()
        samples = connection.exec_driver_sql("SELECT count(*) FROM worker_samples").scalar()
    if end is None:
        end = time.time()
        print(f"building {tasks:,} tasks over 7 days in {path} ...", flush=True)
        generate(store, tasks, end)
    if not samples:
        print("adding a week of worker samples (50 workers, every 10 s) ...", flush=True)
        steps = int(7 * DAY / SAMPLE_EVERY)
        for first in range(0, steps, 2000):
            rows = [{"hostname": worker, "timestamp": end - 7 * DAY + step * SAMPLE_EVERY,
                     "active": (step + number) % 9, "processed": step,
                     "load1": 0.5 + ((step * 7 + number) % 40) / 10}
                    for step in range(first, min(steps, first + 2000))
                    for number, worker in enumerate(WORKERS)]
            store.write([], [], rows)
    store.close()
    return end


def chart_seconds(engine, spec: SeriesSpec, now: float, runs: int) -> float:
    tz = zone("Europe/Paris")
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        series = build_series(engine, spec, now)
        series_figure(series, tz, spec.metric).to_plotly_json()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def chart_times(path: str, end: float, runs: int) -> None:
    store = HistoryStore(f"sqlite:///{path}")
    now = end + 1
    print(f"\nchart render (query + frame + figure), median of {runs}:")
    print(f"{'metric':<15}{'group':<8}{'24 h':>9}{'7 d':>9}")
    worst = dict.fromkeys(TARGETS, 0.0)
    for metric, definition in METRICS.items():
        for group in (None, definition.groups[0]):
            cells = []
            for label, span in (("24 h", "24h"), ("7 d", "7d")):
                spec = SeriesSpec(metric=metric, group=group, range=span)
                seconds = chart_seconds(store.engine, spec, now, runs)
                worst[label] = max(worst[label], seconds)
                cells.append(f"{seconds * 1000:7.0f}ms")
            print(f"{metric:<15}{group or '-':<8}{cells[0]:>9}{cells[1]:>9}")
    for label, target in TARGETS.items():
        verdict = "within" if worst[label] < target else "OVER"
        print(f"slowest {label} chart: {worst[label] * 1000:.0f} ms ({verdict} the "
              f"{target * 1000:.0f} ms target)")
    store.close()


def server_memory(path: str, end: float, refreshes: int) -> None:
    """RSS of this process across consecutive refreshes of the chart callback."""
    cache = tempfile.mkdtemp(prefix="bench-explore-cache-")
    settings = resolve({"broker": "redis://127.0.0.1:1/0", "store": f"sqlite:///{path}",
                        "cache_dir": cache}, environ={})
    services = Services.open(settings)
    client = create_app(settings, services).server.test_client()
    client.get("/")
    dependencies = client.get("/_dash-dependencies").json
    render = next(dep for dep in dependencies if "explore-chart.figure" in dep["output"])
    spec = {"metric": "runtime", "group": "name", "range": "", "since": repr(end - DAY),
            "until": repr(end)}
    process = psutil.Process()
    readings = []
    for number in range(1, refreshes + 1):
        payload = callback_payload(render, {"explore-spec": spec, "browser-tz": "Europe/Paris",
                                            "explore-redraw-chart": number})
        response = client.post("/_dash-update-component", json=payload)
        if response.status_code != 200:
            raise SystemExit(f"callback failed: {response.status_code}")
        if number in (1, 10, 20, 30, 40, 50) or number == refreshes:
            readings.append((number, process.memory_info().rss / 2**20))
    print("\nserver RSS across consecutive refreshes (runtime by task name, 24 h): "
          + ", ".join(f"#{number}: {rss:.0f} MB" for number, rss in readings))
    services.close()


def browser_memory(path: str, end: float, refreshes: int) -> None:
    """JS heap of a headless chromium page across consecutive chart redraws."""
    from playwright.sync_api import sync_playwright
    from waitress.server import create_server

    cache = tempfile.mkdtemp(prefix="bench-explore-cache-")
    settings = resolve({"broker": "redis://127.0.0.1:1/0", "store": f"sqlite:///{path}",
                        "cache_dir": cache}, environ={})
    services = Services.open(settings)
    server = create_server(create_app(settings, services).server, host="127.0.0.1", port=0,
                           threads=4)
    threading.Thread(target=server.run, daemon=True).start()
    url = f"http://127.0.0.1:{server.effective_port}"
    since, until = time.gmtime(end - DAY), time.gmtime(end)
    window = (f"since={time.strftime('%Y-%m-%dT%H:%M:%S', since)}"
              f"&until={time.strftime('%Y-%m-%dT%H:%M:%S', until)}")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                             args=["--headless=new", "--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        session = page.context.new_cdp_session(page)
        page.goto(f"{url}/explore?metric=succeeded&group=name&{window}")
        page.wait_for_selector("#explore-chart .scatterlayer .trace", state="attached")

        def heap_mb() -> float:
            session.send("HeapProfiler.collectGarbage")
            return page.evaluate("performance.memory.usedJSHeapSize") / 2**20

        readings = [(0, heap_mb())]
        metrics = ["succeeded", "failed", "received", "runtime", "failure_ratio"]
        for number in range(1, refreshes + 1):
            page.locator("#explore-metric").click()
            label = METRICS[metrics[number % len(metrics)]].label
            page.get_by_role("option", name=label, exact=True).click()
            page.wait_for_function(  # the chart is redrawn when its title names the metric
                "(label) => (document.querySelector('#explore-chart .gtitle') || {})"
                ".textContent === label + ' by task name'", arg=label, timeout=30000)
            if number in (1, 10, 20, 30, 40, 50) or number == refreshes:
                readings.append((number, heap_mb()))
        browser.close()
    server.close()
    services.close()
    print("browser JS heap across consecutive redraws (24 h, by task name): "
          + ", ".join(f"#{number}: {mb:.1f} MB" for number, mb in readings))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="/tmp/scope-bench-1m.db")
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--refreshes", type=int, default=50)
    parser.add_argument("--no-browser", action="store_true")
    options = parser.parse_args()
    end = ensure_store(options.db, options.tasks)
    print(f"store: {options.db}, {os.path.getsize(options.db) / 2**20:.0f} MB")
    chart_times(options.db, end, options.runs)
    server_memory(options.db, end, options.refreshes)
    if not options.no_browser and os.path.exists("/usr/bin/chromium"):
        browser_memory(options.db, end, options.refreshes)


if __name__ == "__main__":
    main()
