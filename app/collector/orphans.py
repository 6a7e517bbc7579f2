"""Tasks orphaned by their worker: when a worker goes offline (by the one rule the pages use,
workers/liveness: it said goodbye, or its heartbeats stopped), the tasks it was running get
`orphaned` set in their rows, once per offline spell, at its goodbye's time or when its
heartbeats expired. The writer asks between batches, at most every CHECK_SECONDS."""
from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from ..store.history import HistoryStore
from ..store.outage import short_store_error
from ..workers.liveness import expires_at, is_online

log = logging.getLogger(__name__)

CHECK_SECONDS = 1.0  # how often the writer looks for workers gone offline


class OrphanMarker:
    def __init__(self, store: HistoryStore):
        self.store = store
        self._checked = 0.0
        self._marked: dict[str, float] = {}  # hostname -> last heartbeat, once orphaned

    def forget(self) -> None:
        """Taking the lead: the last leader's marks are not known here."""
        self._marked.clear()

    def check(self, workers: Mapping[str, Mapping[str, Any]]) -> None:
        now = time.time()
        if now - self._checked < CHECK_SECONDS:
            return
        self._checked = now
        for hostname, row in workers.items():
            heard = row["last_heartbeat"]
            if is_online(row, now) or heard is None:
                self._marked.pop(hostname, None)
                continue
            if self._marked.get(hostname) == heard:
                continue
            said_goodbye = row["status"] != "online"
            at = heard if said_goodbye else expires_at(heard, row["freq"])
            try:
                marked = self.store.mark_orphaned(hostname, at)
            except Exception as exc:  # noqa: BLE001 — tried again at the next check
                log.warning("could not mark the tasks of %s orphaned: %s", hostname,
                            short_store_error(exc))
                return
            self._marked[hostname] = heard
            if marked:
                log.info("worker %s went offline running %d task(s): marked orphaned",
                         hostname, marked)
