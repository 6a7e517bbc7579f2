"""/metrics: Flower's metrics from real workers over HTTP, the scale-out shape, and the pure
parts (folding events into metric state, the snapshot round trip, purging, exposition)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass

import psutil
import pytest
from celery.events import EventDispatcher
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from celery_scope.collector.events import EventCollector
from celery_scope.collector.metric_snapshots import MetricPublisher, MetricSnapshots
from celery_scope.collector.metric_state import OTHER, MetricState, label
from celery_scope.collector.status import CollectorStatus
from celery_scope.config import DEFAULT_RUNTIME_BUCKETS, resolve
from celery_scope.metrics import SnapshotCollector, make_registry
from celery_scope.store.cache import SnapshotCache
from celery_scope.store.history import HistoryStore
from celery_scope.store.outage import ReadHealth

from .helpers import TESTS_DIR, Scope, free_port, stop_process, wait_for, wait_until
from .store_outages import refused_store_error

T0 = 1_700_000_000.0


# -- reading an exposition ---------------------------------------------------------------------

def samples(text: str) -> dict[tuple, float]:
    """{(sample name, sorted label pairs): value} of a Prometheus text exposition."""
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def total(found: dict[tuple, float], name: str, **labels: str) -> float:
    """Sum of the samples called `name` whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(value for (sample, pairs), value in found.items()
               if sample == name and wanted <= set(pairs))


def value(found: dict[tuple, float], name: str, **labels: str) -> float | None:
    return found.get((name, tuple(sorted(labels.items()))))


def scrape(base_url: str) -> dict[tuple, float]:
    with urllib.request.urlopen(base_url + "/metrics", timeout=5) as response:
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return samples(response.read().decode())


# -- the pure parts: events folded the way the writer folds them --------------------------------

class Clock:
    def __init__(self, now: float = T0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Pipeline:
    """The writer's path without a broker: messages in, metric state and snapshots out."""
    collector: EventCollector
    clock: Clock

    @property
    def publisher(self) -> MetricPublisher:
        return self.collector.metrics

    @property
    def state(self) -> MetricState:
        return self.collector.metrics.state

    def ingest(self, *events: dict) -> None:
        self.collector.ingest([list(events)])  # one message holding a buffered group

    def exposition(self, now: float) -> dict[tuple, float]:
        collector = SnapshotCollector(self.state.snapshot, lambda: None, clock=Clock(now))
        return samples(generate_latest(make_registry(collector)).decode())


@pytest.fixture
def pipeline(tmp_path, store_url):
    """An EventCollector over a real store (each backend) and cache (buckets 0.1, 1, 10;
    purge 60 s)."""
    store = HistoryStore(store_url)
    cache = SnapshotCache(str(tmp_path / "cache"))
    clock = Clock()
    state = MetricState((0.1, 1.0, 10.0), purge_after=60.0, clock=clock)
    publisher = MetricPublisher(state, MetricSnapshots(cache.directory))
    yield Pipeline(EventCollector(None, store, CollectorStatus(cache, "test"), metrics=publisher),
                   clock)
    publisher.close()
    store.close()
    cache.close()


def task(kind: str, uuid: str, at: float, hostname: str = "w1@test", **fields) -> dict:
    return {"type": f"task-{kind}", "uuid": uuid, "timestamp": T0 + at, "hostname": hostname,
            **fields}


def heartbeat(hostname: str, at: float, kind: str = "heartbeat", **fields) -> dict:
    return {"type": f"worker-{kind}", "hostname": hostname, "timestamp": T0 + at, "freq": 2.0,
            **fields}


def lifecycle(uuid: str, name: str, start: float, outcome: str = "succeeded",
              runtime: float = 0.5, worker: str = "w1@test") -> list[dict]:
    finish = {"runtime": runtime} if outcome == "succeeded" else {"exception": "ValueError()"}
    return [task("sent", uuid, start, hostname="client@test", name=name),
            task("received", uuid, start + 0.1, worker, name=name),
            task("started", uuid, start + 0.3, worker),
            task(outcome, uuid, start + 0.4, worker, **finish)]


def test_lifecycles_count_like_flower(pipeline):
    pipeline.ingest(*lifecycle("a1", "add", 0, runtime=0.05), *lifecycle("a2", "add", 1, runtime=2),
                    *lifecycle("f1", "fail", 2, outcome="failed"))
    state = pipeline.state
    assert state.events == {
        ("client@test", "task-sent", "add"): 2, ("w1@test", "task-received", "add"): 2,
        ("w1@test", "task-started", "add"): 2, ("w1@test", "task-succeeded", "add"): 2,
        ("client@test", "task-sent", "fail"): 1, ("w1@test", "task-received", "fail"): 1,
        ("w1@test", "task-started", "fail"): 1, ("w1@test", "task-failed", "fail"): 1}
    assert state.runtime == {("w1@test", "add"): [1, 0, 1, 0, 2.05]}  # le 0.1, 1, 10, +Inf; sum
    assert state.prefetched == {("w1@test", "add"): 0, ("w1@test", "fail"): 0}
    assert state.prefetch_time == {("w1@test", "add"): 0.0, ("w1@test", "fail"): 0.0}
    assert state.states == {("add", "PENDING"): 2, ("add", "RECEIVED"): 2, ("add", "STARTED"): 2,
                            ("add", "SUCCESS"): 2, ("fail", "PENDING"): 1,
                            ("fail", "RECEIVED"): 1, ("fail", "STARTED"): 1,
                            ("fail", "FAILURE"): 1}


def test_counters_keep_counting_across_batches(pipeline):
    events = lifecycle("a1", "add", 0)
    pipeline.ingest(*events[:2])
    assert pipeline.state.prefetched == {("w1@test", "add"): 1}
    pipeline.ingest(events[2])
    assert pipeline.state.prefetched == {("w1@test", "add"): 0}
    assert pipeline.state.prefetch_time == {("w1@test", "add"): pytest.approx(0.2)}
    pipeline.ingest(events[3])  # a later batch: the task's name comes back from the store
    assert pipeline.state.events[("w1@test", "task-succeeded", "add")] == 1
    assert sum(pipeline.state.events.values()) == 4 and sum(pipeline.state.states.values()) == 4


@pytest.mark.parametrize("events, prefetched", [
    pytest.param([task("started", "t", 2), task("received", "t", 1, name="n")], 0,
                 id="started-before-received"),
    pytest.param([task("received", "t", 1, name="n"), task("revoked", "t", 2)], 0,
                 id="revoked-before-start"),
    pytest.param([task("revoked", "t", 2), task("received", "t", 1, name="n")], 0,
                 id="revoked-arrives-first"),
    pytest.param([task("received", "t", 1, name="n", eta="2030-01-01T00:00:00")], 0,
                 id="eta-is-not-prefetch"),
    pytest.param([task("received", "t", 1, name="n"), task("started", "t", 2),
                  task("retried", "t", 3), task("received", "t", 4, name="n"),
                  task("started", "t", 5), task("succeeded", "t", 6, runtime=0.1)], 0,
                 id="retried"),
    pytest.param([task("received", "t", 1, name="n"), task("received", "u", 1, name="n")], 2,
                 id="two-waiting"),
])
def test_prefetched_tasks_balance_whatever_the_order(pipeline, events, prefetched):
    pipeline.ingest(*events)
    assert pipeline.state.prefetched.get(("w1@test", "n"), 0) == prefetched


def test_workers_online_offline_and_executing(pipeline):
    pipeline.ingest(heartbeat("w1@test", 0, "online"), heartbeat("w1@test", 2, active=3),
                    heartbeat("w2@test", 2, active=1), heartbeat("w2@test", 3, "offline"),
                    heartbeat("w1@test", 1, active=9))  # late: older than the newest seen
    found = pipeline.exposition(now=T0 + 4)
    assert value(found, "flower_worker_online", worker="w1@test") == 1
    assert value(found, "flower_worker_online", worker="w2@test") == 0
    assert value(found, "flower_worker_number_of_currently_executing_tasks", worker="w1@test") == 3
    assert value(found, "flower_worker_number_of_currently_executing_tasks", worker="w2@test") == 0
    # heartbeats stop: offline once celery's expiry (2 intervals) and the slack have passed
    for now, online in ((T0 + 2 + 4.9, 1), (T0 + 2 + 5.1, 0)):
        assert value(pipeline.exposition(now), "flower_worker_online", worker="w1@test") == online


def test_a_restarted_worker_has_nothing_prefetched(pipeline):
    pipeline.ingest(heartbeat("w1@test", 0, "online"), task("received", "t", 1, name="n"))
    pipeline.ingest(heartbeat("w1@test", 5, "online"))
    assert pipeline.state.prefetched == {("w1@test", "n"): 0}


def test_offline_workers_series_are_purged(pipeline):
    pipeline.ingest(heartbeat("gone@test", 0, "online"), heartbeat("stays@test", 0, "online"),
                    *lifecycle("a", "add", 1, worker="gone@test"),
                    task("received", "b", 1, "stays@test", name="add"),
                    heartbeat("gone@test", 2, "offline"), heartbeat("stays@test", 100))
    state = pipeline.state
    pipeline.clock.now = T0 + 2 + 59
    assert state.purge() == []
    pipeline.clock.now = T0 + 2 + 61
    assert state.purge() == ["gone@test"]
    assert {key[0] for key in state.events} == {"client@test", "stays@test"}
    assert set(state.workers) == {"stays@test"} and not state.runtime and not state.prefetch_time
    assert state.states[("add", "SUCCESS")] == 1  # per task, not per worker: kept
    # a silent worker goes once its heartbeat expiry (100 + 2 * 2 + 1) is 60 s past
    pipeline.clock.now = T0 + 105 + 59
    assert state.purge() == []
    pipeline.clock.now = T0 + 105 + 61
    assert state.purge() == ["stays@test"]


def test_snapshot_round_trip_and_exposition(pipeline, tmp_path):
    pipeline.ingest(heartbeat("w1@test", 0, "online"), *lifecycle("a1", "add", 0, runtime=0.1),
                    *lifecycle("a2", "add", 1))
    pipeline.publisher.publish_if_due(force=True)
    snapshots = MetricSnapshots(str(tmp_path / "cache"))
    try:
        assert snapshots.latest() == pipeline.state.snapshot()
    finally:
        snapshots.close()
    found = pipeline.exposition(now=T0 + 1)
    bucket = "flower_task_runtime_seconds_bucket"
    labels = {"worker": "w1@test", "task": "add"}
    # a bucket counts the runtimes up to and including its bound
    assert [value(found, bucket, le=le, **labels) for le in ("0.1", "1.0", "10.0", "+Inf")] == [
        1, 2, 2, 2]
    assert value(found, "flower_task_runtime_seconds_count", **labels) == 2
    assert value(found, "flower_task_runtime_seconds_sum", **labels) == pytest.approx(0.6)
    assert value(found, "flower_events_total", type="task-started", **labels) == 2
    assert value(found, "flower_task_prefetch_time_seconds", **labels) == 0
    assert value(found, "flower_worker_prefetched_tasks", **labels) == 0
    assert value(found, "celery_task_state_total", task="add", state="SUCCESS") == 2


def test_flowers_default_buckets_and_collector_health():
    snapshot = MetricState(DEFAULT_RUNTIME_BUCKETS + (float("inf"),)).snapshot()
    snapshot["runtime"] = {("w", "t"): [0] * 14 + [1, 99.0]}
    status = {"broker_connected": True, "events": 7, "malformed": 2, "lag": 0.25,
              "updated_at": T0}
    queues = [{"queue": "celery", "timestamp": T0, "messages": 4},
              {"queue": "unreachable", "timestamp": T0, "messages": None}]
    text = generate_latest(make_registry(SnapshotCollector(
        lambda: snapshot, lambda: status, lambda now: queues, clock=Clock(T0 + 1)))).decode()
    found = samples(text)
    edges = [dict(pairs)["le"] for name, pairs in found
             if name == "flower_task_runtime_seconds_bucket"]
    assert edges == ["0.005", "0.01", "0.025", "0.05", "0.075", "0.1", "0.25", "0.5", "0.75",
                     "1.0", "2.5", "5.0", "7.5", "10.0", "+Inf"]
    assert value(found, "flower_task_runtime_seconds_bucket", worker="w", task="t",
                 le="+Inf") == 1
    assert "# TYPE flower_events_total counter" in text
    assert "# TYPE flower_task_runtime_seconds histogram" in text
    assert "# TYPE flower_worker_online gauge" in text
    assert [pairs for name, pairs in found if name == "celery_queue_length"] == [
        (("queue", "celery"),)]  # an unknown depth is a gap, not a 0
    assert value(found, "celery_queue_length", queue="celery") == 4
    assert value(found, "celery_scope_collector_broker_connected") == 1
    assert value(found, "celery_scope_collector_events_total") == 7
    assert value(found, "celery_scope_collector_malformed_events_total") == 2
    assert value(found, "celery_scope_collector_lag_seconds") == 0.25
    stale = samples(generate_latest(make_registry(
        SnapshotCollector(dict, lambda: status, clock=Clock(T0 + 60)))).decode())
    assert value(stale, "celery_scope_collector_broker_connected") == 0  # no live collector


# -- label values are text; task names are capped ----------------------------------------------

def exposition(snapshot: dict | None, status: dict | None = None, reads: ReadHealth | None = None,
               now: float = T0 + 1) -> str:
    collector = SnapshotCollector(lambda: snapshot, lambda: status, reads=reads, clock=Clock(now))
    return generate_latest(make_registry(collector)).decode()


def received(state: MetricState, name, hostname="w1@test", at: float = 0.0, **fields) -> None:
    """A task-received event folded with the row the merge gives it."""
    row = {"name": name, "state": "RECEIVED", "eta": None, "received": T0 + at, "started": None}
    state.task_event({"type": "task-received", "hostname": hostname, "timestamp": T0 + at,
                      **fields}, row, "PENDING")


def succeeded(state: MetricState, name, hostname="w1@test", at: float = 1.0) -> None:
    row = {"name": name, "state": "SUCCESS", "eta": None, "received": T0, "started": T0 + at / 2}
    state.task_event({"type": "task-succeeded", "hostname": hostname, "timestamp": T0 + at,
                      "runtime": 0.5}, row, "STARTED")


NOT_TEXT = [pytest.param(42, id="int"), pytest.param(4.5, id="float"),
            pytest.param({"a": [1]}, id="dict"), pytest.param(["x", 1], id="list"),
            pytest.param(None, id="none")]


@pytest.mark.parametrize("bad", NOT_TEXT)
def test_a_name_or_hostname_that_is_not_text_counts_as_text_and_every_scrape_reads(bad, tmp_path):
    state = MetricState((0.1, 1.0))
    received(state, bad, hostname=bad)
    succeeded(state, bad, hostname=bad)
    state.worker_event({"type": "worker-heartbeat", "hostname": bad, "timestamp": T0, "active": 2})
    snapshots = MetricSnapshots(str(tmp_path / "cache"))  # through the pickle, as /metrics reads it
    try:
        snapshots.put(state.snapshot())
        for _ in range(2):  # the state is not poisoned: the next scrape reads too
            found = samples(exposition(snapshots.latest()))
    finally:
        snapshots.close()
    text = label(bad)
    assert value(found, "flower_events_total", worker=text, type="task-received", task=text) == 1
    assert value(found, "celery_task_state_total", task=text, state="SUCCESS") == 1
    assert value(found, "flower_task_runtime_seconds_count", worker=text, task=text) == 1
    assert value(found, "flower_worker_online", worker=text) == 1


def test_numbers_that_are_not_numbers_are_left_out():
    state = MetricState((0.1, 1.0))
    state.worker_event({"type": "worker-online", "hostname": "w", "timestamp": T0})
    state.worker_event({"type": "worker-heartbeat", "hostname": "w", "timestamp": T0 + 1,
                        "freq": "often", "active": "many"})
    state.worker_event({"type": "worker-heartbeat", "hostname": "w", "timestamp": "noon",
                        "active": 5})
    state.worker_event({"type": "worker-heartbeat", "hostname": "v", "timestamp": float("nan")})
    received(state, "t", runtime="fast")
    received(state, "u", runtime=float("nan"))
    assert state.workers == {"w": {"last": T0 + 1, "freq": 2.0, "offline": False, "active": None}}
    assert state.runtime == {}
    found = samples(exposition(state.snapshot(), now=T0 + 2))
    assert value(found, "flower_worker_online", worker="w") == 1


def test_the_exposition_writes_labels_as_text_whatever_the_snapshot_holds():
    """A snapshot published by a collector that kept numbers as labels still reads."""
    snapshot = {"bounds": (1.0,), "events": {(7, "task-sent", 42): 3},
                "states": {(42, "SUCCESS"): 2}, "runtime": {(7, 42): [1, 0, 0.5]},
                "prefetch_time": {(7, 42): 0.0}, "prefetched": {(7, 42): 0},
                "workers": {7: {"last": T0, "freq": 2.0, "offline": False, "active": 1}}}
    found = samples(exposition(snapshot))
    assert value(found, "flower_events_total", worker="7", type="task-sent", task="42") == 3
    assert value(found, "celery_task_state_total", task="42", state="SUCCESS") == 2
    assert value(found, "flower_task_runtime_seconds_bucket", worker="7", task="42", le="1.0") == 1
    assert value(found, "flower_worker_number_of_currently_executing_tasks", worker="7") == 1


def test_task_names_beyond_the_cap_fold_into_other():
    state = MetricState((1.0,), max_task_names=2)
    for name in ("a", "b", "c", "d", "a"):
        received(state, name)
        succeeded(state, name)
    assert {task for (_, _, task) in state.events} == {"a", "b", OTHER}
    assert state.states[(OTHER, "SUCCESS")] == 2 and state.states[("a", "SUCCESS")] == 2
    assert state.runtime[("w1@test", OTHER)][-2:] == [0, 1.0]  # +Inf bucket empty; sum
    assert state.folded == 4  # c and d: two events each
    found = samples(exposition(state.snapshot()))
    assert value(found, "celery_scope_metrics_folded_task_events_total") == 4
    assert value(found, "flower_events_total", worker="w1@test", type="task-received",
                 task=OTHER) == 2


def fold_names(state: MetricState, names: int, workers: int = 3) -> None:
    """Each of `names` task names received, started and succeeded once, on one of `workers`."""
    for number in range(names):
        name, hostname = f"tasks.module.job_{number:05d}", f"w{number % workers}@test"
        received(state, name, hostname)
        row = {"name": name, "state": "STARTED", "eta": None, "received": T0, "started": T0 + 1}
        state.task_event({"type": "task-started", "hostname": hostname, "timestamp": T0 + 1},
                         row, "RECEIVED")
        succeeded(state, name, hostname, at=2.0)


def test_ten_thousand_task_names_scrape_in_under_a_second_and_stay_small():
    """Uncapped, 10,000 names on 3 workers made a 24 MB exposition taking 3.3 s."""
    settings = resolve({}, environ={})
    state = MetricState(settings.task_runtime_metric_buckets, settings.purge_offline_workers,
                        max_task_names=settings.metrics_max_task_names)
    fold_names(state, 10_000)
    registry = make_registry(SnapshotCollector(state.snapshot, lambda: None, clock=Clock(T0 + 3)))
    timings = []
    for _ in range(3):  # CPU seconds, the best of three: what a scrape costs, not how busy
        started = time.process_time()  # the machine is (wall time doubles under the suite)
        text = generate_latest(registry)
        timings.append(time.process_time() - started)
    assert min(timings) < 1.0, timings
    assert len(text) < 3 * 2**20, len(text)
    found = samples(text.decode())
    tasks = {dict(pairs)["task"] for name, pairs in found if name == "celery_task_state_total"}
    assert len(tasks) == settings.metrics_max_task_names + 1 and OTHER in tasks
    assert value(found, "celery_scope_metrics_folded_task_events_total") == 9_000 * 3
    assert total(found, "flower_events_total", type="task-succeeded") == 10_000


def test_store_health_follows_a_live_collector_and_this_process():
    status = {"updated_at": T0, "broker_connected": True, "store_error": "OperationalError: x",
              "store_down_since": T0 - 30, "quarantined": 4, "spooled": 12, "spool_bytes": 4096,
              "spool_dropped": 1, "spooled_total": 40}
    found = samples(exposition({}, status))
    assert value(found, "celery_scope_store_up") == 0
    assert value(found, "celery_scope_store_down_since_seconds") == T0 - 30
    assert value(found, "celery_scope_collector_quarantined_events_total") == 4
    assert value(found, "celery_scope_collector_spooled_messages") == 12
    assert value(found, "celery_scope_collector_spool_bytes") == 4096
    assert value(found, "celery_scope_collector_spool_dropped_total") == 1
    assert value(found, "celery_scope_collector_spooled_total") == 40
    stopped = samples(exposition({}, status, now=T0 + 60))  # its last word no longer counts
    assert value(stopped, "celery_scope_store_up") == 1
    assert value(stopped, "celery_scope_store_down_since_seconds") is None
    reads = ReadHealth(clock=Clock(T0 + 50))
    # this process's own read failed: the store is down, whatever the collector says
    reads.failed(refused_store_error())
    found = samples(exposition({}, {**status, "updated_at": T0 + 60, "store_error": None},
                               reads, now=T0 + 60))
    assert value(found, "celery_scope_store_up") == 0
    assert value(found, "celery_scope_store_down_since_seconds") == T0 + 50
    reads.recovered()
    assert value(samples(exposition({}, None, reads)), "celery_scope_store_up") == 1


# -- real workers, real celery-scope -------------------------------------------------------------

WORKERS = ("alpha@test", "beta@test")


@pytest.mark.integration
def test_known_run_of_tasks_counts_exactly_and_a_killed_worker_goes_offline(
        redis_server, workers, scope, cluster_app):
    processes = workers(*WORKERS, options=("--heartbeat-interval", "1"))
    dashboard = scope(redis_server.url, "--task-runtime-metric-buckets", "0.5,1,5")
    wait_for(lambda: scrape(dashboard.url), lambda found: all(
        value(found, "flower_worker_online", worker=name) == 1 for name in WORKERS), 30,
        "both workers online in /metrics")

    results = [cluster_app.send_task("cluster.add", args=(n, 1)) for n in range(6)]
    results += [cluster_app.send_task("cluster.fail", args=(f"n{n}",)) for n in range(4)]
    results += [cluster_app.send_task("cluster.sleep", args=(0.6,)) for n in range(2)]
    for result in results:
        result.get(timeout=30, propagate=False)

    expected = {("task-sent", "cluster.add"): 6, ("task-received", "cluster.add"): 6,
                ("task-started", "cluster.add"): 6, ("task-succeeded", "cluster.add"): 6,
                ("task-sent", "cluster.fail"): 4, ("task-received", "cluster.fail"): 4,
                ("task-started", "cluster.fail"): 4, ("task-failed", "cluster.fail"): 4,
                ("task-sent", "cluster.sleep"): 2, ("task-received", "cluster.sleep"): 2,
                ("task-started", "cluster.sleep"): 2, ("task-succeeded", "cluster.sleep"): 2}

    def events_by_type(found):
        counts = {}
        for (name, pairs), count in found.items():
            if name == "flower_events_total":
                labels = dict(pairs)
                key = (labels["type"], labels["task"])
                counts[key] = counts.get(key, 0) + count
        return counts

    wait_for(lambda: scrape(dashboard.url), lambda found: events_by_type(found) == expected, 30,
             "every task event counted once")
    # a last task, counted after all the others: by then nothing may have been counted twice
    cluster_app.send_task("cluster.echo", args=(1,)).get(timeout=30)
    found = wait_for(lambda: scrape(dashboard.url), lambda found: value(
        found, "celery_task_state_total", task="cluster.echo", state="SUCCESS") == 1, 30,
        "the last task counted")
    assert {key: count for key, count in events_by_type(found).items()
            if key[1] != "cluster.echo"} == expected
    worker_labels = {dict(pairs)["worker"] for (name, pairs) in found
                     if name == "flower_events_total" and ("type", "task-started") in pairs}
    assert worker_labels <= set(WORKERS)
    assert total(found, "flower_task_runtime_seconds_count", task="cluster.add") == 6
    assert total(found, "flower_task_runtime_seconds_bucket", task="cluster.add", le="0.5") == 6
    assert total(found, "flower_task_runtime_seconds_count", task="cluster.sleep") == 2
    assert total(found, "flower_task_runtime_seconds_bucket", task="cluster.sleep", le="0.5") == 0
    assert total(found, "flower_task_runtime_seconds_bucket", task="cluster.sleep", le="1.0") == 2
    assert total(found, "flower_task_runtime_seconds_count", task="cluster.fail") == 0  # no runtime
    assert total(found, "flower_worker_prefetched_tasks") == 0
    assert value(found, "celery_task_state_total", task="cluster.add", state="SUCCESS") == 6
    assert value(found, "celery_task_state_total", task="cluster.fail", state="FAILURE") == 4
    assert value(found, "celery_scope_collector_broker_connected") == 1
    assert value(found, "celery_scope_collector_malformed_events_total") == 0

    stop_process(processes[0], signum=signal.SIGKILL)  # no worker-offline event
    killed_at = time.monotonic()
    found = wait_for(lambda: scrape(dashboard.url),
                     lambda found: value(found, "flower_worker_online", worker=WORKERS[0]) == 0,
                     15, "the killed worker offline")
    # last heartbeat at most 1 s before the kill, expiry 2 intervals + 1 s slack, snapshot 1 s
    assert time.monotonic() - killed_at < 1 + 2 + 1 + 1 + 1
    assert value(found, "flower_worker_online", worker=WORKERS[1]) == 1


@pytest.mark.integration
def test_a_separate_web_process_serves_the_collectors_metrics(redis_server, cluster_app, tmp_path):
    """The scale-out shape: `celery-scope collect` beside a WSGI server sharing the cache."""
    collector = Scope(tmp_path, redis_server.url, "--no-enable-events",
                      "--task-runtime-metric-buckets", "0.1,1", "--queue-sample-interval", "0.5",
                      command=("celery-scope", "collect")).start()
    port = free_port()
    environment = {**{key: item for key, item in os.environ.items()
                      if not key.startswith("CELERY_SCOPE_")},
                   "CELERY_SCOPE_BROKER": redis_server.url, "CELERY_SCOPE_STORE": collector.store,
                   "CELERY_SCOPE_CACHE_DIR": collector.cache_dir}
    with open(tmp_path / "web.log", "ab") as log:
        web = subprocess.Popen([sys.executable, "-m", "waitress", "--listen", f"127.0.0.1:{port}",
                                "celery_scope.wsgi:server"], env=environment, cwd=TESTS_DIR,
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: urllib.request.urlopen(base + "/healthcheck", timeout=5).read(), 30,
                   "the WSGI server")
        with cluster_app.connection_for_write() as connection:
            dispatcher = EventDispatcher(connection, hostname="w@test")
            for number, runtime in enumerate((0.05, 0.5, 3.0)):
                dispatcher.send("task-received", uuid=f"u{number}", name="job")
                dispatcher.send("task-succeeded", uuid=f"u{number}", runtime=runtime)
        found = wait_for(lambda: scrape(base),
                         lambda found: total(found, "flower_task_runtime_seconds_count") == 3, 20,
                         "three runtimes in the web process's /metrics")
        assert [value(found, "flower_task_runtime_seconds_bucket", worker="w@test", task="job",
                      le=le) for le in ("0.1", "1.0", "+Inf")] == [1, 2, 3]
        assert value(found, "flower_events_total", worker="w@test", type="task-received",
                     task="job") == 3
        for number in range(5):  # no worker consumes them: they wait in the default queue
            cluster_app.send_task("cluster.add", args=(number, 1))
        wait_for(lambda: scrape(base),
                 lambda found: value(found, "celery_queue_length", queue="celery") == 5, 20,
                 "five messages waiting in the celery queue")
    finally:
        stop_process(web)
        assert collector.stop() == 0


@pytest.mark.integration
def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def test_ten_thousand_task_names_through_a_real_collector_keep_scrapes_small_and_fast(
        redis_server, scope, cluster_app):
    dashboard = scope(redis_server.url, "--no-enable-events")
    with cluster_app.connection_for_write() as connection:
        dispatcher = EventDispatcher(connection, hostname="w@test")
        for number in range(10_000):
            uuid, name = f"u{number}", f"tasks.generated.job_{number:05d}"
            dispatcher.send("task-received", uuid=uuid, name=name)
            dispatcher.send("task-succeeded", uuid=uuid, runtime=0.01)
    folded = 2 * (10_000 - 1000)  # both events of every name past the default cap
    wait_for(lambda: scrape(dashboard.url), lambda found: value(
        found, "celery_scope_metrics_folded_task_events_total") == folded, 60,
        "every event counted, the names past the cap as other")
    server = psutil.Process(dashboard.process.pid)
    timings = []
    for _ in range(3):  # the server's CPU seconds, best of three, as in the unit test above;
        started = cpu_seconds(server)  # uncapped: 3.2 s, 21 MB
        with urllib.request.urlopen(dashboard.url + "/metrics", timeout=30) as response:
            text = response.read()
        timings.append(cpu_seconds(server) - started)
    assert min(timings) < 1.0 and len(text) < 3 * 2**20, (timings, len(text))
    found = samples(text.decode())
    assert value(found, "flower_events_total", worker="w@test", type="task-succeeded",
                 task=OTHER) == 9_000
    assert total(found, "flower_task_runtime_seconds_count") == 10_000
