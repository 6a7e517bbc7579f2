"""The queues as they stand now, read from the store's newest samples and the Inspector
cache: the one answer /broker, the dashboard and /api/queues give."""
from __future__ import annotations

from typing import Any

from ..store.cache import Cache
from ..store.history import HistoryStore
from ..workers.liveness import online_workers
from .detail import queue_summaries
from .names import consumers_by_queue


def consumers(cache: Cache) -> dict[str, list[str]]:
    """{queue: worker names} from the workers' cached `active_queues` replies."""
    return consumers_by_queue({hostname: cache.worker_snapshot(hostname)
                               for hostname in cache.inspected_workers()})


def current_queues(store: HistoryStore, cache: Cache, now: float, since: float,
                   workers: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Each queue's summary (queues/detail.queue_summaries) from samples taken since
    `since`: older ones count as not sampled. `workers` are the store's worker rows, when
    the caller has them already (read otherwise)."""
    rows = store.workers() if workers is None else workers
    return queue_summaries(store.latest_queue_samples(since), consumers(cache),
                           online_workers(rows, now))
