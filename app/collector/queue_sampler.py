"""The queue sampler: measures how many messages wait in every queue the cluster uses, on a
schedule, into the store (`queue_samples`), which feeds the broker page and /explore.

Its own thread, so a slow or unreachable broker never holds up event ingestion; a failed
round is logged, recorded as unknown depths (a gap in the charts, not a false zero) and
retried after a growing pause.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any

from celery import Celery

from ..queue_lengths import queue_lengths
from ..queue_names import configured_queues, consumers_by_queue, queues_in_use
from ..store.cache import SnapshotCache
from ..store.history import HistoryStore

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 120.0  # the longest pause between failed rounds


class QueueSampler:
    def __init__(self, celery_app: Celery, store: HistoryStore, cache: SnapshotCache,
                 interval: float, timeout: float, broker_api: str | None = None):
        self.app, self.store, self.cache = celery_app, store, cache
        self.interval, self.timeout, self.broker_api = interval, timeout, broker_api
        self.failures = 0  # consecutive failed rounds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="queue-sampler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def queue_names(self) -> list[str]:
        snapshots = {hostname: self.cache.worker_snapshot(hostname)
                     for hostname in self.cache.inspected_workers()}
        return queues_in_use(configured_queues(self.app.conf), consumers_by_queue(snapshots))

    def sample(self) -> list[dict[str, Any]]:
        """One round: measure every queue and store the samples (also when the broker
        could not be asked: then as unknown depths, and the error is raised)."""
        names = self.queue_names()
        now = time.time()
        try:
            lengths = queue_lengths(self.app, names, self.timeout, self.broker_api)
        except Exception:
            self.store.write_queue_samples(
                [{"queue": name, "timestamp": now, "messages": None} for name in names])
            raise
        rows = [{"queue": length["name"], "timestamp": now, "messages": length["messages"]}
                for length in lengths]
        self.store.write_queue_samples(rows)
        return rows

    def next_pause(self) -> float:
        """The regular interval, doubled after each consecutive failure up to a cap."""
        if not self.failures:
            return self.interval
        return min(self.interval * 2 ** self.failures, max(self.interval, MAX_BACKOFF_SECONDS))

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.sample()
            except Exception as exc:  # noqa: BLE001 — the sampler must outlive any broker or store error
                self.failures += 1
                if self.failures & (self.failures - 1) == 0:  # the 1st, 2nd, 4th... failure
                    log.warning("queue sampling failed (%d in a row): %s", self.failures, exc)
            else:
                if self.failures:
                    log.info("queue sampling works again")
                self.failures = 0
            self._stop.wait(self.next_pause())
