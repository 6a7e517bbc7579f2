"""Wires the collector together: Celery app, leadership, event receiver, writer, Inspector
poller, queue sampler, alert evaluator. Every collector receives; only the leading one
writes, polls the Inspector, samples queues and evaluates alerts (a SQLite store has one
collector, which always leads)."""
from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
from pathlib import Path

from celery import Celery
from kombu.utils.url import maybe_sanitize_url

from ..alerts.evaluator import Evaluator
from ..config import Settings
from ..store.cache import Cache
from ..store.history import HistoryStore
from .events import EventCollector
from .inbox import Inbox
from .inspector import Inspector, InspectorPoller
from .leadership import leadership_for
from .metric_snapshots import MetricPublisher, MetricSnapshots
from .metric_state import MetricState
from .queue_sampler import QueueSampler
from .receivers import KombuEventReceiver, RedisEventReceiver, redis_fast_path_possible
from .retention import Retention
from .spool import Spool
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


def collector_id(settings: Settings) -> str:
    """Stable across restarts of one collector (so no stale queue bindings pile up), distinct
    between collectors watching the same broker, two on one host and store included (each
    has its own cache directory): one event queue each, so none splits another's stream."""
    cache_dir = os.path.realpath(settings.cache_dir)
    identity = f"{socket.gethostname()}|{settings.store}|{cache_dir}"
    return hashlib.sha1(identity.encode()).hexdigest()[:12]


def receiver_node_id(settings: Settings) -> str:
    return f"celery-scope-{collector_id(settings)}"


class Collector:
    def __init__(self, celery_app: Celery, store: HistoryStore, cache: Cache,
                 settings: Settings):
        self.app, self.settings = celery_app, settings
        label = DEMO_LABEL if settings.demo else safe_broker_url(celery_app)
        self.leadership = leadership_for(store.engine)
        self.status = CollectorStatus(cache, label, collector_id(settings),
                                      self.leadership.leading, self.leadership.since)
        broker_url = celery_app.conf.broker_url
        options = dict(celery_app.conf.broker_transport_options or {})
        receiver: RedisEventReceiver | KombuEventReceiver
        if redis_fast_path_possible(broker_url, options):
            receiver = RedisEventReceiver(broker_url, options)
        else:
            receiver = KombuEventReceiver(celery_app, receiver_node_id(settings))
        self.retention = Retention(store, settings.retention_days * 86400, settings.retention_tasks)
        self.metrics = MetricPublisher(
            MetricState(settings.task_runtime_metric_buckets, settings.purge_offline_workers,
                        max_task_names=settings.metrics_max_task_names),
            MetricSnapshots(cache))
        self.spool = Spool(Path(cache.directory) / "spool", int(settings.spool_max_mb * 2**20))
        self.events = EventCollector(receiver, store, self.status, self.retention, self.metrics,
                                     Inbox(self.spool), self.leadership)
        leading = self._leading
        self.poller = InspectorPoller(Inspector(celery_app, cache, settings.inspect_timeout),
                                      settings.inspect_interval, leading)
        self.queues = QueueSampler(celery_app, store, cache, settings.queue_sample_interval,
                                   settings.inspect_timeout, settings.broker_api, leading)
        self.alerts = Evaluator(store, cache, settings, self.leadership)

    def _leading(self) -> bool:
        return self.leadership.leading

    def start(self) -> None:
        self.leadership.start()
        self.status.leadership(self.leadership.leading, self.leadership.since)
        self.retention.start()
        self.events.start()
        self.poller.start()
        self.queues.start()
        self.alerts.start()
        if self.settings.enable_events:
            threading.Thread(target=self._enable_events, name="enable-events", daemon=True).start()

    def _enable_events(self) -> None:
        try:
            self.app.control.enable_events()
        except Exception as exc:  # noqa: BLE001 — broker down at start: the receiver reports it already
            log.warning("could not ask workers to enable events: %s", exc)

    def stop(self) -> None:
        self.alerts.stop()
        self.queues.stop()
        self.poller.stop()
        self.events.stop()
        self.spool.close()
        self.metrics.close()
        self.retention.stop()
        self.leadership.stop()  # after the writer's last batch: the lock goes with its session
