"""Flower's Prometheus metrics as plain counters, folded by the writer thread from the events
it merges (pure: no I/O, no prometheus_client).

Flower's semantics, checked against Flower 2.2: every task event counts in
`events[(hostname, type, name)]`; a `runtime` feeds the histogram; a task received without
an ETA counts as prefetched by its worker until it starts, and starting sets the prefetch
time (started - received), reset to 0 when it finishes; heartbeats carry the number of
executing tasks. Beyond Flower: a prefetched task revoked or rejected before it started
stops counting, a worker that comes back online starts with nothing prefetched, each state
a task enters is counted per task name, and a worker whose heartbeats stopped is offline
once Celery's expiry has passed (see `expires_at`); its series can be purged after a while.

Every label value is text (`label`) and every value taken from an event a finite number
(`_number`), whatever the event carried: one integer task name or text heartbeat time kept
here would fail every later scrape. At most `max_task_names` task names get series of their
own; events of further names count under the task label `other` (and in `folded`), so a
cluster that puts ids in its task names cannot grow /metrics without bound.

Only the writer thread mutates a MetricState; `snapshot()` is pickled by that same thread.
"""
from __future__ import annotations

import math
import time
from bisect import bisect_left
from collections.abc import Callable, Sequence
from typing import Any

from celery import states

from ..config import Settings
from ..store.merge import HEADERS_EVENT
from ..workers import liveness
from ..workers.liveness import DEFAULT_FREQ

_FINISHED = ("task-succeeded", "task-failed")
_DROPPED = ("task-revoked", "task-rejected")
_PREFETCH_EVENTS = frozenset(("task-received", "task-started", *_FINISHED, *_DROPPED))
OTHER = "other"  # the task label of every name beyond max_task_names


def label(value: Any) -> str:
    """A label value as text: prometheus_client writes only text, and events may carry a
    number, an object or nothing where a name or hostname belongs."""
    if isinstance(value, str):
        return value
    return "" if value is None else str(value)


def _number(value: Any) -> float | None:
    """A finite number as float, else None (text, booleans, NaN): what metric arithmetic
    and the exposition can use."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def expires_at(worker: dict[str, Any]) -> float:
    """Epoch time after which a silent worker counts as offline (see workers/liveness.py)."""
    return liveness.expires_at(worker["last"], worker["freq"])


def is_online(worker: dict[str, Any], now: float) -> bool:
    return liveness.online(worker["offline"], worker["last"], worker["freq"], now)


class MetricState:
    """Cumulative metric values of one collector run, keyed by label tuples."""

    def __init__(self, buckets: Sequence[float], purge_after: float = 0.0,
                 clock: Callable[[], float] = time.time,
                 max_task_names: int = Settings.metrics_max_task_names):
        self.bounds = tuple(bound for bound in buckets if not math.isinf(bound))
        self.purge_after = purge_after  # seconds offline before a worker's series go; 0: never
        self.clock = clock
        self.max_task_names = max_task_names
        self._task_names: set[str] = set()  # the names with series of their own
        self.folded = 0  # task events counted under OTHER
        self.events: dict[tuple[str, str, str], int] = {}  # (worker, type, task)
        self.states: dict[tuple[str, str], int] = {}  # (task, state)
        # (worker, task) -> per-bucket counts (the last bucket is +Inf), then the sum
        self.runtime: dict[tuple[str, str], list[float]] = {}
        self.prefetch_time: dict[tuple[str, str], float] = {}
        self.prefetched: dict[tuple[str, str], int] = {}
        # hostname -> {"last": newest event time, "freq", "offline", "active"}
        self.workers: dict[str, dict[str, Any]] = {}

    def task_event(self, event: dict[str, Any], row: dict[str, Any],
                   previous_state: str | None) -> None:
        """Count one task event, given its task row as merged with it and the state before.
        The worker hook's headers event is celery-scope's own, not a Celery event: uncounted."""
        if event.get("type") == HEADERS_EVENT:
            return
        kind = label(event.get("type"))
        worker = label(event.get("hostname"))
        name = self._task_label(row["name"])
        key = (worker, kind, name)
        self.events[key] = self.events.get(key, 0) + 1
        state = row["state"]
        if state != previous_state:
            entered = (name, label(state))
            self.states[entered] = self.states.get(entered, 0) + 1
        runtime = _number(event.get("runtime"))
        if runtime:
            self._observe_runtime((worker, name), runtime)
        timestamp = _number(event.get("timestamp"))
        if kind in _PREFETCH_EVENTS and not row["eta"] and timestamp is not None:
            self._prefetch(kind, (worker, name), row, timestamp)

    def _task_label(self, name: Any) -> str:
        """The name itself while it is among the first `max_task_names` seen, else OTHER."""
        text = label(name)
        if text in self._task_names:
            return text
        if len(self._task_names) < self.max_task_names:
            self._task_names.add(text)
            return text
        self.folded += 1
        return OTHER

    def _observe_runtime(self, key: tuple[str, str], runtime: float) -> None:
        counts = self.runtime.get(key)
        if counts is None:
            counts = self.runtime[key] = [0] * (len(self.bounds) + 1) + [0.0]
        counts[bisect_left(self.bounds, runtime)] += 1  # bucket `le` the first bound >= runtime
        counts[-1] += runtime

    def _prefetch(self, kind: str, key: tuple[str, str], row: dict[str, Any],
                  timestamp: float) -> None:
        """Prefetched-task count and prefetch time. Each decrement matches an increment
        even when a task's events arrive out of order or it runs again after a retry."""
        received, started = row["received"], row["started"]
        if kind == "task-received":
            if row["state"] not in states.READY_STATES and (started is None or started < timestamp):
                self.prefetched[key] = self.prefetched.get(key, 0) + 1
        elif kind == "task-started":
            if received is not None and received <= timestamp:
                self.prefetch_time[key] = timestamp - received
                self.prefetched[key] = self.prefetched.get(key, 0) - 1
        elif kind in _FINISHED:
            if received is not None and started is not None:
                self.prefetch_time[key] = 0.0
        elif kind in _DROPPED and received is not None and started is None:
            self.prefetched[key] = self.prefetched.get(key, 0) - 1

    def worker_event(self, event: dict[str, Any]) -> None:
        """worker-online/heartbeat/offline: online status, heartbeat time, executing tasks."""
        hostname, kind = label(event.get("hostname")), label(event.get("type"))
        timestamp = _number(event.get("timestamp"))
        if timestamp is None:
            return  # an event that cannot be placed in time says nothing about being online
        worker = self.workers.get(hostname)
        if worker is None:
            worker = self.workers[hostname] = {"last": timestamp, "freq": DEFAULT_FREQ,
                                               "offline": False, "active": None}
        elif timestamp < worker["last"]:
            return  # an older event than one already seen says nothing new
        worker["last"] = timestamp
        worker["offline"] = kind == "worker-offline"
        freq = _number(event.get("freq"))
        worker["freq"] = freq if freq and freq > 0 else worker["freq"]
        active = _number(event.get("active"))
        if kind == "worker-heartbeat" and active is not None:
            worker["active"] = int(active)
        elif kind == "worker-online":  # a (re)started worker has nothing prefetched yet
            for key in [key for key in self.prefetched if key[0] == hostname]:
                self.prefetched[key] = 0

    def purge(self) -> list[str]:
        """Drop every series of workers offline for longer than `purge_after`; return them."""
        if not self.purge_after:
            return []
        now = self.clock()
        gone = {hostname for hostname, worker in self.workers.items()
                if now - (worker["last"] if worker["offline"] else expires_at(worker))
                > self.purge_after}
        if gone:
            tables: tuple[dict[Any, Any], ...] = (  # keyed by (worker, ...), each its own way
                self.events, self.runtime, self.prefetch_time, self.prefetched)
            for table in tables:
                for key in [key for key in table if key[0] in gone]:
                    del table[key]
            for hostname in gone:
                del self.workers[hostname]
        return sorted(gone)

    def restore(self, snapshot: dict[str, Any]) -> None:
        """Take over the counters of a snapshot (another collector's, that led before)."""
        for table in ("events", "states", "runtime", "prefetch_time", "prefetched", "workers"):
            setattr(self, table, dict(snapshot.get(table, {})))
        self.folded = int(snapshot.get("folded", 0))
        self._task_names = {name for (_, _, name) in self.events if name != OTHER}
        self._task_names = set(sorted(self._task_names)[:self.max_task_names])

    def snapshot(self) -> dict[str, Any]:
        """The whole state as plain data. It shares the live containers, so serialize it
        before the next event is folded (the writer thread does both)."""
        return {"bounds": self.bounds, "events": self.events, "states": self.states,
                "runtime": self.runtime, "prefetch_time": self.prefetch_time,
                "prefetched": self.prefetched, "workers": self.workers, "folded": self.folded}
