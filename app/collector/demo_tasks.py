"""Tasks of the built-in demo cluster: fast, slow, failing, retrying and fan-out work.

Demo workers run `celery -A celery_scope.collector.demo_tasks worker`; the broker's state
directory comes from the environment variable set by DemoCluster.
"""
from __future__ import annotations

import atexit
import os
import random
import sys
import time
from pathlib import Path

from celery import Celery, signals
from celery.schedules import crontab

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
        "worker_timer_precision": 0.1,  # the worker's timer thread ends within this at stop
        # A worker with every process busy would otherwise block handing over its next task
        # (this transport's worker loop is synchronous), deaf to Ctrl-C until one is free;
        # it takes only as many tasks as it has processes.
        "worker_pool_putlocks": False,
        "worker_prefetch_multiplier": 1,
        "worker_pool_restarts": True,  # the dashboard's "Restart pool" works on the demo
        # What the demo's own `celery beat` sends, so /beat has entries to watch.
        "beat_schedule": {
            "refresh report": {"task": "demo.report", "schedule": 15.0, "args": ("beat",)},
            "minutely sum": {"task": "demo.add", "schedule": crontab(), "args": (20, 22)},
        },
    }


def make_demo_app(state_dir: Path) -> Celery:
    for folder in ("queue", "processed", "control", "results"):
        (state_dir / folder).mkdir(parents=True, exist_ok=True)
    celery_app = Celery("demo", set_as_current=False)
    celery_app.conf.update(demo_config(state_dir))
    return celery_app


class _ShortSleeps:
    """billiard.pool's `time` module with sleeps of at most 0.1 s: its pool threads sleep
    0.8-1 s between two rounds, and a pool being stopped waits for them to wake up."""

    def __getattr__(self, name: str):
        return getattr(time, name)

    @staticmethod
    def sleep(seconds: float) -> None:
        time.sleep(min(seconds, 0.1))


def _short_pool_sleeps(**_kwargs) -> None:
    import billiard.pool
    billiard.pool.time = _ShortSleeps()


def _exit_at_once_when_stopped(exitcode: int = 0, **_kwargs) -> None:
    """Once Celery has stopped a demo worker it asked to stop (pool joined, last events
    sent), the process leaves without the interpreter's teardown: billiard's finalizer
    waits for a thread asleep for a second, then comes garbage collection, over a second
    on a loaded machine with nothing left to save. Registered now, so it runs first."""
    def leave() -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(exitcode)
    atexit.register(leave)


if STATE_DIR_ENV in os.environ:  # a demo worker: DemoCluster sets it for them alone
    app = make_demo_app(Path(os.environ[STATE_DIR_ENV]))
    signals.worker_init.connect(_short_pool_sleeps)
    signals.worker_shutting_down.connect(_exit_at_once_when_stopped)
else:
    app = Celery("demo", set_as_current=False)


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
