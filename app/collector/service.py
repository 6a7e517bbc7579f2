"""Wires the collector together: Celery app, event receiver, writer, Inspector poller,
queue sampler."""
from __future__ import annotations

import hashlib
import logging
import socket
import threading

from celery import Celery
from kombu.utils.url import maybe_sanitize_url

from ..config import Settings
from ..store.cache import SnapshotCache
from ..store.history import HistoryStore
from .events import EventCollector
from .inspector import Inspector, InspectorPoller
from .metric_snapshots import MetricPublisher, MetricSnapshots
from .metric_state import MetricState
from .queue_sampler import QueueSampler
from .receivers import KombuEventReceiver, RedisEventReceiver, redis_fast_path_possible
from .retention import Retention
from .status import CollectorStatus

log = logging.getLogger(__name__)

DEMO_LABEL = "the built-in demo cluster"


def make_celery_app(broker_url: str, transport_options: dict | None = None) -> Celery:
    """A client-only Celery app for a broker URL (no tasks of its own)."""
    app = Celery("celery-scope", broker=broker_url, set_as_current=False)
    app.conf.broker_transport_options = transport_options or {}
    app.conf.broker_connection_retry_on_startup = True
    return app


def safe_broker_url(celery_app: Celery) -> str:
    """The broker URL with any password masked, for display."""
    return maybe_sanitize_url(celery_app.conf.broker_url)


def receiver_node_id(settings: Settings) -> str:
    """Stable across restarts of one install (so no stale queue bindings pile up), distinct
    between installs watching the same broker (so they don't split the event stream)."""
    digest = hashlib.sha1(f"{socket.gethostname()}|{settings.store}".encode()).hexdigest()[:12]
    return f"celery-scope-{digest}"


class Collector:
    def __init__(self, celery_app: Celery, store: HistoryStore, cache: SnapshotCache,
                 settings: Settings):
        self.app, self.settings = celery_app, settings
        label = DEMO_LABEL if settings.demo else safe_broker_url(celery_app)
        self.status = CollectorStatus(cache, label)
        broker_url = celery_app.conf.broker_url
        options = dict(celery_app.conf.broker_transport_options or {})
        if redis_fast_path_possible(broker_url, options):
            receiver = RedisEventReceiver(broker_url, options)
        else:
            receiver = KombuEventReceiver(celery_app, receiver_node_id(settings))
        self.retention = Retention(store, settings.retention_days * 86400, settings.retention_tasks)
        self.metrics = MetricPublisher(
            MetricState(settings.task_runtime_metric_buckets, settings.purge_offline_workers),
            MetricSnapshots(cache.directory))
        self.events = EventCollector(receiver, store, self.status, self.retention, self.metrics)
        self.poller = InspectorPoller(Inspector(celery_app, cache, settings.inspect_timeout),
                                      settings.inspect_interval)
        self.queues = QueueSampler(celery_app, store, cache, settings.queue_sample_interval,
                                   settings.inspect_timeout, settings.broker_api)

    def start(self) -> None:
        self.retention.start()
        self.events.start()
        self.poller.start()
        self.queues.start()
        if self.settings.enable_events:
            threading.Thread(target=self._enable_events, name="enable-events", daemon=True).start()

    def _enable_events(self) -> None:
        try:
            self.app.control.enable_events()
        except Exception as exc:  # noqa: BLE001 — broker down at start: the receiver reports it already
            log.warning("could not ask workers to enable events: %s", exc)

    def stop(self) -> None:
        self.queues.stop()
        self.poller.stop()
        self.events.stop()
        self.metrics.close()
        self.retention.stop()
