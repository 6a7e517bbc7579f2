"""diskcache wrappers: Inspector snapshots with their times, the collector's status, and
requests for an Inspector round, shared by every process that opens the same directory."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import diskcache

_STATUS_KEY = "collector-status"
_INSPECT_REQUEST_KEY = "inspect-request"
_WORKER_PREFIX = "inspect:"


class SnapshotCache:
    def __init__(self, directory: str):
        Path(directory).mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self._cache = diskcache.Cache(directory)

    def close(self) -> None:
        self._cache.close()

    # -- Inspector snapshots ------------------------------------------------------------

    def merge_inspection(self, method: str, replies: dict[str, Any], at: float) -> None:
        """Store each worker's reply to one inspect method, keeping its other methods' replies."""
        for hostname, reply in replies.items():
            key = _WORKER_PREFIX + hostname
            with self._cache.transact():
                snapshot = self._cache.get(key) or {}
                snapshot[method] = {"reply": reply, "at": at}
                self._cache.set(key, snapshot)

    def worker_snapshot(self, hostname: str) -> dict[str, Any]:
        """{method: {"reply": ..., "at": epoch seconds}} for one worker; empty if never inspected."""
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
