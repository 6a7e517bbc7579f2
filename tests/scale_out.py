"""The scale-out shape for tests and the bench: collectors (`celery-scope collect`) and web
replicas (the WSGI app under waitress, as gunicorn would serve it), each with its own
directory and cache, over one PostgreSQL store."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

from .helpers import TESTS_DIR, Scope, free_port, stop_process, wait_until


def collector(directory: Path, broker: str, store: str) -> Scope:
    directory.mkdir(parents=True, exist_ok=True)
    return Scope(directory, broker, command=("celery-scope", "collect"), store=store).start()


def restart(instance: Scope) -> Scope:
    """Start a stopped collector again, ready once its new process reports (its directory
    still holds the status the old one left)."""
    instance.start()
    wait_until(lambda: instance.process and instance.status().get("pid") == instance.process.pid,
               30, "the restarted collector's own status")
    return instance


def leads(instance: Scope) -> bool:
    """Whether a collector says it leads (its own status, mirrored in its cache directory)."""
    return bool(instance.process and instance.status().get("leading"))


def kill_leader(first: Scope, second: Scope) -> tuple[Scope, Scope, float]:
    """kill -9 the leading collector; (the killed, the other, how long the other took to lead)."""
    leader, standby = (first, second) if leads(first) else (second, first)
    assert leads(leader) and not leads(standby)
    assert leader.process is not None
    killed_at = time.time()
    leader.process.send_signal(signal.SIGKILL)
    leader.process.wait(10)
    leader.process = None
    status = wait_until(lambda: standby.status() if leads(standby) else None, 30,
                        "the standby to take the lead")
    return leader, standby, status["leader_since"] - killed_at


class WebReplica:
    """`waitress-serve celery_scope.wsgi:server`, configured by CELERY_SCOPE_* only."""

    def __init__(self, directory: Path, broker: str, store: str):
        directory.mkdir(parents=True, exist_ok=True)
        self.directory, self.port = directory, free_port()
        self.env = {key: value for key, value in os.environ.items()
                    if not key.startswith("CELERY_SCOPE_")}
        self.env.update(CELERY_SCOPE_BROKER=broker, CELERY_SCOPE_STORE=store,
                        CELERY_SCOPE_CACHE_DIR=str(directory / "cache"))
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0) -> WebReplica:
        with open(self.directory / "web.log", "ab") as log:
            self.process = subprocess.Popen(
                ["waitress-serve", f"--listen=127.0.0.1:{self.port}", "--threads=4",
                 "celery_scope.wsgi:server"], env=self.env, cwd=TESTS_DIR, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_until(lambda: self.get("/healthcheck") == "OK", timeout, "the web replica")
        except AssertionError:
            self.stop()
            raise
        return self

    def get(self, path: str) -> str:
        assert self.process is not None and self.process.poll() is None, self.log()[-2000:]
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}",
                                        timeout=10) as response:
                return response.read().decode()
        except OSError:
            return ""

    def json(self, path: str):
        return json.loads(self.get(path))

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None

    def log(self) -> str:
        return (self.directory / "web.log").read_text(errors="replace")
