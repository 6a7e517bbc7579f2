"""Retention: keep the store within its age and size limits without stalling ingestion.

A planner thread works out, every few minutes and with reads only, the received time
before which tasks must go. The collector's writer (the store's one writer) then deletes
them in small batches between its own transactions.
"""
from __future__ import annotations

import logging
import threading
import time

from ..store.history import HistoryStore

log = logging.getLogger(__name__)

PLAN_SECONDS = 300.0  # how often the cutoff is worked out again
DELETE_BATCH = 2000  # tasks per delete transaction


class Retention:
    def __init__(self, store: HistoryStore, max_age_seconds: float, max_tasks: int,
                 plan_every: float = PLAN_SECONDS):
        self.store, self.max_age, self.max_tasks = store, max_age_seconds, max_tasks
        self.plan_every = plan_every
        self._cutoff: float | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._plan_loop, name="retention", daemon=True)
        self.deleted = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def plan(self, now: float | None = None) -> float:
        """Work out the cutoff (reads only) for the writer's next prune steps."""
        cutoff = self.store.retention_cutoff(self.max_age, self.max_tasks, now or time.time())
        with self._lock:
            self._cutoff = cutoff
        return cutoff

    def _plan_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.plan()
            except Exception as exc:  # noqa: BLE001 — retry at the next plan
                log.warning("retention: could not work out the cutoff: %s", exc)
            self._stop.wait(self.plan_every)

    def prune_step(self) -> int:
        """Called by the writer between batches: delete one batch if anything is due."""
        with self._lock:
            cutoff = self._cutoff
        if cutoff is None:
            return 0
        deleted = self.store.prune(cutoff, DELETE_BATCH)
        self.deleted += deleted
        if deleted < DELETE_BATCH:
            with self._lock:
                if self._cutoff == cutoff:
                    self._cutoff = None  # caught up until the next plan
        if deleted:
            log.info("retention: deleted %d tasks received before %.0f", deleted, cutoff)
        return deleted
