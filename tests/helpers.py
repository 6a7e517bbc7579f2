"""Real processes for tests: redis-server, celery workers, celery-scope; deadlines, not sleeps."""
from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import redis

TESTS_DIR = Path(__file__).parent
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def envelope(body) -> bytes:
    """An event message as the Redis transport publishes it: a kombu envelope holding
    `body` (one event, or a list of them as workers send buffered groups) as base64 JSON."""
    payload = base64.b64encode(json.dumps(body).encode()).decode()
    return json.dumps({"body": payload, "content-type": "application/json",
                       "content-encoding": "utf-8", "headers": {},
                       "properties": {"body_encoding": "base64", "delivery_tag": "x"}}).encode()


def message(*events) -> bytes:
    """One message holding a group of events."""
    return envelope(list(events))


def task(kind: str, uuid: str, ts, **fields) -> dict:
    """A task event from worker w@h."""
    return {"type": kind, "uuid": uuid, "timestamp": ts, "hostname": "w@h", **fields}


class GiveUp(AssertionError):
    """Raised by a check that knows waiting longer cannot help (its process exited)."""


def wait_until(check: Callable[[], T], timeout: float, what: str, every: float = 0.1) -> T:
    """Poll `check` until it returns something truthy; fail with `what` at the deadline."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = check()
        except GiveUp:
            raise
        except Exception as exc:  # noqa: BLE001 — not ready yet (connection refused, table missing...)
            last_error = exc
        else:
            if value:
                return value
        time.sleep(every)
    raise AssertionError(
        f"timed out after {timeout} s waiting for {what} (last error: {last_error})")


def wait_for(fetch: Callable[[], T], accept: Callable[[T], bool], timeout: float, what: str) -> T:
    """Poll `fetch` until `accept` likes its value; return that value."""
    found = []

    def check():
        value = fetch()
        if accept(value):
            found.append(value)
            return True
        return False

    wait_until(check, timeout, what)
    return found[-1]


def stop_process(process: subprocess.Popen, timeout: float = 15.0,
                 signum: int = signal.SIGTERM) -> None:
    """Stop a process started in its own session, then anything left in its group."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signum)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    if process.poll() is None:
        process.wait(5)



class TaskStream:
    """`rate` tasks a second from a thread until stopped: cluster.add, and cluster.fail as
    every `fail_every`-th task when given; `expected` maps each id sent to its final state."""

    def __init__(self, cluster_app, rate: float, prefix: str = "stream", fail_every: int = 0):
        self.app, self.rate, self.prefix, self.fail_every = cluster_app, rate, prefix, fail_every
        self.expected: dict[str, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def ids(self) -> list[str]:
        return list(self.expected)

    def _run(self) -> None:
        while not self._stop.wait(1 / self.rate):
            number = len(self.expected)
            task_id = f"{self.prefix}-{number}"
            if self.fail_every and number % self.fail_every == self.fail_every - 1:
                self.app.send_task("cluster.fail", args=("on purpose",), task_id=task_id)
                self.expected[task_id] = "FAILURE"
            else:
                self.app.send_task("cluster.add", args=(number, 1), task_id=task_id)
                self.expected[task_id] = "SUCCESS"

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *_):
        self._stop.set()
        self._thread.join()

class RedisServer:
    def __init__(self, directory: Path, port: int | None = None):
        self.directory, self.port = directory, port or free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no", "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        import redis
        client = redis.Redis(port=self.port)
        wait_until(client.ping, 10, "redis-server to answer PING")
        client.close()
        return self

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None


def start_worker(broker_url: str, name: str, log_dir: Path, concurrency: int = 2,
                 events: bool = True, options: tuple[str, ...] = ()) -> subprocess.Popen:
    environment = {**os.environ, "SCOPE_TEST_BROKER": broker_url,
                   "PYTHONPATH": str(TESTS_DIR) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    command = [sys.executable, "-m", "celery", "-A", "cluster_tasks", "worker", "-n", name,
               "-c", str(concurrency), "--without-gossip", "--without-mingle", "-l", "INFO",
               *options]
    if events:
        command.append("-E")
    with open(log_dir / f"{name.split('@')[0]}.log", "ab") as log:
        return subprocess.Popen(command, env=environment, cwd=TESTS_DIR, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)


class Scope:
    """A `celery-scope` process with its own port, store and cache."""

    def __init__(self, directory: Path, broker: str | None, *extra: str,
                 env: dict[str, str] | None = None, command: tuple[str, ...] = ("celery-scope",),
                 store: str | None = None, cwd: Path = TESTS_DIR):
        self.directory, self.command = directory, list(command)
        self.port = free_port()
        self.store = store or f"sqlite:///{directory / 'history.db'}"
        self.cache_dir = str(directory / "cache")
        self.broker, self.extra = broker, list(extra)
        self.env = env or {}
        self.cwd = cwd
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> Scope:
        command = [*self.command, "--port", str(self.port), "--store", self.store,
                   "--cache-dir", self.cache_dir, "--refresh-interval", "1", *self.extra]
        if self.broker:
            command += ["--broker", self.broker]
        environment = {key: value for key, value in os.environ.items()
                       if not key.startswith("CELERY_SCOPE_")}
        with open(self.directory / "scope.log", "ab") as log:
            self.process = subprocess.Popen(command, env={**environment, **self.env},
                                            cwd=self.cwd, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        try:
            if "collect" in self.command:  # no web server: ready once the collector reports
                wait_until(lambda: self._alive() and self.status().get("broker_connected"),
                           timeout, "collector status")
            else:
                prefix = (self.extra[self.extra.index("--url-prefix") + 1].rstrip("/")
                          if "--url-prefix" in self.extra else "")
                wait_until(lambda: self._alive() and self.get(f"{prefix}/healthcheck") == "OK",
                           timeout, "/healthcheck")
        except AssertionError:
            self.stop()  # a dashboard that never came up is not left running
            raise
        return self

    def _alive(self) -> bool:
        """A process that exited at start is a failure now, with its log, not a timeout."""
        if self.process.poll() is not None:
            raise GiveUp(f"celery-scope exited with {self.process.returncode}:\n"
                               + self.log()[-3000:])
        return True

    def get(self, path: str) -> str:
        with urllib.request.urlopen(self.url + path, timeout=5) as response:
            return response.read().decode()

    def status(self) -> dict:
        from celery_scope.store.cache import SnapshotCache
        cache = SnapshotCache(self.cache_dir)
        try:
            return cache.collector_status() or {}
        finally:
            cache.close()

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 15.0) -> int | None:
        if self.process is None:
            return None
        stop_process(self.process, timeout=timeout, signum=signum)
        code, self.process = self.process.returncode, None
        return code

    def log(self) -> str:
        return (self.directory / "scope.log").read_text(errors="replace")


RABBITMQ_BIN = Path("/usr/lib/rabbitmq/bin")  # Debian's rabbitmq-server package


class RabbitServer:
    """A private RabbitMQ node (management plugin on) on free loopback ports — AMQP,
    management, Erlang distribution and its own epmd — with all its state in `directory`."""

    def __init__(self, directory: Path):
        self.directory = directory / "rabbitmq"
        ports: set[int] = set()
        while len(ports) < 4:
            ports.add(free_port())
        self.port, self.management_port, self.dist_port, self.epmd_port = sorted(ports)
        self.node = f"scope{self.port}@localhost"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    @property
    def management_url(self) -> str:
        return f"http://guest:guest@127.0.0.1:{self.management_port}/api/"

    def environment(self) -> dict[str, str]:
        """For the node and for rabbitmqctl alike (the Erlang cookie lives in HOME)."""
        return {**os.environ, "HOME": str(self.directory), "RABBITMQ_NODENAME": self.node,
                "RABBITMQ_NODE_PORT": str(self.port), "RABBITMQ_DIST_PORT": str(self.dist_port),
                "ERL_EPMD_ADDRESS": "127.0.0.1", "ERL_EPMD_PORT": str(self.epmd_port),
                "RABBITMQ_MNESIA_BASE": str(self.directory / "mnesia"),
                "RABBITMQ_LOG_BASE": str(self.directory / "log"),
                "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.directory / "enabled_plugins"),
                "RABBITMQ_CONFIG_FILE": str(self.directory / "rabbitmq.conf")}

    def ctl(self, *args: str, timeout: float = 30) -> subprocess.CompletedProcess:
        return subprocess.run([str(RABBITMQ_BIN / "rabbitmqctl"), "-q", "-n", self.node, *args],
                              env=self.environment(), capture_output=True, timeout=timeout,
                              check=False)

    def start(self, timeout: float = 60.0) -> RabbitServer:
        self.directory.mkdir(parents=True)
        (self.directory / "enabled_plugins").write_text("[rabbitmq_management].\n")
        (self.directory / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\n"
            f"management.tcp.ip = 127.0.0.1\nmanagement.tcp.port = {self.management_port}\n")
        with open(self.directory / "server.log", "ab") as log:
            self.process = subprocess.Popen([str(RABBITMQ_BIN / "rabbitmq-server")],
                                            env=self.environment(), stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        wait_until(lambda: self.ctl("status", timeout=10).returncode == 0, timeout,
                   "the RabbitMQ node to answer rabbitmqctl status", every=0.5)
        wait_until(self._management_answers, timeout, "the management plugin")
        return self

    def _management_answers(self) -> bool:
        url = f"http://127.0.0.1:{self.management_port}/"
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200

    def stop(self) -> None:
        """Stop the node, then the epmd it started (which runs as a daemon of its own)."""
        if self.process is None:
            return
        try:
            self.ctl("stop")
        except subprocess.TimeoutExpired:
            pass
        stop_process(self.process)
        self.process = None
        subprocess.run(["epmd", "-kill"], env=self.environment(), capture_output=True, timeout=10,
                       check=False)


def broadcasts(redis_url: str, action) -> list[dict]:
    """Run `action` while listening on the control fanout; return the decoded commands."""
    client = redis.Redis.from_url(redis_url)
    listener = client.pubsub()
    listener.psubscribe("/0.celery.pidbox*")
    listener.get_message(timeout=1)  # the subscription confirmation
    seen = []
    try:
        action()
    finally:
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            message = listener.get_message(timeout=0.1)
            if message and message["type"] == "pmessage":
                envelope = json.loads(message["data"])
                seen.append(json.loads(base64.b64decode(envelope["body"])))
        listener.close()
        client.close()
    return seen


POSTGRES_BIN = Path("/usr/lib/postgresql/15/bin")  # Debian's postgresql package


def _as_postgres(command: list[str]) -> list[str]:
    """initdb refuses to run as root: run the server's tools as the postgres user then."""
    if os.getuid() != 0:
        return command
    return ["su", "postgres", "-s", "/bin/sh", "-c", " ".join(f"'{part}'" for part in command)]


class PostgresServer:
    """A private PostgreSQL server on a free loopback port, all its state in a folder of its
    own (not under pytest's temp folders, which other users may not enter); `close` stops
    it and removes the folder."""

    USER = "scope"

    def __init__(self, fast: bool = True):
        self.directory = Path(tempfile.mkdtemp(prefix="celery-scope-pg-"))
        self.data, self.sockets = self.directory / "data", self.directory / "sockets"
        self.port = free_port()
        self.fast = fast  # fsync off: tests only, never benchmarks

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.USER}@127.0.0.1:{self.port}/{database}"

    def _run(self, *command: str, timeout: float = 60) -> None:
        subprocess.run(_as_postgres([str(POSTGRES_BIN / command[0]), *command[1:]]), check=True,
                       capture_output=True, timeout=timeout)

    def start(self) -> PostgresServer:
        if not self.data.exists():
            for folder in (self.data, self.sockets):
                folder.mkdir(parents=True)
            if os.getuid() == 0:  # the server runs as the postgres user: it owns its folder
                subprocess.run(["chown", "-R", "postgres", str(self.directory)], check=True)
            self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", self.USER)
        options = f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1"
        if self.fast:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run("pg_ctl", "-D", str(self.data), "-w", "-o", options,
                  "-l", str(self.directory / "server.log"), "start")
        return self

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def close(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)

    def create_database(self, name: str) -> str:
        import psycopg
        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)
