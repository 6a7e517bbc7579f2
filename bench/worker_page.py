"""Worker page server time with the worker's Inspector data already cached.

Opening `/workers/<name>` costs the server two Dash requests: the pages router (which runs
the page's layout function) and the page's render callback (store row, samples for the
chart, the cached snapshot turned into tabs). This builds a store and cache holding one
worker with 200 registered tasks, a busy stats/conf/active/scheduled/reserved snapshot and
an hour of samples, then times both requests through the real Flask app (request parsing,
callback, JSON serialisation included) and prints the median and 95th percentile.

Run:  python bench/worker_page.py [--requests 100] [--registered 200]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from celery_scope import create_app
from celery_scope.config import resolve
from celery_scope.services import Services
from celery_scope.store.merge import new_worker_row

WORKER = "busy@bench"


def fill(services: Services, registered: int) -> None:
    """One online worker, an hour of samples, and a large snapshot in the cache."""
    now = time.time()
    row = new_worker_row(WORKER)
    row.update(last_heartbeat=now, first_seen=now - 3600, freq=2.0, active=8, processed=12345,
               load1=1.5, load5=1.2, load15=1.0, sw_ident="py-celery", sw_ver="5.4.0")
    samples = [{"hostname": WORKER, "timestamp": now - 3600 + 10 * step, "active": step % 8,
                "processed": step * 10, "load1": 1.0 + (step % 5) / 10} for step in range(360)]
    services.store.write([], [row], samples)
    names = [f"project.module{number // 20}.task_{number}" for number in range(registered)]
    request = {"id": "0" * 36, "name": names[0], "args": [1, "x" * 40], "kwargs": {"k": 1},
               "time_start": now - 5, "worker_pid": 4242, "acknowledged": True,
               "delivery_info": {"exchange": "", "routing_key": "celery"}, "hostname": WORKER}
    replies = {
        "stats": {"pid": 1, "uptime": 86400, "clock": "1", "prefetch_count": 32,
                  "total": {name: number for number, name in enumerate(names)},
                  "pool": {"implementation": "celery.concurrency.prefork:TaskPool",
                           "max-concurrency": 8, "processes": list(range(100, 108)),
                           "max-tasks-per-child": "N/A", "timeouts": [0, 0]},
                  "broker": {"hostname": "redis", "port": 6379, "transport": "redis"},
                  "rusage": {"utime": 100.0, "stime": 20.0, "maxrss": 200000}},
        "active_queues": [{"name": f"queue{number}", "exchange": {"name": "", "type": "direct"},
                           "routing_key": f"queue{number}", "durable": True,
                           "auto_delete": False, "exclusive": False} for number in range(10)],
        "registered": names,
        "active": [dict(request, id=f"{number:036d}") for number in range(8)],
        "scheduled": [{"eta": "2030-01-01T00:00:00+00:00", "priority": 6,
                       "request": dict(request, id=f"s{number:035d}")} for number in range(50)],
        "reserved": [dict(request, id=f"r{number:035d}") for number in range(32)],
        "revoked": [f"v{number:035d}" for number in range(100)],
        "conf": {f"setting_{number}": f"value {number}" for number in range(150)},
    }
    services.cache.merge_inspection({method: {WORKER: reply} for method, reply in replies.items()},
                                    now)


def callback_payload(dependency: dict, values: dict) -> dict:
    """The JSON body Dash's renderer posts for one callback."""
    def ids(entries):
        return [dict(entry, value=values.get(entry["id"])) for entry in entries]
    outputs = [{"id": part.split(".")[0], "property": part.split(".")[1]}
               for part in dependency["output"].strip(".").split("...")]
    if not dependency["output"].startswith(".."):  # a single output is sent bare
        outputs = outputs[0]
    return {"output": dependency["output"], "outputs": outputs,
            "inputs": ids(dependency["inputs"]), "state": ids(dependency["state"]),
            "changedPropIds": [f"{entry['id']}.{entry['property']}"
                               for entry in dependency["inputs"]]}


def timed(client, payload: dict) -> float:
    started = time.perf_counter()
    response = client.post("/_dash-update-component", json=payload)
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise SystemExit(f"callback failed: {response.status_code} {response.data[:300]!r}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--registered", type=int, default=200)
    options = parser.parse_args()
    directory = tempfile.mkdtemp(prefix="bench-worker-page-")
    settings = resolve({"broker": "redis://127.0.0.1:1/0", "store": f"sqlite:///{directory}/h.db",
                        "cache_dir": f"{directory}/cache"}, environ={})
    services = Services.open(settings)
    fill(services, options.registered)
    client = create_app(settings, services).server.test_client()
    client.get("/")
    dependencies = client.get("/_dash-dependencies").json
    router = next(dep for dep in dependencies if "_pages_content" in dep["output"])
    render = next(dep for dep in dependencies if "worker-header" in dep["output"])
    route = callback_payload(router, {"_pages_location": f"/workers/{WORKER}"})
    route["inputs"] = [dict(entry, value=f"/workers/{WORKER}" if entry["property"] == "pathname"
                            else "") for entry in router["inputs"]]
    data = callback_payload(render, {"refresh-interval": 1, "worker-data-version": 0,
                                     "worker-name": WORKER})
    totals = []
    for _ in range(options.requests):
        totals.append(timed(client, route) + timed(client, data))
    totals.sort()
    median = statistics.median(totals) * 1000
    p95 = totals[int(len(totals) * 0.95) - 1] * 1000
    print(f"worker page, {options.registered} registered tasks, snapshot cached: server time "
          f"median {median:.0f} ms, p95 {p95:.0f} ms over {options.requests} opens "
          "(router + render callback)")
    services.close()


if __name__ == "__main__":
    main()
