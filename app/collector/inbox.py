"""Where received messages wait for the writer: memory first, the disk spool past a bound.

The receiver must never stop draining the broker (Redis cuts a slow subscriber), and the
collector's memory must not grow with a backlog. So messages queue in memory up to a
bound in bytes; beyond it, or while the writer says the store is unreachable, they go to the
spool, and from then on every new message does too until the spool is empty, so the
writer takes them oldest first.
"""
from __future__ import annotations

import logging
import queue
import threading
from typing import Any

from .spool import Spool

log = logging.getLogger(__name__)

MEMORY_BYTES = 32 << 20  # raw messages held in memory at most before spooling
DECODED_BYTES = 2048  # what a message kombu already decoded is reckoned to weigh
# Raw bytes the writer takes at once: the batch it folds, decoded, must stay bounded too
# (a thousand messages of 64 tasks each took the collector past 490 MB).
BATCH_BYTES = 4 << 20


class Inbox:
    def __init__(self, spool: Spool | None = None, memory_bytes: int = MEMORY_BYTES):
        self.spool, self.memory_bytes = spool, memory_bytes
        self._memory: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._memory_size = 0  # bytes of the messages in memory, as `_weight` reckons them
        self._spilling = threading.Event()
        self._lost = 0  # messages neither memory nor disk could take

    # -- the receiver's side -------------------------------------------------------------

    def put(self, message: Any) -> None:
        if self.spool is None or not self._must_spool(self.spool):
            self._remember(message)
            return
        try:
            self.spool.append(message)
        except OSError as exc:  # a full disk: keep what memory allows rather than stop
            if self._memory_size < 2 * self.memory_bytes:
                self._remember(message)
            else:
                self._lost += 1
                if self._lost & (self._lost - 1) == 0:
                    log.error("spool cannot take messages (%s): %d lost", exc, self._lost)

    def _must_spool(self, spool: Spool) -> bool:
        return (self._spilling.is_set() or len(spool) > 0
                or self._memory_size >= self.memory_bytes)

    @staticmethod
    def _weight(message: Any) -> int:
        return len(message) if isinstance(message, (bytes, bytearray)) else DECODED_BYTES

    def _remember(self, message: Any) -> None:
        with self._lock:
            self._memory_size += self._weight(message)
        self._memory.put(message)

    def _recall(self, timeout: float | None) -> Any:
        message = self._memory.get(timeout=timeout) if timeout else self._memory.get_nowait()
        with self._lock:
            self._memory_size -= self._weight(message)
        return message

    # -- the writer's side ---------------------------------------------------------------

    def spill(self, on: bool) -> None:
        """While the store is unreachable, every message goes straight to disk."""
        if on:
            self._spilling.set()
        else:
            self._spilling.clear()

    def next_batch(self, most: int, wait: float,
                   most_bytes: int = BATCH_BYTES) -> tuple[list[Any], bool]:
        """Up to `most` messages and about `most_bytes`, oldest first, and whether they came
        from the spool (then `acknowledge` them once stored). Waits up to `wait` s for a
        first message, then takes only what has already queued: an idle writer commits an
        event at once, a busy one batches whatever arrived during its last commit."""
        if self._memory.empty() and self.spool is not None and len(self.spool):
            return self.spool.take(most, most_bytes), True
        try:
            batch = [self._recall(wait)]
        except queue.Empty:
            return [], False
        size = self._weight(batch[0])
        while len(batch) < most and size < most_bytes:
            try:
                batch.append(self._recall(None))
            except queue.Empty:
                break
            size += self._weight(batch[-1])
        return batch, False

    def acknowledge(self, count: int) -> None:
        if self.spool is not None:
            self.spool.ack(count)

    def keep(self, messages: list[Any]) -> None:
        """At shutdown with the store away: what memory holds goes to disk, to be replayed
        by the next run, instead of being lost."""
        if self.spool is None:
            return
        pending = list(messages)
        while not self._memory.empty():
            pending.append(self._recall(None))
        for message in pending:
            self.spool.append(message)

    @property
    def memory_size(self) -> int:
        return self._memory_size

    @property
    def backlog(self) -> int:
        return self._memory.qsize() + (len(self.spool) if self.spool is not None else 0)

    @property
    def lost(self) -> int:
        return self._lost + (self.spool.dropped if self.spool is not None else 0)
