"""The queue sampler: measures how many messages wait in every queue the cluster uses, and
how long the oldest has waited (queues/latency.py), on a schedule, into the store
(`queue_samples`), which feeds the broker page, the dashboard, /metrics and /explore.

Its own thread, so a slow or unreachable broker never holds up event ingestion; a failed
round is logged, recorded as unknown depths (a gap in the charts, not a false zero) and
retried after a growing pause.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from celery import Celery

from ..broker.queue_lengths import queue_heads, queue_lengths
from ..queues.latency import FirstSeen, queue_latency
from ..queues.names import cluster_queue_names
from ..store.cache import Cache
from ..store.history import HistoryStore

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 120.0  # the longest pause between failed rounds


class QueueSampler:
    def __init__(self, celery_app: Celery, store: HistoryStore, cache: Cache,
                 interval: float, timeout: float, broker_api: str | None = None,
                 leading: Callable[[], bool] = lambda: True):
        self.app, self.store, self.cache = celery_app, store, cache
        self.leading = leading  # a standby collector leaves sampling to the leader
        self.interval, self.timeout, self.broker_api = interval, timeout, broker_api
        self.failures = 0  # consecutive failed rounds
        self.first_seen = FirstSeen()
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
        return cluster_queue_names(self.app.conf, snapshots)

    def sample(self) -> list[dict[str, Any]]:
        """One round: measure every queue and store the samples (also when the broker
        could not be asked: then as unknown depths, and the error is raised)."""
        names = self.queue_names()
        try:
            lengths = queue_lengths(self.app, names, self.timeout, self.broker_api)
            heads = queue_heads(self.app, names, self.timeout, self.broker_api)
        except Exception:
            self.store.write_queue_samples(
                [{"queue": name, "timestamp": time.time(), "messages": None,
                  "latency_seconds": None, "latency_source": None, "priorities": None}
                 for name in names])
            raise
        now = time.time()  # after reading: a head first seen now was there by now
        ids = [level["task_id"] for levels in heads.values() for level in levels
               if level["messages"] and level["task_id"]]
        sent = {uuid: row["sent"] for uuid, row in self.store.load_tasks(ids).items()
                if row.get("sent") is not None}
        first_seen = self.first_seen.mark(ids, now)
        rows = [{"queue": length["name"], "timestamp": now, "messages": length["messages"],
                 **queue_latency(heads.get(length["name"]), sent, first_seen, now)}
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
            if not self.leading():
                self._stop.wait(1.0)
                continue
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
