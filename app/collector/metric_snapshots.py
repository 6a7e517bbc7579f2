"""The collector's metric state, shared through the cache directory.

The web server may run in other processes (`celery-scope collect` beside gunicorn), so
/metrics never reads the collector's memory: the writer thread puts a snapshot of its
MetricState into the diskcache about once a second, and each scrape reads the latest one.
Counters are cumulative within a collector run, so a scrape never sees one go backwards.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import diskcache

from .metric_state import MetricState

log = logging.getLogger(__name__)

PUBLISH_SECONDS = 1.0  # how stale /metrics may be
_KEY = "metrics-snapshot"


class MetricSnapshots:
    """The latest metric snapshot in a cache directory (the one SnapshotCache uses)."""

    def __init__(self, directory: str):
        Path(directory).mkdir(parents=True, exist_ok=True)
        self._cache = diskcache.Cache(directory)

    def put(self, snapshot: dict[str, Any]) -> None:
        self._cache.set(_KEY, snapshot)

    def latest(self) -> dict[str, Any] | None:
        return self._cache.get(_KEY)

    def close(self) -> None:
        self._cache.close()


class MetricPublisher:
    """Owned by the writer thread: purges offline workers' series and publishes when due."""

    def __init__(self, state: MetricState, snapshots: MetricSnapshots,
                 every: float = PUBLISH_SECONDS):
        self.state, self.snapshots, self.every = state, snapshots, every
        self._published_at = float("-inf")

    def publish_if_due(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._published_at < self.every:
            return
        self._published_at = now
        purged = self.state.purge()
        if purged:
            log.info("metrics: dropped the series of offline workers %s", ", ".join(purged))
        try:
            self.snapshots.put(self.state.snapshot())
        except Exception:  # the cache is a convenience: never let it stop ingestion
            log.exception("could not publish the metrics snapshot")

    def close(self) -> None:
        self.snapshots.close()
