"""Retention on a real SQLite store: age and count limits, applied in small batches."""
import pytest

from celery_scope.collector import retention as retention_module
from celery_scope.collector.retention import Retention
from celery_scope.store.history import HistoryStore
from celery_scope.store.merge import new_task_row

NOW = 10_000_000.0
DAY = 86400.0


@pytest.fixture
def store(store_url):
    instance = HistoryStore(store_url)
    rows = []
    for number in range(100):  # one task every 0.4 days, newest first: 0 .. 39.6 days old
        row = new_task_row(f"t{number:03d}")
        row.update(state="SUCCESS", timestamp=NOW - number * 0.4 * DAY,
                   received=NOW - number * 0.4 * DAY)
        rows.append(row)
    instance.write(rows, samples=[{"hostname": "w", "timestamp": NOW - 35 * DAY, "active": 1,
                                   "processed": 1, "load1": 0.1},
                                  {"hostname": "w", "timestamp": NOW - DAY, "active": 1,
                                   "processed": 2, "load1": 0.1}])
    yield instance
    instance.close()


def remaining(store):
    with store.engine.connect() as connection:
        return [uuid for (uuid,) in connection.exec_driver_sql(
            "SELECT uuid FROM tasks ORDER BY received DESC")]


def drain(retention):
    steps = 0
    while retention.prune_step():
        steps += 1
    return steps


def test_age_limit_in_small_batches(store, monkeypatch):
    monkeypatch.setattr(retention_module, "DELETE_BATCH", 7)
    retention = Retention(store, max_age_seconds=30 * DAY, max_tasks=1000)
    retention.plan(NOW)
    steps = drain(retention)
    kept = remaining(store)
    assert kept == [f"t{number:03d}" for number in range(76)]  # 75 * 0.4 = 30 days: kept
    assert retention.deleted == 24 and steps == 4  # 7 + 7 + 7 + 3
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM worker_samples").scalar() == 1
    assert retention.prune_step() == 0  # caught up until the next plan


def test_count_limit_keeps_the_newest(store):
    retention = Retention(store, max_age_seconds=365 * DAY, max_tasks=10)
    retention.plan(NOW)
    drain(retention)
    assert remaining(store) == [f"t{number:03d}" for number in range(10)]


def test_nothing_to_prune(store):
    retention = Retention(store, max_age_seconds=365 * DAY, max_tasks=1000)
    retention.plan(NOW)
    assert drain(retention) == 0 and len(remaining(store)) == 100
