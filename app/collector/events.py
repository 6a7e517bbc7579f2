"""The event collector: a receiver thread feeding a writer thread that batches into the store.

The receiver only queues raw messages. The writer takes whatever has queued within one
flush interval, decodes it, folds it into rows with the merge rules and commits one
transaction, so a crash loses at most the last interval, and the store sees few, large
writes. Bad messages are counted and skipped; they never stop ingestion.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any

from ..store.history import HistoryStore
from ..store.merge import apply_task_event, apply_worker_event, new_task_row, new_worker_row
from .decode import MalformedEvent, iter_events
from .metric_snapshots import MetricPublisher
from .receivers import Backoff
from .retention import Retention
from .status import CollectorStatus

log = logging.getLogger(__name__)

FLUSH_SECONDS = 0.2  # longest a received event waits before its transaction commits
MAX_BATCH_MESSAGES = 1000  # messages folded into one transaction at most
MERGE_CHUNK_MESSAGES = 250  # decoded and merged at a time, so decoded events never pile up
SAMPLE_SECONDS = 10.0  # one worker sample per worker per this many seconds, for charts


class EventCollector:
    def __init__(self, receiver, store: HistoryStore, status: CollectorStatus,
                 retention: Retention | None = None, metrics: MetricPublisher | None = None):
        self.receiver, self.store, self.status = receiver, store, status
        self.retention = retention
        self.metrics = metrics
        self._inbox: queue.SimpleQueue = queue.SimpleQueue()
        self._stop = threading.Event()
        self._workers = store.load_workers()
        self._last_sample: dict[str, float] = {}
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self.status.publish_if_due(force=True)  # replace what a previous run left in the cache
        self._threads = [
            threading.Thread(target=self.receiver.run, name="event-receiver", daemon=True,
                             args=(self._inbox.put, self._stop, self.status)),
            threading.Thread(target=self._write_loop, name="event-writer", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop receiving, then write out what is already queued."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)

    def _next_batch(self) -> list[Any]:
        try:
            batch = [self._inbox.get(timeout=0.5)]
        except queue.Empty:
            return []
        deadline = time.monotonic() + FLUSH_SECONDS
        while len(batch) < MAX_BATCH_MESSAGES:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                batch.append(self._inbox.get(timeout=remaining))
            except queue.Empty:
                break
        return batch

    def _write_loop(self) -> None:
        while True:
            batch = self._next_batch()
            if batch:
                self.ingest(batch)
            elif self._stop.is_set():
                break
            if self.retention is not None:
                self._prune()
            self.status.set_backlog(self._inbox.qsize())
            self.status.publish_if_due()
            if self.metrics is not None:
                self.metrics.publish_if_due()
        self.status.publish_if_due(force=True)
        if self.metrics is not None:
            self.metrics.publish_if_due(force=True)

    def ingest(self, messages: list[Any]) -> None:
        """Fold a batch of raw messages into the store in one transaction.

        Messages are decoded and merged a chunk at a time, so what stays in memory is the
        batch's rows, not every event of it.
        """
        touched_workers: dict[str, dict[str, Any]] = {}
        task_rows: dict[str, dict[str, Any]] = {}
        samples: list[dict[str, Any]] = []
        count, newest = 0, None
        for start in range(0, len(messages), MERGE_CHUNK_MESSAGES):
            task_events, worker_events = self._decode(messages[start:start + MERGE_CHUNK_MESSAGES])
            samples += self._fold_worker_events(worker_events, touched_workers)
            self._fold_task_events(task_events, task_rows, touched_workers)
            count += len(task_events) + len(worker_events)
            newest = max((event["timestamp"] for event in task_events + worker_events),
                         default=newest)
        self._write(list(task_rows.values()), list(touched_workers.values()), samples)
        self.status.ingested(count, newest)

    def _prune(self) -> None:
        try:
            self.retention.prune_step()
        except Exception as exc:  # noqa: BLE001 — pruning waits for the next round
            log.warning("retention: pruning failed: %s", exc)

    def _decode(self, messages: list[Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        task_events: list[dict[str, Any]] = []
        worker_events: list[dict[str, Any]] = []
        for message in messages:
            for event in iter_events(message):
                if isinstance(event, MalformedEvent):
                    self.status.malformed(event)
                elif event["type"].startswith("task-"):
                    task_events.append(event)
                else:
                    worker_events.append(event)
        return task_events, worker_events

    def _write(self, task_rows, worker_rows, samples) -> None:
        """Commit, retrying with backoff while the store is unreachable: nothing is dropped."""
        backoff = Backoff()
        while True:
            try:
                self.store.write(task_rows, worker_rows, samples)
            except Exception as exc:  # noqa: BLE001 — any database error: keep the rows and try again
                log.warning("writing %d tasks to the store failed: %s", len(task_rows), exc)
                self.status.store_failed(exc)
                if self._stop.is_set():
                    log.error("shutting down with the store unreachable: %d tasks not written",
                              len(task_rows))
                    return
                self._stop.wait(backoff.next())
            else:
                self.status.store_ok()
                return

    def _worker(self, hostname: str, touched: dict[str, dict[str, Any]]) -> dict[str, Any]:
        row = self._workers.get(hostname)
        if row is None:
            row = self._workers[hostname] = new_worker_row(hostname)
        touched[hostname] = row
        return row

    def _fold_worker_events(self, events, touched) -> list[dict[str, Any]]:
        samples = []
        for event in events:
            if self.metrics is not None:
                self.metrics.state.worker_event(event)
            row = self._worker(event["hostname"], touched)
            if apply_worker_event(row, event):
                timestamp = event["timestamp"]
                if timestamp - self._last_sample.get(row["hostname"], 0.0) >= SAMPLE_SECONDS:
                    self._last_sample[row["hostname"]] = timestamp
                    samples.append({"hostname": row["hostname"], "timestamp": timestamp,
                                    "active": row["active"], "processed": row["processed"],
                                    "load1": row["load1"]})
        return samples

    def _fold_task_events(self, events, rows, touched_workers) -> None:
        """Merge task events into `rows` (uuid → row), loading rows this batch has not seen."""
        unseen = list({event["uuid"] for event in events} - rows.keys())
        if unseen:
            rows.update(self.store.load_tasks(unseen))
        observe = self.metrics.state.task_event if self.metrics is not None else None
        for event in events:
            uuid = event["uuid"]
            row = rows.get(uuid)
            if row is None:
                row = rows[uuid] = new_task_row(uuid)
            previous_state = row["state"]
            counter = apply_task_event(row, event)
            if observe is not None:
                observe(event, row, previous_state)
            if counter and row["worker"]:
                self._worker(row["worker"], touched_workers)[counter] += 1
