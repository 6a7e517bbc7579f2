"""The collector's metric state, shared through the cache (a local directory, or the store
when it is shared).

The web server may run in other processes (`celery-scope collect` beside gunicorn), or on
other machines, so /metrics never reads the collector's memory: the leading collector's
writer thread publishes a snapshot of its MetricState about once a second, as plain JSON
data, and each scrape reads the latest one. Counters are cumulative: a collector taking
over the lead continues from the last published snapshot, so a scrape never sees one go
backwards.
"""
from __future__ import annotations

import logging
import time
from typing import Any

from ..store.cache import Cache, SnapshotCache
from .metric_state import MetricState

log = logging.getLogger(__name__)

PUBLISH_SECONDS = 1.0  # how stale /metrics may be
_KEYED = ("events", "states", "runtime", "prefetch_time", "prefetched")  # tuple-keyed tables


def encode(snapshot: dict[str, Any]) -> dict[str, Any]:
    """A MetricState snapshot as JSON data: tuple-keyed tables become [key, value] pairs."""
    data = dict(snapshot)
    for table in _KEYED:
        data[table] = [[list(key), value] for key, value in snapshot.get(table, {}).items()]
    data["bounds"] = list(snapshot.get("bounds", ()))
    return data


def decode(data: dict[str, Any]) -> dict[str, Any]:
    """The inverse of `encode`: the shape MetricState.snapshot() has."""
    snapshot = dict(data)
    for table in _KEYED:
        pairs = data.get(table, [])
        pairs = pairs.items() if isinstance(pairs, dict) else pairs  # one an older version put
        snapshot[table] = {tuple(key): value for key, value in pairs}
    snapshot["bounds"] = tuple(data.get("bounds", ()))
    return snapshot


class MetricSnapshots:
    """The latest metric snapshot, in a cache, or in a cache directory (then its own)."""

    def __init__(self, source: str | Cache):
        self._owned = isinstance(source, str)
        self._cache: Cache = SnapshotCache(source) if isinstance(source, str) else source

    def put(self, snapshot: dict[str, Any]) -> None:
        self._cache.put_metrics(encode(snapshot))

    def latest(self) -> dict[str, Any] | None:
        data = self._cache.latest_metrics()
        return None if data is None else decode(data)

    def close(self) -> None:
        if self._owned:
            self._cache.close()


class MetricPublisher:
    """Owned by the writer thread: purges offline workers' series and publishes when due."""

    def __init__(self, state: MetricState, snapshots: MetricSnapshots,
                 every: float = PUBLISH_SECONDS):
        self.state, self.snapshots, self.every = state, snapshots, every
        self._published_at = float("-inf")
        self._failing = False

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
        except Exception as exc:  # noqa: BLE001 — a convenience: never let it stop ingestion
            if not self._failing:  # once per outage, not every second
                log.warning("could not publish the metrics snapshot: %s", exc)
            self._failing = True
        else:
            self._failing = False

    def resume(self) -> None:
        """Continue the counters the last leader published (taking over the lead)."""
        try:
            latest = self.snapshots.latest()
        except Exception:  # noqa: BLE001 — no snapshot to read: count from zero
            log.warning("could not read the last metrics snapshot; counting from zero")
            return
        if latest:
            self.state.restore(latest)

    def close(self) -> None:
        self.snapshots.close()
