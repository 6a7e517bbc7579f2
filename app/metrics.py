"""/metrics: Prometheus exposition with Flower 2.2's metric names, types and labels, so its
Grafana dashboards and alert rules keep working, plus celery-scope's own.

Built at scrape time by a custom collector over the collector's latest published snapshot
(app/collector/metric_snapshots.py) and its status, both read from the shared cache, and
the newest queue depth samples in the store: any number of web processes serve the same
numbers, and nothing is a module-level singleton. Whether a worker is online is decided
here, at scrape time, from its last heartbeat.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
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

from .collector.metric_snapshots import MetricSnapshots
from .collector.metric_state import is_online
from .services import Services

STATUS_STALE_SECONDS = 10.0  # a collector status older than this means no live collector
QUEUE_SAMPLES_KEPT = 3  # a queue's depth is shown while its sample is this many intervals old
# What generate_latest writes (and what Flower serves); every Prometheus version reads it.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_WORKER, _TASK = "worker", "task"


class SnapshotCollector:
    """A prometheus_client collector reading the latest snapshot and status on each scrape."""

    def __init__(self, snapshot: Callable[[], dict[str, Any] | None],
                 status: Callable[[], dict[str, Any] | None],
                 queues: Callable[[float], list[dict[str, Any]]] = lambda now: [],
                 clock: Callable[[], float] = time.time):
        """`queues(now)` gives the newest depth sample of each queue still worth showing."""
        self._snapshot, self._status, self._queues, self._clock = snapshot, status, queues, clock

    def collect(self) -> Iterator[Metric]:
        now = self._clock()
        yield from flower_families(self._snapshot() or {}, now)
        yield queue_family(self._queues(now))
        yield from health_families(self._status(), now)


def flower_families(snapshot: dict[str, Any], now: float) -> Iterator[Metric]:
    """Flower's six metrics, then the count of tasks entering each state."""
    workers = snapshot.get("workers", {})
    online = {hostname for hostname, worker in workers.items() if is_online(worker, now)}

    def live(hostname: str) -> bool:  # a worker never heard from is given the benefit
        return hostname in online or hostname not in workers

    events = CounterMetricFamily("flower_events_total", "Number of events",
                                 labels=[_WORKER, "type", _TASK])
    for labels, count in snapshot.get("events", {}).items():
        events.add_metric(labels, count)
    yield events

    yield runtime_family(snapshot.get("bounds", ()), snapshot.get("runtime", {}))

    prefetch_time = GaugeMetricFamily(
        "flower_task_prefetch_time_seconds",
        "The time the task spent waiting at the celery worker to be executed.",
        labels=[_WORKER, _TASK])
    for labels, seconds in snapshot.get("prefetch_time", {}).items():
        prefetch_time.add_metric(labels, seconds)
    yield prefetch_time

    prefetched = GaugeMetricFamily("flower_worker_prefetched_tasks",
                                   "Number of tasks of given type prefetched at a worker",
                                   labels=[_WORKER, _TASK])
    for labels, count in snapshot.get("prefetched", {}).items():
        prefetched.add_metric(labels, count if live(labels[0]) else 0)
    yield prefetched

    worker_online = GaugeMetricFamily("flower_worker_online", "Worker online status",
                                      labels=[_WORKER])
    executing = GaugeMetricFamily("flower_worker_number_of_currently_executing_tasks",
                                  "Number of tasks currently executing at a worker",
                                  labels=[_WORKER])
    for hostname, worker in workers.items():
        worker_online.add_metric([hostname], int(hostname in online))
        if worker["active"] is not None:
            executing.add_metric([hostname], worker["active"] if hostname in online else 0)
    yield worker_online
    yield executing

    task_states = CounterMetricFamily("celery_task_state_total",
                                      "Number of tasks that entered each state",
                                      labels=[_TASK, "state"])
    for labels, count in snapshot.get("states", {}).items():
        task_states.add_metric(labels, count)
    yield task_states


def runtime_family(bounds: tuple[float, ...],
                   runtime: dict[tuple[str, str], list[float]]) -> HistogramMetricFamily:
    """flower_task_runtime_seconds from per-bucket counts (the snapshot's compact form)."""
    family = HistogramMetricFamily("flower_task_runtime_seconds", "Task runtime",
                                   labels=[_WORKER, _TASK])
    edges = [floatToGoString(bound) for bound in bounds] + ["+Inf"]
    for labels, counts in runtime.items():
        cumulative, buckets = 0, []
        for edge, count in zip(edges, counts):
            cumulative += count
            buckets.append((edge, cumulative))
        family.add_metric(labels, buckets, counts[-1])
    return family


def queue_family(samples: list[dict[str, Any]]) -> GaugeMetricFamily:
    """celery_queue_length from the queue sampler's newest rows; a queue the broker could not
    be asked about has no sample rather than a false 0."""
    family = GaugeMetricFamily("celery_queue_length", "Messages ready in the queue",
                               labels=["queue"])
    for sample in samples:
        if sample["messages"] is not None:
            family.add_metric([sample["queue"]], sample["messages"])
    return family


def health_families(status: dict[str, Any] | None, now: float) -> Iterator[Metric]:
    """The collector's own health, as its status in the cache tells it."""
    status = status or {}
    fresh = now - (status.get("updated_at") or 0.0) <= STATUS_STALE_SECONDS
    yield GaugeMetricFamily(
        "celery_scope_collector_broker_connected",
        "1 while a live collector is subscribed to the broker's event stream",
        value=int(bool(fresh and status.get("broker_connected"))))
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


def make_registry(collector: SnapshotCollector) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry


def register_metrics(server: flask.Flask, path: str, services: Services) -> None:
    """Serve /metrics (open, as Flower's) from the services' cache and store."""
    snapshots = MetricSnapshots(services.cache.directory)
    kept = QUEUE_SAMPLES_KEPT * services.settings.queue_sample_interval

    def queues(now: float) -> list[dict[str, Any]]:
        return services.store.latest_queue_samples(now - kept)

    registry = make_registry(
        SnapshotCollector(snapshots.latest, services.cache.collector_status, queues))

    def metrics() -> flask.Response:
        return flask.Response(generate_latest(registry), content_type=CONTENT_TYPE)

    server.add_url_rule(path, "metrics", metrics)
