"""The Inspector: asks workers what they are doing, on a schedule and on demand.

One round runs the fixed method list concurrently, each with the configured timeout, so a
round takes about one timeout rather than eight. Replies are merged into the cache per
worker and method with their time: a worker that misses one round keeps its last answer.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from celery import Celery
from kombu import Connection

from ..broker.gate import broker_call
from ..store.cache import Cache

log = logging.getLogger(__name__)

METHODS = ("stats", "active_queues", "registered", "scheduled", "active", "reserved", "revoked",
           "conf")
REQUEST_POLL_SECONDS = 0.5  # how often the poller looks for on-demand requests


@dataclass(frozen=True)
class RoundResult:
    replies: dict[str, dict[str, Any]]  # {method: {hostname: reply}}
    answered: list[str]
    silent: list[str]  # expected workers that did not answer any method in time
    seconds: float


class Inspector:
    def __init__(self, celery_app: Celery, cache: Cache, timeout: float):
        self.app, self.cache, self.timeout = celery_app, cache, timeout
        self._pool = ThreadPoolExecutor(len(METHODS), thread_name_prefix="inspect")
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[Connection] = []

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            _release(connection)

    def _call(self, method: str, destination: list[str] | None,
              expected: int | None) -> dict[str, Any]:
        with broker_call(f"inspect {method} of {destination or 'all workers'}"):
            kept = getattr(self._local, "connection", None)
            if kept is not None:
                try:
                    return self._ask(method, destination, expected)
                except kept.connection_errors:
                    pass  # it may have died since its last use (the broker restarted): one
                    # fresh try tells a dead connection from a dead broker
            return self._ask(method, destination, expected)

    def _ask(self, method: str, destination: list[str] | None,
             expected: int | None) -> dict[str, Any]:
        """One call on this thread's connection; any failure forgets the connection."""
        options: dict[str, Any] = {"timeout": self.timeout, "destination": destination}
        if expected:
            options["limit"] = expected  # stop waiting once every expected worker replied
        try:
            inspect = self.app.control.inspect(connection=self._connection(), **options)
            if method == "conf":
                return inspect.conf(with_defaults=False) or {}
            return getattr(inspect, method)() or {}
        except Exception:
            self._forget_connection()
            raise

    def _connection(self) -> Connection:
        """This pool thread's own connection for the replies, kept between rounds.

        Opening one and declaring its reply queue cost 8 ms of CPU per call, so a round of
        eight calls took 90 ms; kept, a call costs 3 ms. It is the thread's own, outside the
        broker pool: calls that each held one pooled connection while waiting for a second
        could exhaust the pool and deadlock the process (the publish still takes a pooled
        producer, briefly).
        """
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = self.app.connection_for_read()
            with self._lock:
                self._connections.append(connection)
        return connection

    def _forget_connection(self) -> None:
        connection = self._local.__dict__.pop("connection", None)
        if connection is None:
            return
        with self._lock:
            if connection in self._connections:
                self._connections.remove(connection)
        _release(connection)

    def refresh(self, hostname: str | None = None,
                expected: Iterable[str] = ()) -> RoundResult:
        """Run one round for one worker, or all; merge the replies into the cache.

        With `expected` (the workers believed online) the round ends as soon as all of them
        answered every method, instead of after the full timeout. Raises the broker's error
        if every call failed on it.
        """
        started = time.monotonic()
        destination = [hostname] if hostname else None
        waiting_for = {hostname} if hostname else set(expected)
        futures = {method: self._pool.submit(self._call, method, destination, len(waiting_for))
                   for method in METHODS}
        replies: dict[str, dict[str, Any]] = {}
        errors = []
        for method, future in futures.items():
            try:
                replies[method] = future.result()
            except Exception as exc:  # noqa: BLE001 — broker gone, or a worker sent garbage
                errors.append(exc)
        if errors and not replies:
            raise errors[0]
        self.cache.merge_inspection(replies, time.time())
        answered = set().union(*(set(reply) for reply in replies.values()))
        return RoundResult(replies, sorted(answered), sorted(waiting_for - answered),
                           time.monotonic() - started)


def _release(connection: Connection) -> None:
    try:
        connection.release()
    except Exception as exc:  # noqa: BLE001 — closing a dead connection may fail any way
        log.debug("closing an Inspector connection failed: %s", exc)


class InspectorPoller:
    """Thread running an Inspector round every `interval` seconds and whenever one is
    requested, while `leading` says so (a standby collector leaves it to the leader)."""

    def __init__(self, inspector: Inspector, interval: float,
                 leading: Callable[[], bool] = lambda: True):
        self.inspector, self.interval, self.leading = inspector, interval, leading
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="inspector", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)
        self.inspector.close()

    def _run(self) -> None:
        next_round = 0.0
        while not self._stop.is_set():
            if not self.leading():
                self._stop.wait(REQUEST_POLL_SECONDS)
                continue
            try:
                request = self.inspector.cache.take_inspection_request()
            except Exception as exc:  # noqa: BLE001 — a shared cache may be away with its store
                log.warning("could not read Inspector requests: %s", exc)
                request = None
            if request is not None or time.monotonic() >= next_round:
                hostname = request.get("hostname") if request else None
                try:
                    self.inspector.refresh(hostname)
                except Exception as exc:  # noqa: BLE001 — the poller must outlive any round
                    log.warning("Inspector round failed: %s", exc)
                if hostname is None:
                    next_round = time.monotonic() + self.interval
            self._stop.wait(REQUEST_POLL_SECONDS)
