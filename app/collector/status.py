"""The collector's health as the UI shows it: broker link, ingestion counters, lag.

Kept in memory by the collector threads and published to the shared cache about once a
second, so web processes (possibly other processes, on other machines) can show a banner
without touching the collector. Publishing is serialised and takes its snapshot under the
same lock, so an older snapshot never lands after a newer one; the broker receiver only asks
for a publish (the writer's next step makes it), since a store that hangs must never stop it
draining the broker. Each collector publishes under its own id, saying whether
it leads (see leadership.py) and since when.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
from typing import Any

from ..store.outage import short_store_error

log = logging.getLogger(__name__)

PUBLISH_SECONDS = 1.0


class CollectorStatus:
    def __init__(self, cache, broker: str, collector: str = "", leading: bool = True,
                 leader_since: float | None = None):
        self._cache = cache
        self._lock = threading.Lock()
        self._published_at = 0.0
        self._publish_lock = threading.Lock()
        self._publish_asked = False
        self._publish_failing = False
        self._state: dict[str, Any] = {
            "collector": collector, "host": socket.gethostname(), "pid": os.getpid(),
            "leading": leading, "leader_since": leader_since,
            "broker": broker, "broker_connected": False, "broker_error": None,
            "demo_error": None, "store_error": None, "store_down_since": None, "quarantined": 0,
            "last_quarantined": None, "spooled": 0, "spool_bytes": 0, "spool_dropped": 0,
            "spooled_total": 0,
            "events": 0, "malformed": 0, "last_malformed": None,
            "last_event_at": None, "lag": None, "backlog": 0, "started_at": time.time(),
        }

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._state)

    def _update(self, **changes: Any) -> None:
        with self._lock:
            self._state.update(changes)

    def connected(self) -> None:
        log.info("connected to the broker's event stream")
        self._update(broker_connected=True, broker_error=None)
        self._publish_asked = True

    def disconnected(self, error: BaseException) -> None:
        log.warning("event stream lost: %s", error)
        self._update(broker_connected=False, broker_error=f"{type(error).__name__}: {error}")
        self._publish_asked = True

    def unreadable(self, error: BaseException) -> None:
        """The transport could not even parse a message (e.g. a half-written file)."""
        self.malformed(f"unreadable message: {error}")

    def malformed(self, problem: Exception | str) -> None:
        with self._lock:
            self._state["malformed"] += 1
            count = self._state["malformed"]
            self._state["last_malformed"] = str(problem)
        if count & (count - 1) == 0:  # log the 1st, 2nd, 4th, 8th... not every one
            log.warning("skipped malformed event (%d so far): %s", count, problem)

    def ingested(self, count: int, newest_timestamp: float | None) -> None:
        now = time.time()
        with self._lock:
            self._state["events"] += count
            if newest_timestamp is not None:
                self._state["last_event_at"] = now
                self._state["lag"] = max(0.0, now - newest_timestamp)

    def set_backlog(self, messages: int) -> None:
        self._update(backlog=messages)

    def store_failed(self, error: BaseException) -> None:
        """The store could not be reached: say so in one short line, with no SQL in it."""
        with self._lock:
            first = self._state["store_down_since"] is None
            self._state["store_error"] = short_store_error(error)
            if first:
                self._state["store_down_since"] = time.time()
        self.publish_if_due(force=True)

    def store_ok(self) -> None:
        if self._state["store_error"] is not None:
            self._update(store_error=None, store_down_since=None)
            self.publish_if_due(force=True)

    def demo_failed(self, message: str) -> None:
        """A demo worker died: the banner must say so instead of showing green."""
        self._update(demo_error=message[:600])
        self.publish_if_due(force=True)

    def quarantined(self, count: int, reason: str) -> None:
        with self._lock:
            self._state["quarantined"] += count
            self._state["last_quarantined"] = reason[:200]

    def spool(self, messages: int, size: int, dropped: int, total: int) -> None:
        """What waits in the on-disk spool (messages, bytes), what it had to let go, and
        how many messages went through it in all (a backlog that came and went shows)."""
        self._update(spooled=messages, spool_bytes=size, spool_dropped=dropped,
                     spooled_total=total)

    def leadership(self, leading: bool, since: float | None) -> None:
        self._update(leading=leading, leader_since=since)
        self.publish_if_due(force=True)

    def publish_if_due(self, force: bool = False) -> None:
        with self._publish_lock:
            now = time.monotonic()
            if not (force or self._publish_asked) and now - self._published_at < PUBLISH_SECONDS:
                return
            self._published_at, self._publish_asked = now, False
            state = self.snapshot()
            state["updated_at"] = time.time()
            try:
                self._cache.put_collector_status(state)
            except Exception as exc:  # noqa: BLE001 — a convenience: never let it stop ingestion
                if not self._publish_failing:  # once per outage, not every second
                    log.warning("could not publish the collector status: %s",
                                short_store_error(exc))
                self._publish_failing = True
            else:
                self._publish_failing = False
