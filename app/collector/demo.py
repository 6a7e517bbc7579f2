"""The built-in demo cluster: an embedded filesystem:// broker, two real `celery worker -E`
processes and a generator sending a steady mix of tasks, so a newcomer sees live data
without installing a broker. Everything lives in one temp directory removed at exit."""
from __future__ import annotations

import logging
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from celery import Celery

from .demo_tasks import STATE_DIR_ENV, make_demo_app

log = logging.getLogger(__name__)

DIR_PREFIX = "celery-scope-demo-"
WORKER_NAMES = ("demo-alpha", "demo-beta")
SEND_EVERY = (0.2, 0.6)  # seconds between two generated tasks, uniformly
STOP_GRACE_SECONDS = 8.0  # warm shutdown lets the slowest demo task finish


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_state_dirs(parent: Path) -> None:
    """Delete demo directories left by a demo that was killed before it could clean up."""
    for directory in parent.glob(DIR_PREFIX + "*"):
        pid_file = directory / "owner.pid"
        try:
            pid = int(pid_file.read_text())
        except (OSError, ValueError):
            continue
        if not _pid_alive(pid):
            shutil.rmtree(directory, ignore_errors=True)


class DemoCluster:
    def __init__(self, workers: tuple[str, ...] = WORKER_NAMES, concurrency: int = 2):
        self.worker_names, self.concurrency = workers, concurrency
        self.state_dir: Path | None = None
        self.celery_app: Celery | None = None
        self._workers: list[subprocess.Popen] = []
        self._stop = threading.Event()
        self._generator = threading.Thread(target=self._generate, name="demo-tasks", daemon=True)

    def start(self) -> Celery:
        temp = Path(tempfile.gettempdir())
        remove_stale_state_dirs(temp)
        self.state_dir = Path(tempfile.mkdtemp(prefix=DIR_PREFIX, dir=temp))
        (self.state_dir / "owner.pid").write_text(str(os.getpid()))
        self.celery_app = make_demo_app(self.state_dir)
        log.info("demo: embedded filesystem broker in %s", self.state_dir)
        environment = {**os.environ, STATE_DIR_ENV: str(self.state_dir)}
        for name in self.worker_names:
            with open(self.state_dir / f"{name}.log", "wb") as log_file:
                self._workers.append(subprocess.Popen(
                    [sys.executable, "-m", "celery", "-A", "app.collector.demo_tasks", "worker",
                     "-E", "-n", f"{name}@%h", "-c", str(self.concurrency), "--without-gossip",
                     "--without-mingle", "-l", "WARNING"],
                    env=environment, stdout=log_file, stderr=subprocess.STDOUT,
                    start_new_session=True,  # Ctrl-C reaches us, and we stop the workers in order
                ))
        log.info("demo: started workers %s (celery worker -E, %d processes each)",
                 ", ".join(self.worker_names), self.concurrency)
        self._generator.start()
        log.info("demo: sending a mix of tasks: successes, slow ones, failures, retries, ETAs")
        return self.celery_app

    def _generate(self) -> None:
        send = self.celery_app.send_task
        customers = ("acme", "globex", "initech", "umbrella", "Ünïcode GmbH")
        choices = [
            (40, lambda: send("demo.add", args=(random.randint(0, 99), random.randint(0, 99)))),
            (10, lambda: send("demo.slow", args=(round(random.uniform(1, 4), 1),))),
            (8, lambda: send("demo.fail", args=(random.choice(("timeout", "bad input")),))),
            (6, lambda: send("demo.flaky", args=(random.randint(1, 2),))),
            (4, lambda: send("demo.fanout", args=(random.randint(2, 4),))),
            (8, lambda: send("demo.report", args=(random.choice(customers),))),
            (4, lambda: send("demo.add", args=(1, 2), countdown=random.randint(5, 20))),
        ]
        weights = [weight for weight, _ in choices]
        while not self._stop.wait(random.uniform(*SEND_EVERY)):
            try:
                random.choices(choices, weights)[0][1]()
            except Exception as exc:  # noqa: BLE001 — keep generating: one failed send is not fatal
                log.warning("demo: could not send a task: %s", exc)

    def stop(self) -> None:
        self._stop.set()
        if self._generator.is_alive():
            self._generator.join(5)
        for worker in self._workers:
            self._signal(worker, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS  # one grace period for all of them
        for worker in self._workers:
            try:
                worker.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:  # e.g. billiard stuck finalizing its pool
                self._signal(worker, signal.SIGKILL)
                worker.wait()
        for worker in self._workers:  # pool children that outlived their parent
            self._signal(worker, signal.SIGKILL)
        if self.state_dir is not None:
            shutil.rmtree(self.state_dir, ignore_errors=True)
        log.info("demo: stopped workers and removed %s", self.state_dir)

    @staticmethod
    def _signal(worker: subprocess.Popen, signum: int) -> None:
        try:
            os.killpg(worker.pid, signum)
        except (ProcessLookupError, PermissionError):
            pass
