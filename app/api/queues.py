"""Flower's /api/queues/length: messages ready in each queue the workers consume, asked of
the broker now; and celery-scope's /api/queues: every queue's newest sample with the
oldest message's wait, its consumers and the no-consumer flag (what /broker shows)."""
from __future__ import annotations

import time

from celery import Celery

from ..broker.queue_lengths import queue_lengths
from ..queues.names import cluster_queue_names
from ..queues.overview import current_queues
from ..services import Services, current
from . import api
from .flower import as_json, celery_of

SAMPLES_KEPT = 3  # a sample older than this many sample intervals counts as no sample


def _queue_names(services: Services, app: Celery) -> list[str]:
    """The queues /broker lists too (queues/names.py decides)."""
    cache = services.cache
    return cluster_queue_names(app.conf, {hostname: cache.worker_snapshot(hostname)
                                          for hostname in cache.inspected_workers()})


@api.get("/api/queues/length")
def list_queue_lengths():
    services = current()
    app = celery_of(services)
    names = _queue_names(services, app)
    return as_json({"active_queues": queue_lengths(app, names, services.settings.inspect_timeout,
                                                   services.settings.broker_api)})


@api.get("/api/queues")
def list_queues():
    services = current()
    now = time.time()
    since = now - SAMPLES_KEPT * services.settings.queue_sample_interval
    return as_json({"queues": current_queues(services.store, services.cache, now, since),
                    "sample_interval": services.settings.queue_sample_interval})
