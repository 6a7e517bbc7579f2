"""Tasks of the built-in demo cluster: fast, slow, failing, retrying and fan-out work.

Demo workers run `celery -A app.collector.demo_tasks worker`; the broker's state
directory comes from the environment variable set by DemoCluster.
"""
from __future__ import annotations

import os
import random
import time
from pathlib import Path

from celery import Celery

from .demo_transport import PATH as DEMO_TRANSPORT

STATE_DIR_ENV = "SCOPE_DEMO_STATE_DIR"


def demo_config(state_dir: Path) -> dict:
    """Celery settings for the embedded filesystem:// broker living in `state_dir`."""
    queue = str(state_dir / "queue")
    return {
        "broker_url": "filesystem://",
        "broker_transport": DEMO_TRANSPORT,
        "broker_transport_options": {
            "data_folder_in": queue,
            "data_folder_out": queue,
            "processed_folder": str(state_dir / "processed"),
            "control_folder": str(state_dir / "control"),
            "store_processed": False,
            "polling_interval": 0.1,  # seconds per hop; kombu's default of 1 s feels sluggish
        },
        "result_backend": f"file://{state_dir / 'results'}",
        "task_send_sent_event": True,
        "worker_send_task_events": True,
        "broker_connection_retry_on_startup": True,
    }


def make_demo_app(state_dir: Path) -> Celery:
    for folder in ("queue", "processed", "control", "results"):
        (state_dir / folder).mkdir(parents=True, exist_ok=True)
    celery_app = Celery("demo", set_as_current=False)
    celery_app.conf.update(demo_config(state_dir))
    return celery_app


app = make_demo_app(Path(os.environ[STATE_DIR_ENV])) if STATE_DIR_ENV in os.environ else Celery(
    "demo", set_as_current=False)


@app.task(name="demo.add")
def add(x: int, y: int) -> int:
    time.sleep(random.uniform(0.02, 0.3))
    return x + y


@app.task(name="demo.slow")
def slow(seconds: float) -> str:
    time.sleep(seconds)
    return f"slept {seconds:.1f} s"


@app.task(name="demo.fail")
def fail(reason: str) -> None:
    time.sleep(random.uniform(0.01, 0.1))
    raise ValueError(f"demo failure: {reason}")


@app.task(name="demo.flaky", bind=True, max_retries=3)
def flaky(self, failures: int) -> str:
    """Fails `failures` times, retrying after a second each time, then succeeds."""
    if self.request.retries < failures:
        raise self.retry(exc=ConnectionError("upstream not ready"), countdown=1)
    return f"succeeded after {failures} retries"


@app.task(name="demo.fanout")
def fanout(count: int) -> int:
    for number in range(count):
        add.delay(number, number)
    return count


@app.task(name="demo.report")
def report(customer: str) -> dict:
    time.sleep(random.uniform(0.1, 0.5))
    return {"customer": customer, "rows": random.randint(1, 5000), "note": "quotes \" and, commas"}
