"""Where the receiver's messages go: the writer's inbox while this collector leads, the
ring while it stands by. Taking the lead moves the ring into the inbox first, so what the
old leader may not have committed is written before anything newer. While the store is
unreachable a standby keeps what falls out of its ring in the spool, so that whichever
collector leads once the store is back has all of it."""
from __future__ import annotations

import threading
from typing import Any

from .inbox import Inbox
from .ring import Ring


class Router:
    def __init__(self, inbox: Inbox, ring: Ring, leading: bool):
        self.inbox, self.ring = inbox, ring
        self.keep_evicted = False  # set while a standby cannot reach the store
        self._leading = leading
        self._lock = threading.Lock()

    @property
    def leading(self) -> bool:
        return self._leading

    def push(self, message: Any) -> None:
        """The receiver's callback."""
        if self._leading:
            self.inbox.put(message)
            return
        with self._lock:
            if self._leading:  # the lead was taken while this message waited for the lock
                self.inbox.put(message)
                return
            evicted = self.ring.add(message)
        if evicted and self.keep_evicted:
            self.inbox.keep(evicted)

    def promote(self) -> int:
        """Hand the ring to the writer and route everything after it there; how many."""
        with self._lock:
            held = self.ring.drain()
            for message in held:
                self.inbox.put(message)
            self._leading = True
        return len(held)

    def demote(self) -> None:
        with self._lock:
            self._leading = False
