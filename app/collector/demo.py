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
from collections.abc import Callable
from pathlib import Path

from celery import Celery, states
from sqlalchemy import or_, select

from ..store.history import HistoryStore
from ..store.schema import tasks
from .demo_tasks import STATE_DIR_ENV, make_demo_app

log = logging.getLogger(__name__)

DIR_PREFIX = "celery-scope-demo-"
WORKER_NAMES = ("demo-alpha", "demo-beta")
SEND_EVERY = (0.2, 0.6)  # seconds between two generated tasks, uniformly
STOP_SECONDS = 1.5  # of warm shutdown: most demo tasks end in it; a worker still busy is killed
DRAIN_SECONDS = 0.5  # longest wait for the collector to read the workers' last events
ENDED_STATES = (states.SUCCESS, states.FAILURE, states.REVOKED, states.REJECTED)
TERMINATED = "Terminated: the demo cluster stopped while the task ran"
DISCARDED = "Discarded: the demo cluster stopped before the task ran"
WATCH_SECONDS = 1.0  # how often the demo looks whether its workers still run
LOG_LINES = 8  # of a dead worker's log, shown in the terminal and the banner


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
    def __init__(self, workers: tuple[str, ...] = WORKER_NAMES, concurrency: int = 2,
                 report: Callable[[str], None] | None = None):
        """`report` is told, once per worker, that it died and why (its last log lines)."""
        self.worker_names, self.concurrency = workers, concurrency
        self.report = report
        self.state_dir: Path | None = None
        self.celery_app: Celery | None = None
        self._workers: list[subprocess.Popen] = []
        self._beat: subprocess.Popen | None = None  # the demo's `celery beat`
        self._stop = threading.Event()
        self._generator = threading.Thread(target=self._generate, name="demo-tasks", daemon=True)
        self._watcher = threading.Thread(target=self._watch, name="demo-watch", daemon=True)

    def start(self) -> Celery:
        temp = Path(tempfile.gettempdir())
        remove_stale_state_dirs(temp)
        self.state_dir = Path(tempfile.mkdtemp(prefix=DIR_PREFIX, dir=temp))
        (self.state_dir / "owner.pid").write_text(str(os.getpid()))
        self.celery_app = make_demo_app(self.state_dir)
        log.info("demo: embedded filesystem broker in %s", self.state_dir)
        (self.state_dir / "tmp").mkdir()  # workers' temporary files go with the rest
        environment = {**os.environ, STATE_DIR_ENV: str(self.state_dir),
                       "TMPDIR": str(self.state_dir / "tmp")}
        for name in self.worker_names:
            self._workers.append(self._celery(
                name, environment, "worker", "-E", "-n", f"{name}@%h", "-c",
                str(self.concurrency), "--without-gossip", "--without-mingle"))
        self._beat = self._celery("beat", environment, "beat", "-s",
                                  str(self.state_dir / "beat-schedule"), "--pidfile=")
        log.info("demo: started workers %s (celery worker -E, %d processes each) and beat",
                 ", ".join(self.worker_names), self.concurrency)
        self._generator.start()
        self._watcher.start()
        log.info("demo: sending a mix of tasks: successes, slow ones, failures, retries, ETAs")
        return self.celery_app

    def _celery(self, name: str, environment: dict[str, str], *command: str) -> subprocess.Popen:
        """A `celery` process of the demo app, logging to <state dir>/<name>.log."""
        assert self.state_dir is not None  # start() made it
        with open(self.state_dir / f"{name}.log", "wb") as log_file:
            return subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "celery_scope.collector.demo_tasks",
                 *command, "-l", "WARNING"],
                env=environment, stdout=log_file, stderr=subprocess.STDOUT,
                cwd=self.state_dir,  # the installed code runs, whatever the user's folder holds
                start_new_session=True,  # Ctrl-C reaches us, and we stop the workers in order
            )

    def _watch(self) -> None:
        """A worker that dies (at start, most often) is said so, with why, not left silent."""
        reported: set[str] = set()
        while not self._stop.wait(WATCH_SECONDS):
            for name, worker in zip(self.worker_names, self._workers):
                if worker.poll() is None or name in reported:
                    continue
                reported.add(name)
                message = (f"demo worker {name} exited with code {worker.returncode}: "
                           f"{self.last_log_lines(name)}")
                log.error("%s", message)
                if self.report is not None:
                    self.report(message)

    def last_log_lines(self, name: str) -> str:
        if self.state_dir is None:  # not started: no worker has logged yet
            return "(no log)"
        try:
            lines = (self.state_dir / f"{name}.log").read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return " | ".join(line.strip() for line in lines[-LOG_LINES:] if line.strip())

    def _generate(self) -> None:
        if self.celery_app is None:  # start() sets it before it starts this thread
            raise RuntimeError("the demo generator runs only once the demo has started")
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

    def stop_workers(self) -> None:
        """Warm shutdown: running tasks may finish and those not started go back to the
        queue. A worker still busy after STOP_SECONDS is killed (`settle` then records what
        that cut short). The collector runs meanwhile and receives the workers' last events."""
        self._stop.set()
        for thread in (self._generator, self._watcher):
            if thread.is_alive():
                thread.join(1)
        started = time.monotonic()
        for worker in self._workers:
            self._signal(worker, signal.SIGTERM)
        if self._beat is not None:  # it sends nothing more once told; nothing of it to keep
            self._signal(self._beat, signal.SIGKILL, group=True)
            self._beat.wait()
        for name, worker in zip(self.worker_names, self._workers):
            try:
                worker.wait(max(0.0, started + STOP_SECONDS - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.info("demo: worker %s still busy after %.1f s; killed", name, STOP_SECONDS)
            self._signal(worker, signal.SIGKILL, group=True)  # and pool processes left behind
            worker.wait()
        log.info("demo: workers stopped in %.1f s", time.monotonic() - started)

    def wait_for_events_read(self, timeout: float = DRAIN_SECONDS) -> None:
        """Until the collector has taken the workers' last events from the demo broker."""
        if self.state_dir is None:
            return
        queue = self.state_dir / "queue"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(
                name.partition(".")[2].startswith("celeryev.") for name in os.listdir(queue)):
            time.sleep(0.05)

    def remove_state_dir(self) -> None:
        if self.state_dir is not None:
            shutil.rmtree(self.state_dir, ignore_errors=True)
            log.info("demo: removed %s", self.state_dir)

    @staticmethod
    def _signal(worker: subprocess.Popen, signum: int, group: bool = False) -> None:
        """Signals go to the worker's main process: sent to its group, they would reach its
        pool processes too and cut their tasks short."""
        try:
            if group:
                os.killpg(worker.pid, signum)
            else:
                os.kill(worker.pid, signum)
        except (ProcessLookupError, PermissionError):
            pass


def settle(store: HistoryStore, now: float | None = None) -> int:
    """Record how the demo's unfinished tasks ended once its workers are gone, and that the
    workers are: each demo run has a broker of its own, removed at exit, so none of its
    tasks will go on, and a killed worker sent no goodbye. Returns the tasks settled."""
    now = time.time() if now is None else now
    query = select(tasks.c.uuid).where(
        tasks.c.state.not_in(ENDED_STATES),
        or_(tasks.c.name.like("demo.%"), tasks.c.worker.like("demo-%")))
    with store.engine.connect() as connection:
        uuids = [row.uuid for row in connection.execute(query)]
    rows = list(store.load_tasks(uuids).values())
    for row in rows:
        row.update(state=states.REVOKED, timestamp=now, revoked=now, traceback=None,
                   exception=TERMINATED if row["state"] == states.STARTED else DISCARDED)
    workers = [{**row, "status": "offline"} for name, row in store.load_workers().items()
               if name.split("@")[0] in WORKER_NAMES]
    store.write(rows, workers)
    if rows:
        log.info("demo: %d unfinished tasks recorded as revoked by the demo's stop", len(rows))
    return len(rows)
