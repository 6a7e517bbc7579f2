"""The queue sampler against a real redis-server: depths of configured and consumed queues
land in the store; a broker outage is recorded as unknown depths and never stops it."""
import logging

import pytest
from celery import Celery

from celery_scope.collector.queue_sampler import QueueSampler
from celery_scope.store.cache import SnapshotCache
from celery_scope.store.history import HistoryStore

from .helpers import RedisServer, free_port, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def store(tmp_path):
    instance = HistoryStore(f"sqlite:///{tmp_path / 'history.db'}")
    yield instance
    instance.close()


@pytest.fixture
def cache(tmp_path):
    instance = SnapshotCache(str(tmp_path / "cache"))
    yield instance
    instance.close()


def routed_app(url):
    app = Celery("sampled", broker=url, set_as_current=False)
    app.conf.task_routes = {"reports.*": {"queue": "reports"}}
    return app


def test_one_round_samples_configured_and_consumed_queues(redis_server, store, cache):
    app = routed_app(redis_server.url)
    cache.merge_inspection({"active_queues": {"w1@h": [{"name": "mail"}]}}, 1.0)
    for _ in range(3):
        app.send_task("reports.monthly")
    app.send_task("send", queue="mail")
    sampler = QueueSampler(app, store, cache, interval=10, timeout=2)
    rows = sampler.sample()
    assert [(row["queue"], row["messages"]) for row in rows] == [
        ("celery", 0), ("mail", 1), ("reports", 3)]
    assert store.latest_queue_samples(0.0) == rows
    app.close()


def latest(store):
    return {row["queue"]: row["messages"] for row in store.latest_queue_samples(0)}


def test_the_thread_keeps_sampling_through_a_broker_outage(tmp_path, store, cache, caplog):
    server = RedisServer(tmp_path, free_port()).start()
    app = routed_app(server.url)
    app.send_task("reports.daily")
    sampler = QueueSampler(app, store, cache, interval=0.2, timeout=0.5)
    sampler.start()
    try:
        wait_until(lambda: any(row["messages"] == 1 for row in store.queue_samples(["reports"], 0)),
                   10, "a sample of the reports queue")
        with caplog.at_level(logging.WARNING, logger="celery_scope.collector.queue_sampler"):
            server.stop()
            wait_until(lambda: sampler.failures >= 2, 20, "failed rounds")
        unknown = [row for row in store.queue_samples(None, 0) if row["messages"] is None]
        assert {row["queue"] for row in unknown} == {"celery", "reports"}  # gaps, not zeros
        assert "queue sampling failed" in caplog.text
        assert sampler.next_pause() > sampler.interval  # backing off

        server.start()  # same port, empty: nothing persisted
        app.send_task("reports.daily")
        app.send_task("reports.daily")
        wait_until(lambda: latest(store)["reports"] == 2, 30, "sampling to resume")
        assert sampler.failures == 0
    finally:
        sampler.stop()
        server.stop()
        app.close()
    assert not sampler._thread.is_alive()


@pytest.mark.parametrize("failures, expected", [(0, 10), (1, 20), (2, 40), (3, 80), (4, 120),
                                                (9, 120)])
def test_backoff_doubles_up_to_a_cap(failures, expected):
    sampler = QueueSampler(None, None, None, interval=10, timeout=1)
    sampler.failures = failures
    assert sampler.next_pause() == expected
