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

Only the writer thread mutates a MetricState; `snapshot()` is pickled by that same thread.
"""
from __future__ import annotations

import math
import time
from bisect import bisect_left
from collections.abc import Callable, Sequence
from typing import Any

from celery import states
from celery.events.state import heartbeat_expires

DEFAULT_FREQ = 2.0  # seconds between heartbeats when a worker did not say (celery's default)
EXPIRY_SLACK = 1.0  # seconds on top of celery's expiry (2 intervals): transit delay, clock skew

_FINISHED = ("task-succeeded", "task-failed")
_DROPPED = ("task-revoked", "task-rejected")
_PREFETCH_EVENTS = frozenset(("task-received", "task-started", *_FINISHED, *_DROPPED))


def expires_at(worker: dict[str, Any]) -> float:
    """Epoch time after which a silent worker counts as offline."""
    return heartbeat_expires(worker["last"], worker["freq"]) + EXPIRY_SLACK


def is_online(worker: dict[str, Any], now: float) -> bool:
    return not worker["offline"] and now <= expires_at(worker)


class MetricState:
    """Cumulative metric values of one collector run, keyed by label tuples."""

    def __init__(self, buckets: Sequence[float], purge_after: float = 0.0,
                 clock: Callable[[], float] = time.time):
        self.bounds = tuple(bound for bound in buckets if not math.isinf(bound))
        self.purge_after = purge_after  # seconds offline before a worker's series go; 0: never
        self.clock = clock
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
        """Count one task event, given its task row as merged with it and the state before."""
        kind = event["type"]
        worker = event.get("hostname") or ""
        name = row["name"] or ""
        key = (worker, kind, name)
        self.events[key] = self.events.get(key, 0) + 1
        state = row["state"]
        if state != previous_state:
            entered = (name, state)
            self.states[entered] = self.states.get(entered, 0) + 1
        runtime = event.get("runtime")
        if runtime:
            self._observe_runtime((worker, name), runtime)
        if kind in _PREFETCH_EVENTS and not row["eta"]:
            self._prefetch(kind, (worker, name), row, event["timestamp"])

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
        hostname, timestamp, kind = event["hostname"], event["timestamp"], event["type"]
        worker = self.workers.get(hostname)
        if worker is None:
            worker = self.workers[hostname] = {"last": timestamp, "freq": DEFAULT_FREQ,
                                               "offline": False, "active": None}
        elif timestamp < worker["last"]:
            return  # an older event than one already seen says nothing new
        worker["last"] = timestamp
        worker["offline"] = kind == "worker-offline"
        worker["freq"] = event.get("freq") or worker["freq"]
        if kind == "worker-heartbeat" and event.get("active") is not None:
            worker["active"] = event["active"]
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
            for table in (self.events, self.runtime, self.prefetch_time, self.prefetched):
                for key in [key for key in table if key[0] in gone]:
                    del table[key]
            for hostname in gone:
                del self.workers[hostname]
        return sorted(gone)

    def snapshot(self) -> dict[str, Any]:
        """The whole state as plain data. It shares the live containers, so serialize it
        before the next event is folded (the writer thread does both)."""
        return {"bounds": self.bounds, "events": self.events, "states": self.states,
                "runtime": self.runtime, "prefetch_time": self.prefetch_time,
                "prefetched": self.prefetched, "workers": self.workers}
