"""Queue latency: the oldest waiting message read off real redis-server queues without
consuming them, the age rule (sent time, else first seen), and the figures a real
celery-scope serves in /api/queues, /metrics and on /broker, checked against the times the
tasks were sent."""
import json
import sqlite3
import time

import pytest
import redis
from celery import Celery
from playwright.sync_api import expect
from prometheus_client.parser import text_string_to_metric_families

from celery_scope.broker.queue_lengths import head_task_id, management_heads, queue_heads
from celery_scope.queues.latency import FirstSeen, head_age, queue_latency
from celery_scope.store.history import HistoryStore

from .helpers import wait_for

NOW = 1_700_000_000.0
INTERVAL = 1.0  # the dashboards' queue sample interval in these tests, seconds


# -- the age rule ------------------------------------------------------------------------

@pytest.mark.parametrize("level, expected", [
    pytest.param({"messages": 0, "task_id": None}, (0.0, None), id="empty: no wait"),
    pytest.param({"messages": 2, "task_id": "a"}, (30.0, "sent"), id="sent time known"),
    pytest.param({"messages": 2, "task_id": "b"}, (5.0, "first_seen"),
                 id="no sent event: since first seen"),
    pytest.param({"messages": 1, "task_id": "a", "timestamp": NOW - 7}, (7.0, "sent"),
                 id="publisher timestamp (RabbitMQ) wins"),
    pytest.param({"messages": 1, "task_id": None}, (None, None), id="not a task message"),
    pytest.param({"messages": 1, "task_id": "future"}, (0.0, "sent"),
                 id="a clock ahead never gives a negative wait"),
])
def test_head_age(level, expected):
    sent = {"a": NOW - 30, "future": NOW + 3}
    assert head_age(level, sent, {"b": NOW - 5, "a": NOW - 1}, NOW) == expected


def test_queue_latency_is_the_oldest_priority_level():
    levels = [{"priority": 0, "messages": 3, "task_id": "old"},
              {"priority": 3, "messages": 0, "task_id": None},
              {"priority": 9, "messages": 1, "task_id": "new"}]
    latency = queue_latency(levels, {"new": NOW - 2}, {"old": NOW - 40}, NOW)
    assert latency == {"latency_seconds": 40.0, "latency_source": "first_seen", "priorities": [
        {"priority": 0, "messages": 3, "latency_seconds": 40.0, "latency_source": "first_seen"},
        {"priority": 9, "messages": 1, "latency_seconds": 2.0, "latency_source": "sent"}]}


@pytest.mark.parametrize("levels, expected", [
    pytest.param(None, (None, None), id="the broker shows no heads: unknown"),
    pytest.param([{"priority": 0, "messages": 0, "task_id": None}], (0.0, None), id="empty"),
    pytest.param([{"priority": 0, "messages": 1, "task_id": "x"},
                  {"priority": 9, "messages": 1, "task_id": "seen"}], (None, None),
                 id="one level unknown: the queue's figure is unknown, not too small"),
])
def test_queue_latency_unknown_and_empty(levels, expected):
    latency = queue_latency(levels, {}, {"seen": NOW - 1}, NOW)
    assert (latency["latency_seconds"], latency["latency_source"]) == expected


def test_first_seen_keeps_the_first_time_and_only_current_heads():
    seen = FirstSeen(limit=2)
    assert seen.mark(["a", "b"], 10.0) == {"a": 10.0, "b": 10.0}
    assert seen.mark(["a", "c"], 12.0) == {"a": 10.0, "c": 12.0}  # b left the head: dropped
    assert seen.mark(["b", "a", "c"], 14.0) == {"b": 14.0, "a": 10.0}  # bounded
    assert seen.mark([], 15.0) == {}


@pytest.mark.parametrize("raw, expected", [
    pytest.param(json.dumps({"headers": {"id": "t-1"}, "properties": {}}), "t-1",
                 id="celery protocol 2"),
    pytest.param(json.dumps({"headers": {}, "properties": {"correlation_id": "t-2"}}), "t-2",
                 id="correlation id"),
    pytest.param(b"not json", None, id="garbage"),
    pytest.param(json.dumps([1, 2]), None, id="not an object"),
    pytest.param(json.dumps({"headers": {"id": 5}}), None, id="an id that is not text"),
    pytest.param(None, None, id="empty list"),
])
def test_head_task_id(raw, expected):
    assert head_task_id(raw) == expected


def test_management_heads_take_the_publishers_timestamp_or_say_unknown():
    heads = management_heads([
        {"name": "stamped", "messages_ready": 2, "head_message_timestamp": 1_700_000_000},
        {"name": "plain", "messages_ready": 3}, {"name": "broken"}, "junk"])
    assert heads == {
        "stamped": [{"priority": None, "messages": 2, "task_id": None,
                     "timestamp": 1_700_000_000.0}],
        "plain": [{"priority": None, "messages": 3, "task_id": None, "timestamp": None}]}


# -- the oldest message on a real redis-server -------------------------------------------

@pytest.mark.integration
@pytest.mark.parametrize("options, prefix", [
    pytest.param({}, "", id="default"),
    pytest.param({"global_keyprefix": "pfx:"}, "pfx:", id="global_keyprefix"),
])
def test_redis_heads_are_the_oldest_message_of_each_priority_list(redis_server, options,
                                                                  prefix):
    app = Celery("heads", broker=redis_server.url, set_as_current=False)
    app.conf.broker_transport_options = options
    first = app.send_task("nobody.runs.this", queue="parked")
    app.send_task("nobody.runs.this", queue="parked")
    urgent = app.send_task("nobody.runs.this", queue="parked", priority=9)
    heads = queue_heads(app, ["parked", "empty"], timeout=2)
    assert heads["parked"] == [
        {"priority": 0, "messages": 2, "task_id": first.id, "timestamp": None},
        {"priority": 3, "messages": 0, "task_id": None, "timestamp": None},
        {"priority": 6, "messages": 0, "task_id": None, "timestamp": None},
        {"priority": 9, "messages": 1, "task_id": urgent.id, "timestamp": None}]
    assert all(level["messages"] == 0 for level in heads["empty"])
    client = redis.Redis.from_url(redis_server.url)
    assert client.llen(f"{prefix}parked") == 2  # read, never consumed
    assert client.llen(f"{prefix}parked\x06\x169") == 1
    client.close()
    app.close()


# -- end to end: a real celery-scope, real worker, tasks nobody consumes ------------------

def queues(dashboard):
    return {row["name"]: row for row in json.loads(dashboard.get("/api/queues"))["queues"]}


def metric_latency(dashboard, queue):
    for family in text_string_to_metric_families(dashboard.get("/metrics")):
        if family.name == "celery_queue_latency_seconds":
            for sample in family.samples:
                if sample.labels == {"queue": queue}:
                    return sample.value
    return None


def start(scope, redis_server):
    return scope(redis_server.url, "--queue-sample-interval", str(INTERVAL))


@pytest.mark.integration
@pytest.mark.browser
def test_latency_from_sent_events_grows_per_priority_and_flags_no_consumer(
        redis_server, scope, workers, cluster_app, page):
    dashboard = start(scope, redis_server)
    workers("busy@latency", options=("-Q", "busy"))  # consumes another queue, not celery
    sent_at = time.time()
    cluster_app.send_task("cluster.add", args=(1, 2))  # celery: nobody consumes it
    cluster_app.send_task("cluster.add", args=(3, 4))
    time.sleep(2.0)  # the second priority level's message is 2 s younger
    urgent_at = time.time()
    cluster_app.send_task("cluster.add", args=(5, 6), priority=9)

    def aged(seconds):
        return lambda rows: (rows.get("celery", {}).get("latency_source") == "sent"
                             and rows["celery"]["latency_seconds"] >= seconds
                             and len(rows["celery"]["priorities"] or ()) == 2)
    first = wait_for(lambda: queues(dashboard), aged(2.5), 20, "a latency from sent events")
    later = wait_for(lambda: queues(dashboard), aged(first["celery"]["latency_seconds"] + 1.5),
                     10, "the latency to grow")
    for rows in (first, later):
        celery = rows["celery"]
        expected = celery["sampled_at"] - sent_at  # the send time, taken just before sending
        assert expected - 0.5 <= celery["latency_seconds"] <= expected
        normal, high = celery["priorities"]
        assert (normal["priority"], normal["messages"], high["priority"], high["messages"]) == (
            0, 2, 9, 1)
        assert normal["latency_seconds"] == celery["latency_seconds"]
        assert high["latency_seconds"] == pytest.approx(celery["sampled_at"] - urgent_at,
                                                        abs=0.5)
        assert celery["messages"] == 3 and celery["consumers"] == 0 and celery["no_consumer"]
    assert later["celery"]["latency_seconds"] > first["celery"]["latency_seconds"]

    busy = wait_for(lambda: queues(dashboard).get("busy", {}),
                    lambda busy: busy.get("consumers") == 1 and busy["messages"] is not None,
                    20, "the worker consuming busy, and busy sampled")
    assert (busy["messages"], busy["latency_seconds"], busy["no_consumer"]) == (0, 0.0, False)

    # /metrics serves the same sample: within one interval of the API's figure, and growing
    scraped = metric_latency(dashboard, "celery")
    now_api = queues(dashboard)["celery"]
    assert abs(scraped - now_api["latency_seconds"]) <= INTERVAL + 0.5
    assert scraped >= later["celery"]["latency_seconds"]
    assert metric_latency(dashboard, "busy") == 0.0

    page.goto(dashboard.url + "/broker")
    row = page.locator("#broker-queues .ag-row", has_text="celery")
    expect(row.locator("[col-id='latency']")).to_contain_text("s · sent", timeout=15000)
    expect(row.locator("[col-id='workers']")).to_have_text("no online consumer: messages wait")
    expect(row.locator("[col-id='consumers'].no-consumer")).to_have_text("0")
    page.goto(dashboard.url + "/")
    card = page.locator("#summary-longest-wait")
    expect(card).to_contain_text("Longest wait: celery (since sent, no consumer)", timeout=15000)
    expect(card.locator("a")).to_have_attribute("href", "/broker")
    assert page.problems == []


@pytest.mark.integration
def test_latency_without_sent_events_is_a_lower_bound_from_first_seen(redis_server, scope):
    dashboard = start(scope, redis_server)
    client = Celery("quiet", broker=redis_server.url, set_as_current=False)  # no sent events
    sent_at = time.time()
    client.send_task("cluster.add", args=(1, 2))
    rows = wait_for(lambda: queues(dashboard),
                    lambda rows: (rows.get("celery", {}).get("latency_seconds") or 0) >= 2.0,
                    20, "a first-seen latency")
    celery = rows["celery"]
    assert celery["latency_source"] == "first_seen"
    waited = celery["sampled_at"] - sent_at
    # first seen at the first sample after sending: at most one interval (and a round) late
    assert waited - INTERVAL - 0.5 <= celery["latency_seconds"] <= waited
    assert metric_latency(dashboard, "celery") >= celery["latency_seconds"]
    client.close()


def test_a_store_made_before_latency_gains_its_columns(tmp_path):
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as old:
        old.execute("CREATE TABLE queue_samples (queue VARCHAR NOT NULL, timestamp FLOAT NOT "
                    "NULL, messages INTEGER)")
        old.execute("INSERT INTO queue_samples VALUES ('celery', 1.0, 4)")
    old.close()
    store = HistoryStore(f"sqlite:///{path}")
    try:
        assert store.latest_queue_samples(0) == [{
            "queue": "celery", "timestamp": 1.0, "messages": 4, "latency_seconds": None,
            "latency_source": None, "priorities": None}]
        levels = [{"priority": 0, "messages": 4, "latency_seconds": 3.0,
                   "latency_source": "sent"}]
        store.write_queue_samples([{"queue": "celery", "timestamp": 2.0, "messages": 4,
                                    "latency_seconds": 3.0, "latency_source": "sent",
                                    "priorities": levels}])
        assert store.latest_queue_samples(0)[0]["priorities"] == levels
    finally:
        store.close()
