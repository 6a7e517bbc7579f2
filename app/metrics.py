"""/metrics: Prometheus exposition with Flower 2.2's metric names, types and labels, so its
Grafana dashboards and alert rules keep working, plus celery-scope's own.

Built at scrape time by a custom collector over the collector's latest published snapshot
(app/collector/metric_snapshots.py) and its status, both read from the shared cache, and
the newest queue samples (depth and latency), the alert tables (alerts/metrics.py) and the
beat entries' runs (beat/metrics.py) in the store: any number of web processes serve the
same numbers, and nothing is a module-level singleton. Whether a worker is online is decided
here, at scrape time, from its last heartbeat.

A scrape answers whatever the store does: while it cannot be reached the queue depths are
the last ones read (until they age out) and `celery_scope_store_up` is 0. Label values are
made text here too, so a snapshot holding a number where a name belongs (an older
collector's) still reads.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import flask
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.utils import floatToGoString

from .alerts.metrics import store_alert_families
from .beat.metrics import beat_families
from .collector.metric_snapshots import MetricSnapshots
from .collector.metric_state import OTHER, is_online, label
from .services import Services
from .store.cache import is_live
from .store.history import HistoryStore
from .store.outage import STORE_ERRORS, ReadHealth, is_unreachable, store_outage

QUEUE_SAMPLES_KEPT = 3  # a queue's depth is shown while its sample is this many intervals old
# What generate_latest writes (and what Flower serves); every Prometheus version reads it.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_WORKER, _TASK = "worker", "task"


class SnapshotCollector:
    """A prometheus_client collector reading the latest snapshot and status on each scrape."""

    def __init__(self, snapshot: Callable[[], dict[str, Any] | None],
                 status: Callable[[], dict[str, Any] | None],
                 queues: Callable[[float], list[dict[str, Any]]] = lambda now: [],
                 reads: ReadHealth | None = None, clock: Callable[[], float] = time.time,
                 read_from_store: Sequence[Callable[[], list[Metric]]] = ()):
        """`queues(now)` gives the newest depth sample of each queue still worth showing;
        `reads` is this process's own record of failed store reads (queues' included);
        `read_from_store` the families read from the store (alerts, beat: StoreFigures)."""
        self._snapshot, self._status, self._queues, self._clock = snapshot, status, queues, clock
        self._read_from_store = read_from_store
        self._reads = reads or ReadHealth()

    def collect(self) -> Iterator[Metric]:
        now = self._clock()
        snapshot, status = self._snapshot() or {}, self._status() or {}
        yield from flower_families(snapshot, now)
        yield folded_family(snapshot)
        queues = self._queues(now)  # before store_families: it may fail a read
        yield queue_family(queues)
        yield latency_family(queues)
        for families in self._read_from_store:  # before store_families too
            yield from families()
        yield from health_families(status, now)
        yield from store_families(status, self._reads, now)


def flower_families(snapshot: dict[str, Any], now: float) -> Iterator[Metric]:
    """Flower's six metrics, then the count of tasks entering each state."""
    workers = snapshot.get("workers", {})
    online = {hostname for hostname, worker in workers.items() if is_online(worker, now)}

    def live(hostname: str) -> bool:  # a worker never heard from is given the benefit
        return hostname in online or hostname not in workers

    events = CounterMetricFamily("flower_events_total", "Number of events",
                                 labels=[_WORKER, "type", _TASK])
    for labels, count in snapshot.get("events", {}).items():
        events.add_metric(texts(labels), count)
    yield events

    yield runtime_family(snapshot.get("bounds", ()), snapshot.get("runtime", {}))

    prefetch_time = GaugeMetricFamily(
        "flower_task_prefetch_time_seconds",
        "The time the task spent waiting at the celery worker to be executed.",
        labels=[_WORKER, _TASK])
    for labels, seconds in snapshot.get("prefetch_time", {}).items():
        prefetch_time.add_metric(texts(labels), seconds)
    yield prefetch_time

    prefetched = GaugeMetricFamily("flower_worker_prefetched_tasks",
                                   "Number of tasks of given type prefetched at a worker",
                                   labels=[_WORKER, _TASK])
    for labels, count in snapshot.get("prefetched", {}).items():
        prefetched.add_metric(texts(labels), count if live(labels[0]) else 0)
    yield prefetched

    worker_online = GaugeMetricFamily("flower_worker_online", "Worker online status",
                                      labels=[_WORKER])
    executing = GaugeMetricFamily("flower_worker_number_of_currently_executing_tasks",
                                  "Number of tasks currently executing at a worker",
                                  labels=[_WORKER])
    for hostname, worker in workers.items():
        worker_online.add_metric([label(hostname)], int(hostname in online))
        if worker["active"] is not None:
            executing.add_metric([label(hostname)], worker["active"] if hostname in online else 0)
    yield worker_online
    yield executing

    task_states = CounterMetricFamily("celery_task_state_total",
                                      "Number of tasks that entered each state",
                                      labels=[_TASK, "state"])
    for labels, count in snapshot.get("states", {}).items():
        task_states.add_metric(texts(labels), count)
    yield task_states


def texts(labels: tuple[Any, ...]) -> list[str]:
    return [label(value) for value in labels]


def folded_family(snapshot: dict[str, Any]) -> CounterMetricFamily:
    return CounterMetricFamily(
        "celery_scope_metrics_folded_task_events_total",
        f"Task events counted under task=\"{OTHER}\": their name came after "
        "--metrics-max-task-names others", value=snapshot.get("folded", 0))


def runtime_family(bounds: tuple[float, ...],
                   runtime: dict[tuple[str, str], list[float]]) -> HistogramMetricFamily:
    """flower_task_runtime_seconds from per-bucket counts (the snapshot's compact form)."""
    family = HistogramMetricFamily("flower_task_runtime_seconds", "Task runtime",
                                   labels=[_WORKER, _TASK])
    edges = [floatToGoString(bound) for bound in bounds] + ["+Inf"]
    for labels, counts in runtime.items():
        cumulative: float = 0
        buckets: list[tuple[str, float]] = []
        for edge, count in zip(edges, counts):
            cumulative += count
            buckets.append((edge, cumulative))
        family.add_metric(texts(labels), buckets, counts[-1])
    return family


def queue_family(samples: list[dict[str, Any]]) -> GaugeMetricFamily:
    """celery_queue_length from the queue sampler's newest rows; a queue the broker could not
    be asked about has no sample rather than a false 0."""
    family = GaugeMetricFamily("celery_queue_length", "Messages ready in the queue",
                               labels=["queue"])
    for sample in samples:
        if sample["messages"] is not None:
            family.add_metric([label(sample["queue"])], sample["messages"])
    return family


def latency_family(samples: list[dict[str, Any]]) -> GaugeMetricFamily:
    """celery_queue_latency_seconds: how long the oldest waiting message has waited (0 for an
    empty queue); no sample where it cannot be told (see queues/latency.py for the rule)."""
    family = GaugeMetricFamily("celery_queue_latency_seconds",
                               "Age of the oldest message waiting in the queue",
                               labels=["queue"])
    for sample in samples:
        if sample.get("latency_seconds") is not None and sample["messages"] is not None:
            family.add_metric([label(sample["queue"])], sample["latency_seconds"])
    return family


def health_families(status: dict[str, Any], now: float) -> Iterator[Metric]:
    """The collector's own health, as its status in the cache tells it."""
    yield GaugeMetricFamily(
        "celery_scope_collector_broker_connected",
        "1 while a live collector is subscribed to the broker's event stream",
        value=int(bool(is_live(status, now) and status.get("broker_connected"))))
    yield CounterMetricFamily("celery_scope_collector_events_total",
                              "Events the collector has stored since it started",
                              value=status.get("events", 0))
    yield CounterMetricFamily("celery_scope_collector_malformed_events_total",
                              "Malformed events the collector skipped since it started",
                              value=status.get("malformed", 0))
    lag = GaugeMetricFamily("celery_scope_collector_lag_seconds",
                            "Age of the newest event when the collector last stored a batch")
    if status.get("lag") is not None:
        lag.add_metric([], status["lag"])
    yield lag
    yield CounterMetricFamily("celery_scope_collector_quarantined_events_total",
                              "Invalid events the collector set aside in quarantine since it "
                              "started", value=status.get("quarantined", 0))
    yield GaugeMetricFamily("celery_scope_collector_spooled_messages",
                            "Raw messages waiting in the collector's on-disk spool",
                            value=status.get("spooled", 0))
    yield GaugeMetricFamily("celery_scope_collector_spool_bytes",
                            "Size of the collector's on-disk spool", value=status.get(
                                "spool_bytes", 0))
    yield CounterMetricFamily("celery_scope_collector_spooled_total",
                              "Messages that waited in the on-disk spool since the collector "
                              "started", value=status.get("spooled_total", 0))
    yield CounterMetricFamily("celery_scope_collector_spool_dropped_total",
                              "Messages the full spool let go since the collector started",
                              value=status.get("spool_dropped", 0))


def store_families(status: dict[str, Any], reads: ReadHealth, now: float) -> Iterator[Metric]:
    """Whether the history store answers, as a live collector's writes and this process's
    reads tell it, and since when it has not."""
    outage = store_outage(status, reads, now)
    yield GaugeMetricFamily("celery_scope_store_up",
                            "1 while the history store answers the collector and this process",
                            value=int(outage is None))
    down_since = GaugeMetricFamily("celery_scope_store_down_since_seconds",
                                   "When the current store outage began, epoch seconds")
    if outage is not None and outage[1] is not None:
        down_since.add_metric([], outage[1])
    yield down_since


def make_registry(collector: SnapshotCollector) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry


class QueueDepths:
    """Each queue's newest depth sample from the store; while the store cannot be read, the
    last samples read (each until it ages out), the failure noted in `reads`."""

    def __init__(self, store: HistoryStore, reads: ReadHealth, kept: float):
        self._store, self._reads, self._kept = store, reads, kept  # kept: seconds
        self._last: list[dict[str, Any]] = []

    def __call__(self, now: float) -> list[dict[str, Any]]:
        since = now - self._kept
        try:
            self._last = self._store.latest_queue_samples(since)
        except STORE_ERRORS as exc:
            if not is_unreachable(exc):
                raise
            self._reads.failed(exc)
            return [sample for sample in self._last if sample["timestamp"] >= since]
        self._reads.recovered()
        return self._last


class StoreFigures:
    """Families that `read()` takes from the store (alerts, beat); none while it cannot be
    read (the failure noted in `reads`, as for queue depths)."""

    def __init__(self, read: Callable[[], Iterable[Metric]], reads: ReadHealth):
        self._read, self._reads = read, reads

    def __call__(self) -> list[Metric]:
        try:
            return list(self._read())
        except STORE_ERRORS as exc:
            if not is_unreachable(exc):
                raise
            self._reads.failed(exc)
            return []


def register_metrics(server: flask.Flask, path: str, services: Services) -> None:
    """Serve /metrics (open, as Flower's) from the services' cache and store."""
    snapshots = MetricSnapshots(services.cache)  # the store on a shared install: replicas see it
    kept = QUEUE_SAMPLES_KEPT * services.settings.queue_sample_interval
    queues = QueueDepths(services.store, services.reads, kept)
    alerts = StoreFigures(lambda: store_alert_families(services.store.engine, services.settings),
                          services.reads)
    beat = StoreFigures(lambda: beat_families(services, time.time()), services.reads)
    registry = make_registry(SnapshotCollector(
        snapshots.latest, services.cache.collector_status, queues, services.reads,
        read_from_store=(alerts, beat)))

    def metrics() -> flask.Response:
        return flask.Response(generate_latest(registry), content_type=CONTENT_TYPE)

    server.add_url_rule(path, "metrics", metrics)
