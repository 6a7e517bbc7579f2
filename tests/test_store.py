"""The history store and the collector's ingest path, on a real SQLite file (no broker)."""

import pytest

from celery_scope.collector.events import EventCollector
from celery_scope.collector.status import CollectorStatus
from celery_scope.store.cache import SnapshotCache
from celery_scope.store.engine import StoreError
from celery_scope.store.history import HistoryStore

from .helpers import message, task


@pytest.fixture
def store(tmp_path):
    instance = HistoryStore(f"sqlite:///{tmp_path / 'sub' / 'history.db'}")
    yield instance
    instance.close()


@pytest.fixture
def collector(store, tmp_path):
    cache = SnapshotCache(str(tmp_path / "cache"))
    yield EventCollector(receiver=None, store=store, status=CollectorStatus(cache, "test://"))
    cache.close()






def test_sqlite_store_uses_wal(store):
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_bad_store_url_is_a_clear_error():
    with pytest.raises(StoreError, match="invalid store URL"):
        HistoryStore("not a url")


def test_events_split_over_batches_merge_into_one_row(collector, store):
    collector.ingest([message(task("task-received", "t1", 1.0, name="a.b", args="(1,)"))])
    collector.ingest([message(task("task-succeeded", "t1", 3.0, result="2", runtime=0.5)),
                      message(task("task-started", "t1", 2.0))])
    row = store.task("t1")
    assert (row["state"], row["name"], row["args"], row["result"]) == (
        "SUCCESS", "a.b", "(1,)", "2")
    assert (row["received"], row["started"], row["succeeded"], row["runtime"]) == (
        1.0, 2.0, 3.0, 0.5)
    (worker,) = store.workers()
    assert worker["hostname"] == "w@h" and worker["succeeded"] == 1


def test_malformed_messages_are_counted_and_skipped(collector, store):
    collector.ingest([b"not json", message({"type": "task-received", "timestamp": 1}),
                      message(task("task-received", "ok", 1.0))])
    assert store.count_tasks() == 1
    status = collector.status.snapshot()
    assert status["malformed"] == 2 and status["events"] == 1
    assert "task uuid" in status["last_malformed"]


def test_heartbeats_update_the_worker_and_sample_it(collector, store):
    beat = {"type": "worker-heartbeat", "hostname": "w@h", "active": 2, "processed": 9,
            "loadavg": [0.1, 0.2, 0.3], "freq": 2.0, "sw_ident": "py-celery", "sw_ver": "5.4"}
    collector.ingest([message({**beat, "timestamp": 100.0}), message({**beat, "timestamp": 102.0}),
                      message({**beat, "timestamp": 111.0})])
    (worker,) = store.workers()
    assert (worker["active"], worker["processed"], worker["load15"]) == (2, 9, 0.3)
    assert worker["last_heartbeat"] == 111.0
    with store.engine.connect() as connection:
        times = [row[0] for row in connection.exec_driver_sql(
            "SELECT timestamp FROM worker_samples ORDER BY timestamp")]
    assert times == [100.0, 111.0]  # one sample per worker per 10 s


def test_worker_counters_survive_reopening(collector, store, tmp_path):
    collector.ingest([message(task("task-failed", "f1", 1.0, exception="E"))])
    reopened = EventCollector(receiver=None, store=store, status=collector.status)
    reopened.ingest([message(task("task-failed", "f2", 2.0, exception="E"))])
    assert store.workers()[0]["failed"] == 2


def test_count_states_since(collector, store):
    collector.ingest([message(task("task-succeeded", "a", 10.0), task("task-succeeded", "b", 20.0),
                              task("task-failed", "c", 30.0), task("task-started", "d", 40.0))])
    assert store.count_states_since(15.0, ["SUCCESS", "FAILURE"]) == {"SUCCESS": 1, "FAILURE": 1}
