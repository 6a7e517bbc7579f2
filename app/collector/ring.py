"""The standby's ring: the last minute of raw event messages, bounded by age and bytes.

A standby collector writes nothing, but the leader may have died holding messages it had
not committed yet; so the standby keeps what it received lately, and writes it first when
it takes over (writes are idempotent: what the leader already stored changes nothing).
"""
from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from .inbox import DECODED_BYTES

RING_SECONDS = 60.0  # how far back a standby keeps messages
RING_BYTES = 32 << 20  # and how many bytes at most, whatever their age


def weight(message: Any) -> int:
    """Bytes a message is reckoned to hold (as the inbox reckons them)."""
    return len(message) if isinstance(message, (bytes, bytearray)) else DECODED_BYTES


class Ring:
    def __init__(self, seconds: float = RING_SECONDS, max_bytes: int = RING_BYTES,
                 clock: Callable[[], float] = time.monotonic):
        self.seconds, self.max_bytes, self.clock = seconds, max_bytes, clock
        self._entries: deque[tuple[float, int, Any]] = deque()  # (received at, bytes, message)
        self._lock = threading.Lock()
        self.size = 0  # bytes held

    def add(self, message: Any) -> list[Any]:
        """Keep a message; return the ones that fell out (too old, or past the bytes)."""
        now, size = self.clock(), weight(message)
        with self._lock:
            self._entries.append((now, size, message))
            self.size += size
            return self._evict(now)

    def _evict(self, now: float) -> list[Any]:
        gone = []
        entries = self._entries
        while entries and (self.size > self.max_bytes or now - entries[0][0] > self.seconds):
            _, size, message = entries.popleft()
            self.size -= size
            gone.append(message)
        return gone

    def drain(self) -> list[Any]:
        """Everything held, oldest first, and the ring empty."""
        with self._lock:
            messages = [message for _, _, message in self._entries]
            self._entries.clear()
            self.size = 0
            return messages

    def __len__(self) -> int:
        return len(self._entries)
