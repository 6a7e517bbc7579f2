"""Alert measures against a real store (SQLite and PostgreSQL): the SQL of each kind, its
window, scope and labels; the alert links; the summary lines; orphan marking."""
from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest

from celery_scope.alerts.evaluator import summary_line
from celery_scope.alerts.links import alert_url
from celery_scope.alerts.measures import Readings, measure
from celery_scope.alerts.rules import parse_rule
from celery_scope.alerts.states import Transition
from celery_scope.store.cache import SnapshotCache
from celery_scope.store.history import HistoryStore, orphaning
from celery_scope.store.merge import new_task_row, new_worker_row

NOW = 1_700_000_000.0
BASE = "http://scope.example/"


def task_row(uuid, name, state, at, **fields):
    row = new_task_row(uuid)
    row.update(name=name, state=state, timestamp=at, received=at - 1, worker="w1@h",
               queue="celery", **fields)
    return row


@pytest.fixture
def store(store_url):
    history = HistoryStore(store_url)
    yield history
    history.close()


@pytest.fixture
def cache(tmp_path):
    snapshots = SnapshotCache(str(tmp_path / "cache"))
    yield snapshots
    snapshots.close()


def readings(store, cache, now=NOW, watching_since=NOW - 3600, forget=0.0):
    return Readings(store, cache, now, 30.0, watching_since, forget)


def rule(**table):
    return parse_rule({"name": "r", **table})


def by_label(measured):
    return {tuple(sorted(m.labels.items())): (m.value, m.breaching) for m in measured}


def test_failure_ratio_per_task_within_the_window_and_min_count(store, cache):
    rows = [task_row(f"a{i}", "shop.charge", "FAILURE" if i < 3 else "SUCCESS", NOW - 10)
            for i in range(10)]
    rows += [task_row(f"b{i}", "shop.mail", "FAILURE", NOW - 10) for i in range(2)]
    rows += [task_row(f"old{i}", "shop.charge", "FAILURE", NOW - 400) for i in range(50)]
    rows += [task_row("run", "shop.charge", "STARTED", NOW - 5)]
    store.write(rows)
    found = by_label(measure(rule(kind="failure_ratio", threshold=0.2, min_count=5),
                             readings(store, cache)))
    assert found == {(("task", "shop.charge"),): (0.3, True),
                     (("task", "shop.mail"),): (1.0, False)}  # 2 finished < min_count 5
    scoped = measure(rule(kind="failure_ratio", threshold=0.2, task="shop.mail"),
                     readings(store, cache))
    assert by_label(scoped) == {(("task", "shop.mail"),): (1.0, True)}
    queue_scoped = measure(rule(kind="failure_ratio", threshold=0.2, queue="other"),
                           readings(store, cache))
    assert queue_scoped == []


def test_failure_count_is_above_the_threshold(store, cache):
    store.write([task_row(f"a{i}", "t", "FAILURE", NOW - 1) for i in range(3)])
    assert by_label(measure(rule(kind="failure_count", threshold=3), readings(store, cache))) \
        == {(("task", "t"),): (3.0, False)}
    assert by_label(measure(rule(kind="failure_count", threshold=2), readings(store, cache))) \
        == {(("task", "t"),): (3.0, True)}


def test_runtime_p95_is_the_nearest_rank(store, cache):
    store.write([task_row(f"a{i}", "t", "SUCCESS", NOW - 5, runtime=float(i + 1))
                 for i in range(40)]
                + [task_row("f", "t", "FAILURE", NOW - 5, runtime=1000.0)])
    # ceil(0.95 × 40) = 38th smallest of 1..40
    assert by_label(measure(rule(kind="runtime_p95", threshold="30s", min_count=10),
                            readings(store, cache))) == {(("task", "t"),): (38.0, True)}
    assert by_label(measure(rule(kind="runtime_p95", threshold=30, min_count=41),
                            readings(store, cache))) == {(("task", "t"),): (38.0, False)}


def test_stuck_started_counts_long_runners_not_orphans(store, cache):
    store.write([task_row("long", "t", "STARTED", NOW - 700),
                 task_row("lost", "t", "STARTED", NOW - 700, orphaned=NOW - 600),
                 task_row("fresh", "t", "STARTED", NOW - 10)])
    assert by_label(measure(rule(kind="stuck_started", threshold="10m"),
                            readings(store, cache))) == {(("task", "t"),): (1.0, True)}


def test_orphaned_within_the_window_whatever_became_of_them(store, cache):
    store.write([task_row("a", "t", "SUCCESS", NOW - 10, orphaned=NOW - 20),
                 task_row("b", "t", "STARTED", NOW - 30, orphaned=NOW - 20),
                 task_row("c", "t", "STARTED", NOW - 900, orphaned=NOW - 800)])
    assert by_label(measure(rule(kind="orphaned", window="5m", min_count=2),
                            readings(store, cache))) == {(("task", "t"),): (2.0, True)}


def test_dead_mans_switch_counts_from_the_last_success(store, cache):
    store.write([task_row("a", "beat.job", "SUCCESS", NOW - 900, succeeded=NOW - 900),
                 task_row("b", "beat.job", "FAILURE", NOW - 10)])
    switch = rule(kind="dead_mans_switch", task="beat.job", threshold="10m")
    assert by_label(measure(switch, readings(store, cache))) == \
        {(("task", "beat.job"),): (900.0, True)}
    store.write([task_row("c", "beat.job", "SUCCESS", NOW - 60, succeeded=NOW - 60)])
    assert by_label(measure(switch, readings(store, cache))) == \
        {(("task", "beat.job"),): (60.0, False)}
    never = rule(kind="dead_mans_switch", task="never.ran", threshold="10m")
    assert by_label(measure(never, readings(store, cache, watching_since=NOW - 100))) == \
        {(("task", "never.ran"),): (100.0, False)}


def test_queue_kinds_read_the_newest_samples_and_the_consumers(store, cache):
    store.write_queue_samples([
        {"queue": "celery", "timestamp": NOW - 5, "messages": 4, "latency_seconds": 70.0,
         "latency_source": "sent"},
        {"queue": "idle", "timestamp": NOW - 5, "messages": 0, "latency_seconds": 0.0,
         "latency_source": None},
        {"queue": "stale", "timestamp": NOW - 500, "messages": 9, "latency_seconds": 400.0,
         "latency_source": "sent"}])
    worker = {**new_worker_row("w1@h"), "last_heartbeat": NOW - 1, "freq": 2.0}
    store.write([], [worker])
    cache.merge_inspection({"active_queues": {"w1@h": [{"name": "idle"}]}}, NOW - 2)
    found = readings(store, cache)
    assert by_label(measure(rule(kind="queue_latency", threshold="1m"), found)) == {
        (("queue", "celery"),): (70.0, True), (("queue", "idle"),): (0.0, False)}
    assert by_label(measure(rule(kind="queue_depth", threshold=3, queue="celery"), found)) \
        == {(("queue", "celery"),): (4.0, True)}
    assert by_label(measure(rule(kind="no_consumer"), found)) == {
        (("queue", "celery"),): (4.0, True), (("queue", "idle"),): (0.0, False)}


def test_worker_offline_follows_the_liveness_rule(store, cache):
    store.write([], [
        {**new_worker_row("alive@h"), "last_heartbeat": NOW - 1, "freq": 2.0},
        {**new_worker_row("silent@h"), "last_heartbeat": NOW - 6, "freq": 2.0},
        {**new_worker_row("gone@h"), "status": "offline", "last_heartbeat": NOW - 2},
        {**new_worker_row("long-gone@h"), "status": "offline", "last_heartbeat": NOW - 9000}])
    found = by_label(measure(rule(kind="worker_offline"), readings(store, cache, forget=3600)))
    assert found == {(("worker", "alive@h"),): (1.0, False),
                     (("worker", "silent@h"),): (6.0, True),
                     (("worker", "gone@h"),): (2.0, True)}


def test_mark_orphaned_touches_the_started_tasks_of_that_worker_once(store):
    store.write([task_row("a", "t", "STARTED", NOW - 5),
                 task_row("b", "t", "SUCCESS", NOW - 5),
                 {**task_row("c", "t", "STARTED", NOW - 5), "worker": "w2@h"}])
    assert store.mark_orphaned("w1@h", NOW) == 1
    assert store.mark_orphaned("w1@h", NOW + 10) == 0
    rows = store.load_tasks(["a", "b", "c"])
    assert (rows["a"]["orphaned"], rows["b"]["orphaned"], rows["c"]["orphaned"]) == \
        (NOW, None, None)


def test_marking_orphans_walks_the_running_tasks_not_everything_the_worker_ran(tmp_path):
    """SQLite's planner, left to itself, takes the worker's index for this UPDATE: every
    task the worker ever ran, minutes at 10M tasks, with the writer's lock held."""
    history = HistoryStore(f"sqlite:///{tmp_path / 'plan.db'}")
    try:
        statement = orphaning("w1@h", NOW).compile(history.engine)
        with history.engine.connect() as connection:
            plan = " ".join(str(row[-1]) for row in connection.exec_driver_sql(
                f"EXPLAIN QUERY PLAN {statement}", tuple(statement.params.values())))
    finally:
        history.close()
    # either index that leads with the state will do; the worker's will not
    assert "(state=?)" in plan and "ix_tasks_worker" not in plan, plan


def query(url):
    parts = urlsplit(url)
    return parts.path, {key: value[0] for key, value in parse_qs(parts.query).items()}


def test_links_lead_to_the_cause():
    failures = rule(kind="failure_ratio", threshold=0.1, window="5m", queue="q1")
    path, params = query(alert_url(BASE, failures, {"task": "shop.charge"}, NOW))
    assert path == "/tasks"
    assert params == {"state": "FAILURE", "name": "shop.charge", "queue": "q1",
                      "time_field": "failed", "since": str(int(NOW - 300)), "sort": "-failed"}
    assert alert_url(BASE, rule(kind="queue_depth", threshold=1), {"queue": "q"}, NOW) == \
        BASE + "broker"
    assert alert_url(BASE, rule(kind="worker_offline"), {"worker": "w 1@h/x"}, NOW) == \
        BASE + "workers/w%201%40h%2Fx"


def test_summary_lines_are_plain_words():
    failures = rule(kind="failure_ratio", threshold=0.2, window="5m")
    firing = Transition("r", {"task": "shop.charge"}, "firing", 0.35, 0.2, NOW, NOW, True)
    assert summary_line(failures, firing) == \
        "task shop.charge: failure ratio 35% over the last 5.0 min (threshold 20%)."
    resolved = Transition("r", {"task": "shop.charge"}, "resolved", 0.35, 0.2, NOW, NOW, True)
    assert summary_line(failures, resolved) == \
        "Resolved: task shop.charge is back within its rule (r)."


def test_orphans_are_kept_by_later_events(tmp_path):
    """The writer's merge loads the stored row, orphaned included, and writes it back."""
    from celery_scope.collector.events import EventCollector
    from celery_scope.collector.status import CollectorStatus

    history = HistoryStore(f"sqlite:///{tmp_path / 'h.db'}")
    status = CollectorStatus(SnapshotCache(str(tmp_path / "c")), "test")
    writer = EventCollector(None, history, status)
    now = time.time()
    writer._store_part([[{"type": "worker-online", "hostname": "w1@h", "timestamp": now - 30,
                          "freq": 2.0},
                         {"type": "task-started", "uuid": "t1", "hostname": "w1@h",
                          "timestamp": now - 29}]])
    writer.orphans.check(writer._workers)  # silent 30 s at 2 s heartbeats: offline
    orphaned_at = history.task("t1")["orphaned"]
    assert orphaned_at == pytest.approx(now - 30 + 2 * 2.0 + 1.0)
    writer._store_part([[{"type": "task-succeeded", "uuid": "t1", "hostname": "w1@h",
                          "timestamp": now - 1, "runtime": 28.0}]])
    row = history.task("t1")
    assert (row["state"], row["orphaned"]) == ("SUCCESS", orphaned_at)
    history.close()
