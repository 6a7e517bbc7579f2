"""The collector as an operator meets it: a real redis-server, real workers, a real
celery-scope process on SQLite or PostgreSQL. Hostile events, store outages and a flood
above the writer's rate: nothing ends ingestion, nothing is lost, memory stays bounded."""
import json
import time
import uuid

import psutil
import pytest
import redis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from celery_scope.collector.decode import MalformedEvent, iter_events
from celery_scope.store.history import HistoryStore

from .helpers import PostgresServer, TaskStream, envelope, wait_for, wait_until
from .test_collector_resilience import HOSTILE, UUID88
from .test_decode import _hostile_events

pytestmark = pytest.mark.integration

RSS_CAP = 400 << 20  # bytes: the dashboard and its collector together, whatever the backlog




def publish(redis_url: str, *messages: bytes) -> None:
    client = redis.Redis.from_url(redis_url)
    for message in messages:
        client.publish("/0.celeryev/task.multi", message)
    client.close()


def run_tasks(cluster_app, count: int, prefix: str) -> list[str]:
    ids = [f"{prefix}-{number}" for number in range(count)]
    for task_id in ids:
        cluster_app.send_task("cluster.add", args=(1, 2), task_id=task_id)
    return ids


def all_succeeded(store: HistoryStore, ids: list[str]) -> bool:
    rows = store.load_tasks(ids)
    return len(rows) == len(ids) and all(row["state"] == "SUCCESS" for row in rows.values())


@pytest.fixture
def dashboard(redis_server, workers, scope, store_url):
    workers("alpha@test")
    instance = scope(redis_server.url, store=store_url)
    store = HistoryStore(store_url)
    wait_until(lambda: store.workers(), 30, "the worker's heartbeat")
    yield instance, store
    store.close()


def test_the_report_s_hostile_events_are_quarantined_and_ingestion_goes_on(
        dashboard, redis_server, cluster_app):
    instance, store = dashboard
    publish(redis_server.url, b"\x00 not json", *(envelope(event) for event in HOSTILE),
            envelope([*HOSTILE, {"type": "task-received", "uuid": "inline", "timestamp": 1}]))
    ids = [*run_tasks(cluster_app, 99, "after"), UUID88]
    cluster_app.send_task("cluster.add", args=(1, 2), task_id=UUID88)
    wait_until(lambda: all_succeeded(store, ids), 60, "100 ordinary tasks after the hostile ones")
    assert store.task("inline")  # the good event among the bad ones of one message
    reasons = [entry["reason"] for entry in store.quarantined(1000)]
    assert len(reasons) == 2 * len(HOSTILE) + 1 and all(reasons)
    status = wait_for(instance.status, lambda found: found.get("quarantined") == len(reasons),
                      10, "the quarantine count in the status")
    assert status["events"] > 0
    page = json.loads(instance.get("/api/quarantine?limit=5"))
    assert page["total"] == len(reasons) and len(page["entries"]) == 5
    assert instance.process.poll() is None


@settings(max_examples=3, deadline=None, derandomize=True, phases=[Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(hostile=st.lists(_hostile_events, min_size=40, max_size=40))
def test_generated_hostile_events_never_stop_ingestion(dashboard, redis_server, cluster_app,
                                                       hostile):
    instance, store = dashboard
    quarantined = store.count_quarantined()
    messages = [*(envelope(event) for event in hostile), envelope(hostile)]
    publish(redis_server.url, *messages)
    ids = run_tasks(cluster_app, 100, f"generated-{uuid.uuid4().hex[:8]}")
    wait_until(lambda: all_succeeded(store, ids), 60, "100 ordinary tasks after generated ones")
    refused = sum(isinstance(item, MalformedEvent) for message in messages
                  for item in iter_events(message))  # a message JSON cannot hold counts once
    wait_until(lambda: store.count_quarantined() == quarantined + refused, 10,
               f"{refused} events refused by the decoder in the quarantine")
    assert instance.process.poll() is None


def peak_rss(process: psutil.Process, samples: list[int]) -> None:
    samples.append(process.memory_info().rss)


def test_postgresql_stopped_for_30_s_under_a_task_stream_loses_nothing(
        redis_server, workers, scope, cluster_app, tmp_path):
    server = PostgresServer().start()
    try:
        url = server.create_database("scope")
        workers("alpha@test")
        instance = scope(redis_server.url, store=url)
        store = HistoryStore(url)
        rss = []
        process = psutil.Process(instance.process.pid)
        with TaskStream(cluster_app, 20) as stream:
            wait_until(lambda: len(stream.ids) > 60, 20, "the stream to start")
            server.stop()
            sent_before_outage = len(stream.ids)
            status = wait_for(instance.status, lambda found: found.get("store_down_since"), 30,
                              "the outage in the collector's status")
            assert "INSERT" not in status["store_error"] and "SELECT" not in status["store_error"]
            outage_ends = time.monotonic() + 30
            while time.monotonic() < outage_ends:
                peak_rss(process, rss)
                time.sleep(1)
            during = instance.status()
            assert during["store_down_since"] and during["spooled"] > 0
            sent_during_outage = len(stream.ids) - sent_before_outage
            server.start()
            wait_until(lambda: not instance.status().get("store_down_since"), 60,
                       "the collector to see the store back")
            time.sleep(3)
        wait_until(lambda: all_succeeded(store, stream.ids), 90,
                   f"all {len(stream.ids)} tasks of the stream")
        # the stream went on through the outage (20 a second nominal; at least half of it
        # on a loaded machine), so what was stored includes what came while it was away
        assert sent_during_outage > 300, sent_during_outage
        assert max(rss) < RSS_CAP, f"peak RSS {max(rss) >> 20} MB"
        assert instance.status()["spooled"] == 0
        store.close()
    finally:
        server.close()


def test_an_sqlite_lock_held_past_busy_timeout_loses_nothing(
        redis_server, workers, scope, cluster_app, tmp_path):
    workers("alpha@test")
    instance = scope(redis_server.url)
    store = HistoryStore(instance.store)
    with TaskStream(cluster_app, 20) as stream:
        wait_until(lambda: len(stream.ids) > 40, 20, "the stream to start")
        with store.engine.connect() as connection:
            connection.exec_driver_sql("BEGIN EXCLUSIVE")
            status = wait_for(instance.status, lambda found: found.get("store_down_since"), 30,
                              "the lock to be reported as an outage")
            assert "locked" in status["store_error"]
            time.sleep(3)
            connection.exec_driver_sql("ROLLBACK")
        wait_until(lambda: not instance.status().get("store_down_since"), 60, "recovery")
        time.sleep(2)
    wait_until(lambda: all_succeeded(store, stream.ids), 60, "every task of the stream")
    store.close()


def flood_messages(number: int, tasks_per_message: int = 8, result_bytes: int = 16_000):
    """Messages as workers send them (buffered lifecycles), heavy with results."""
    base = time.time()
    events = []
    for index in range(tasks_per_message):
        task_id = f"flood-{number}-{index}"
        events += [{"type": "task-received", "uuid": task_id, "timestamp": base,
                    "hostname": "flood@test", "name": "flood.task", "args": "()"},
                   {"type": "task-succeeded", "uuid": task_id, "timestamp": base + 0.01,
                    "hostname": "flood@test", "runtime": 0.01,
                    "result": "'" + "r" * result_bytes + "'"}]
    return envelope(events)


FLOOD_TASKS_PER_MESSAGE = 64  # small tasks: cheap to publish, each a row for the writer


@pytest.mark.serial  # a million tasks in ten seconds: the drain wants the machine to itself
def test_a_flood_above_the_writer_s_rate_is_spooled_and_drained(redis_server, scope, tmp_path):
    """Messages of 64 small tasks, published back to back for 10 s: about ten times the
    tasks per second any store writes, so the backlog passes the in-memory bound within a
    second and goes through the spool; all of it is stored in the end, memory stays under
    the cap, nothing is dropped."""
    instance = scope(redis_server.url, "--no-enable-events", "--spool-max-mb", "4096")
    process = psutil.Process(instance.process.pid)
    client = redis.Redis.from_url(redis_server.url)
    rss, sent = [], 0
    ends = time.monotonic() + 10
    while time.monotonic() < ends:
        for _ in range(100):
            client.publish("/0.celeryev/task.multi",
                           flood_messages(sent, FLOOD_TASKS_PER_MESSAGE, result_bytes=200))
            sent += 1
        peak_rss(process, rss)
    client.close()
    store = HistoryStore(instance.store)
    expected = sent * FLOOD_TASKS_PER_MESSAGE
    wait_until(lambda: (peak_rss(process, rss), store.count_tasks())[1] == expected, 300,
               f"all {expected} flooded tasks")
    status = wait_for(instance.status, lambda found: found.get("spooled") == 0, 10,
                      "the spool to be reported empty")
    assert status["spooled_total"] > 0, "the writer kept up: the flood was not above its rate"
    assert max(rss) < RSS_CAP, f"peak RSS {max(rss) >> 20} MB"
    assert status["spool_dropped"] == 0
    store.close()
