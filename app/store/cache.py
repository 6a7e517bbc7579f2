"""diskcache wrappers: Inspector snapshots with their times, the collector's status, the
metric snapshot and requests for an Inspector round, shared by every process that opens
the same directory: the single-machine default (a SQLite store). With a shared store,
store/shared_state.py keeps the same things in the store instead (`open_cache` decides)."""
from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import diskcache

STATUS_STALE_SECONDS = 10.0  # the collector publishes every second; this much silence: none runs
_STATUS_KEY = "collector-status"
_INSPECT_REQUEST_KEY = "inspect-request"
_WORKER_PREFIX = "inspect:"
_METRICS_KEY = "metrics-snapshot"


class Cache(Protocol):
    """What pages and the collector use: SnapshotCache here, or shared_state.StoreCache."""

    directory: str

    def close(self) -> None: ...
    def merge_inspection(self, replies: dict[str, dict[str, Any]], at: float) -> None: ...
    def worker_snapshot(self, hostname: str) -> dict[str, Any]: ...
    def inspected_workers(self) -> list[str]: ...
    def request_inspection(self, hostname: str | None = None) -> None: ...
    def take_inspection_request(self) -> dict[str, Any] | None: ...
    def put_collector_status(self, status: dict[str, Any]) -> None: ...
    def collector_status(self) -> dict[str, Any] | None: ...
    def collectors(self) -> list[dict[str, Any]]: ...
    def put_metrics(self, snapshot: dict[str, Any]) -> None: ...
    def latest_metrics(self) -> dict[str, Any] | None: ...


class SnapshotCache:
    def __init__(self, directory: str):
        Path(directory).mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self._cache = diskcache.Cache(directory)

    def close(self) -> None:
        self._cache.close()

    # -- Inspector snapshots ------------------------------------------------------------

    def merge_inspection(self, replies: dict[str, dict[str, Any]], at: float) -> None:
        """Store each worker's replies ({method: {hostname: reply}}, one round's), keeping
        the replies of methods it did not answer this time."""
        by_worker: dict[str, dict[str, Any]] = {}
        for method, answers in replies.items():
            for hostname, reply in answers.items():
                by_worker.setdefault(hostname, {})[method] = {"reply": reply, "at": at}
        for hostname, answered in by_worker.items():
            key = _WORKER_PREFIX + hostname
            with self._cache.transact():
                self._cache.set(key, {**(self._cache.get(key) or {}), **answered})

    def worker_snapshot(self, hostname: str) -> dict[str, Any]:
        """{method: {"reply": ..., "at": epoch seconds}} for one worker; empty if never
        inspected."""
        return self._cache.get(_WORKER_PREFIX + hostname) or {}

    def inspected_workers(self) -> list[str]:
        return sorted(key[len(_WORKER_PREFIX):] for key in self._cache.iterkeys()
                      if isinstance(key, str) and key.startswith(_WORKER_PREFIX))

    # -- on-demand Inspector rounds -----------------------------------------------------

    def request_inspection(self, hostname: str | None = None) -> None:
        """Ask the collector (in whatever process it runs) for a round now."""
        self._cache.set(_INSPECT_REQUEST_KEY, {"hostname": hostname, "at": time.time()})

    def take_inspection_request(self) -> dict[str, Any] | None:
        return self._cache.pop(_INSPECT_REQUEST_KEY, default=None)

    # -- collector status ---------------------------------------------------------------

    def put_collector_status(self, status: dict[str, Any]) -> None:
        self._cache.set(_STATUS_KEY, status)

    def collector_status(self) -> dict[str, Any] | None:
        return self._cache.get(_STATUS_KEY)

    def collectors(self) -> list[dict[str, Any]]:
        """Every collector's last status: here the one collector of this machine."""
        status = self.collector_status()
        return [status] if status else []

    # -- the metric snapshot (see collector/metric_snapshots.py) ------------------------

    def put_metrics(self, snapshot: dict[str, Any]) -> None:
        self._cache.set(_METRICS_KEY, snapshot)

    def latest_metrics(self) -> dict[str, Any] | None:
        return self._cache.get(_METRICS_KEY)


def is_live(status: Mapping[str, Any] | None, now: float) -> bool:
    """Whether a running collector wrote this status (a stopped one leaves its last behind)."""
    if not status:
        return False
    return now - (status.get("updated_at") or 0.0) <= STATUS_STALE_SECONDS
