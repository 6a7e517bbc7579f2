"""End to end on real parts: redis-server, `celery worker -E` processes, the celery-scope
process."""
import json
import signal
import sys
import time

import pytest
import redis
from celery.events import EventDispatcher

from celery_scope.store.history import HistoryStore

from .helpers import Scope, wait_for, wait_until

pytestmark = pytest.mark.integration

WORKERS = ("alpha@test", "beta@test")


def final_states(store):
    with store.engine.connect() as connection:
        return dict(connection.exec_driver_sql(
            "SELECT uuid, state FROM tasks WHERE state IN ('SUCCESS', 'FAILURE')").all())


def test_tasks_from_real_workers_reach_the_store_and_survive_a_restart(
        redis_server, workers, scope, cluster_app, tmp_path):
    workers(*WORKERS)
    dashboard = scope(redis_server.url)
    wait_until(lambda: dashboard.status().get("broker_connected"), 20, "collector connected")
    store = HistoryStore(dashboard.store)
    wait_until(lambda: {w["hostname"] for w in store.workers()} >= set(WORKERS), 30,
               "both workers' heartbeats")

    sent = {}
    for number in range(200):
        sent[cluster_app.send_task("cluster.add", args=(number, 1)).id] = "add"
    for number in range(50):
        sent[cluster_app.send_task("cluster.fail", args=(f"n{number}",)).id] = "fail"
    for number in range(50):
        sent[cluster_app.send_task("cluster.retry_once", args=(number,)).id] = "retry"

    states = wait_for(lambda: final_states(store), lambda found: len(found) == len(sent), 90,
                      f"{len(sent)} tasks in a final state")
    rows = store.load_tasks(list(sent))
    for uuid, kind in sent.items():
        row = rows[uuid]
        assert states[uuid] == ("FAILURE" if kind == "fail" else "SUCCESS"), row
        assert row["worker"] in WORKERS
        # Celery stamps task-sent just after publishing, so a fast worker may receive first.
        assert row["sent"] <= row["received"] + 0.5 and row["received"] <= row["started"]
        if kind == "fail":
            assert "failed on purpose" in row["exception"] and "Traceback" in row["traceback"]
            assert row["failed"] >= row["started"]
        else:
            assert row["succeeded"] >= row["started"] and row["runtime"] >= 0
        if kind == "retry":
            assert row["retries"] == 1 and row["retried"] is not None
            assert "first attempt fails" in row["exception"]
    assert rows[next(iter(sent))]["name"] == "cluster.add"
    assert rows[next(iter(sent))]["queue"] == "celery"

    totals = {w["hostname"]: w for w in store.workers()}
    assert sum(totals[name]["succeeded"] for name in WORKERS) == 250
    assert sum(totals[name]["failed"] for name in WORKERS) == 50
    assert sum(totals[name]["retried"] for name in WORKERS) == 50

    assert dashboard.stop() == 0  # clean exit on SIGTERM
    restarted = Scope(tmp_path, redis_server.url)
    restarted.port = dashboard.port
    restarted.start()
    try:
        assert len(final_states(store)) == len(sent)
        wait_until(lambda: restarted.status().get("broker_connected"), 20, "reconnected")
        after = cluster_app.send_task("cluster.add", args=(2, 2)).id
        wait_until(lambda: (store.task(after) or {}).get("state") == "SUCCESS", 30,
                   "a task sent after the restart")
        assert sum(w["succeeded"] for w in store.workers()) == 251
    finally:
        restarted.stop()
    store.close()


def publish_raw(redis_url, routing_key, payload):
    client = redis.Redis.from_url(redis_url)
    client.publish(f"/0.celeryev/{routing_key}", payload)
    client.close()


def test_malformed_events_are_counted_and_ingestion_goes_on(redis_server, scope, cluster_app):
    dashboard = scope(redis_server.url, "--no-enable-events")
    wait_until(lambda: dashboard.status().get("broker_connected"), 20, "collector connected")
    publish_raw(redis_server.url, "task.multi", b"\x00 not json at all")
    bad_event = json.dumps({"body": json.dumps({"type": "task-received", "timestamp": 1}),
                            "content-type": "application/json", "properties": {}})
    publish_raw(redis_server.url, "task.received", bad_event)
    with cluster_app.connection_for_write() as connection:
        dispatcher = EventDispatcher(connection, hostname="fake@test")
        dispatcher.send("task-received", uuid="after-garbage", name="x.y", args="()", kwargs="{}")
        dispatcher.close()
    store = HistoryStore(dashboard.store)
    wait_until(lambda: store.task("after-garbage"), 20, "the good event after the bad ones")
    status = wait_for(dashboard.status, lambda found: found.get("malformed") == 2, 10,
                      "malformed count in the status")
    assert "task uuid" in status["last_malformed"]
    assert dashboard.process.poll() is None
    store.close()


def test_broker_outage_is_reported_and_ingestion_resumes(redis_server, scope, cluster_app):
    dashboard = scope(redis_server.url, "--no-enable-events")
    wait_until(lambda: dashboard.status().get("broker_connected"), 20, "collector connected")
    store = HistoryStore(dashboard.store)
    with cluster_app.connection_for_write() as connection:
        EventDispatcher(connection, hostname="w@test").send("task-received", uuid="before",
                                                            name="x.y")
    wait_until(lambda: store.task("before"), 20, "the event before the outage")

    redis_server.stop()
    status = wait_for(dashboard.status, lambda found: not found.get("broker_connected"), 20,
                      "the collector to notice the outage")
    assert status["broker_error"]
    assert dashboard.get("/healthcheck") == "OK"  # the web side keeps serving

    redis_server.start()
    wait_until(lambda: dashboard.status().get("broker_connected"), 60, "reconnection")
    cluster_app.pool.force_close_all()
    with cluster_app.connection_for_write() as connection:
        EventDispatcher(connection, hostname="w@test").send("task-received", uuid="after",
                                                            name="x.y")
    wait_until(lambda: store.task("after"), 20, "the event after the outage")
    assert store.task("before")["name"] == "x.y"
    store.close()


def test_sigkill_loses_at_most_the_last_second(redis_server, scope, cluster_app, tmp_path):
    """Kill -9 mid-stream: every task published over a second before the kill is in the store."""
    dashboard = scope(redis_server.url, "--no-enable-events")
    wait_until(lambda: dashboard.status().get("broker_connected"), 20, "collector connected")
    published = []  # (uuid, time its last event was flushed to the broker)
    with cluster_app.connection_for_write() as connection:
        dispatcher = EventDispatcher(connection, hostname="w@test", buffer_group=["task"],
                                     buffer_limit=24)
        killed_at = None
        deadline = time.monotonic() + 4.0
        number = 0
        while time.monotonic() < deadline:
            uuid = f"kill-{number}"
            dispatcher.send("task-received", uuid=uuid, name="x.y")
            dispatcher.send("task-succeeded", uuid=uuid, runtime=0.01)
            dispatcher.flush()
            published.append((uuid, time.monotonic()))
            number += 1
            if killed_at is None and time.monotonic() > deadline - 2.0:
                dashboard.process.send_signal(signal.SIGKILL)
                killed_at = time.monotonic()
            time.sleep(0.002)
    dashboard.stop()
    store = HistoryStore(dashboard.store)
    stored = final_states(store)
    must_have = [uuid for uuid, at in published if at < killed_at - 1.0]
    assert len(must_have) > 100
    missing = [uuid for uuid in must_have if uuid not in stored]
    assert not missing, f"{len(missing)} tasks published >1 s before the kill are missing"

    restarted = Scope(tmp_path, redis_server.url, "--no-enable-events").start()
    try:
        wait_until(lambda: restarted.status().get("broker_connected"), 20, "reconnected")
        with cluster_app.connection_for_write() as connection:
            EventDispatcher(connection, hostname="w@test").send("task-succeeded", uuid="resumed")
        wait_until(lambda: store.task("resumed"), 20, "ingestion after the restart")
        assert len(final_states(store)) >= len(stored)
    finally:
        restarted.stop()
        store.close()


def test_inspector_snapshots_every_method_for_every_worker(redis_server, workers, tmp_path):
    from celery_scope.collector.inspector import METHODS, Inspector
    from celery_scope.collector.service import make_celery_app
    from celery_scope.store.cache import SnapshotCache

    workers(*WORKERS)
    celery_app = make_celery_app(redis_server.url)
    cache = SnapshotCache(str(tmp_path / "cache"))
    inspector = Inspector(celery_app, cache, timeout=1.0)
    try:
        wait_until(lambda: set(inspector.refresh().replies.get("stats", {})) == set(WORKERS), 30,
                   "both workers answering stats")
        started = time.monotonic()
        result = inspector.refresh()
        elapsed = time.monotonic() - started
        assert elapsed < 2.5, "the methods run concurrently: one round is about one timeout"
        assert set(result.replies) == set(METHODS) and result.answered == sorted(WORKERS)
        for name in WORKERS:
            snapshot = cache.worker_snapshot(name)
            assert set(snapshot) == set(METHODS)
            assert snapshot["stats"]["reply"]["pool"]["max-concurrency"] == 2
            assert "cluster.add" in snapshot["registered"]["reply"]
            assert snapshot["active_queues"]["reply"][0]["name"] == "celery"
            assert snapshot["stats"]["at"] >= started
        assert set(cache.inspected_workers()) == set(WORKERS)

        one = inspector.refresh(WORKERS[0])
        assert set(one.replies["stats"]) == {WORKERS[0]} and one.seconds < 0.9

        expected = inspector.refresh(expected=[*WORKERS, "gone@test"])
        assert expected.answered == sorted(WORKERS) and expected.silent == ["gone@test"]
        assert expected.seconds >= 0.9  # waited the timeout for the silent one
        fast = inspector.refresh(expected=WORKERS)
        assert fast.seconds < 0.9, "ends once every expected worker replied"
    finally:
        inspector.close()
        cache.close()
        celery_app.close()


def test_inspector_on_demand_round_through_the_cache(redis_server, workers, scope):
    workers(WORKERS[0])
    dashboard = scope(redis_server.url, "--inspect-interval", "3600")
    from celery_scope.store.cache import SnapshotCache
    cache = SnapshotCache(dashboard.cache_dir)
    try:
        wait_until(lambda: HistoryStore(dashboard.store).workers(), 30, "the worker's heartbeat")
        def requested_round():
            cache.request_inspection(WORKERS[0])
            return wait_for(lambda: cache.worker_snapshot(WORKERS[0]).get("stats"),
                            lambda stats: stats and stats["at"] > asked, 5, "an on-demand round")

        asked = time.time()
        first = wait_until(requested_round, 30, "a first on-demand round")
        asked = time.time()
        second = requested_round()  # long before the hourly round
        assert second["at"] > first["at"]
    finally:
        cache.close()


def test_celery_subcommand_uses_the_apps_broker(redis_server, workers, tmp_path):
    """`celery -A proj scope`: no --broker; the broker comes from the Celery app."""
    workers(WORKERS[0])
    command = (sys.executable, "-m", "celery", "-A", "cluster_tasks", "scope")
    dashboard = Scope(tmp_path, None, command=command,
                      env={"SCOPE_TEST_BROKER": redis_server.url}).start()
    try:
        status = wait_for(dashboard.status, lambda found: found.get("broker_connected"), 20,
                          "collector connected")
        assert status["broker"] == redis_server.url
        store = HistoryStore(dashboard.store)
        wait_until(lambda: [w for w in store.workers() if w["hostname"] == WORKERS[0]], 30,
                   "the app's worker in the store")
        store.close()
    finally:
        dashboard.stop()


def test_collect_command_runs_the_collector_alone(redis_server, cluster_app, tmp_path):
    """The scale-out shape: `celery-scope collect` writes the store; no web server."""
    collector = Scope(tmp_path, redis_server.url, "--no-enable-events",
                      command=("celery-scope", "collect")).start()
    try:
        with cluster_app.connection_for_write() as connection:
            EventDispatcher(connection, hostname="w@test").send("task-succeeded", uuid="c1",
                                                                runtime=0.1)
        store = HistoryStore(collector.store)
        wait_until(lambda: store.task("c1"), 20, "the event in the store")
        store.close()
        with pytest.raises(OSError):
            collector.get("/healthcheck")
    finally:
        assert collector.stop() == 0


def test_inspector_replaces_its_kept_connections_after_the_broker_restarts(
        redis_server, workers, tmp_path):
    """Each pool thread keeps its reply connection between rounds; when the broker restarts
    those are dead, and the first round after it must still answer, not fail once."""
    from celery_scope.collector.inspector import METHODS, Inspector
    from celery_scope.collector.service import make_celery_app
    from celery_scope.store.cache import SnapshotCache

    workers(WORKERS[0])
    celery_app = make_celery_app(redis_server.url)
    cache = SnapshotCache(str(tmp_path / "cache"))
    inspector = Inspector(celery_app, cache, timeout=1.0)
    try:
        wait_until(lambda: inspector.refresh(WORKERS[0]).answered, 30, "the worker answering")
        for _ in range(3):  # every pool thread now holds a connection
            inspector.refresh(WORKERS[0])
        redis_server.stop()
        redis_server.start()
        wait_until(lambda: celery_app.control.ping([WORKERS[0]], timeout=0.5), 60,
                   "the worker back on the restarted broker")
        result = inspector.refresh(WORKERS[0])
        assert set(result.replies) == set(METHODS), "every method answered on the first round"
        assert result.answered == [WORKERS[0]]
    finally:
        inspector.close()
        cache.close()
        celery_app.close()


def test_concurrent_inspector_rounds_do_not_deadlock(redis_server, workers, tmp_path):
    """The poller, a page's Refresh and the API may run rounds at once on one Celery app."""
    import threading

    from celery_scope.collector.inspector import Inspector
    from celery_scope.collector.service import make_celery_app
    from celery_scope.store.cache import SnapshotCache

    workers(WORKERS[0])
    celery_app = make_celery_app(redis_server.url)
    cache = SnapshotCache(str(tmp_path / "cache"))
    inspectors = [Inspector(celery_app, cache, timeout=1.0) for _ in range(3)]
    try:
        wait_until(lambda: inspectors[0].refresh(expected=[WORKERS[0]]).answered, 30, "ping")
        answered = []
        threads = [threading.Thread(target=lambda i=i: answered.append(i.refresh().answered))
                   for i in inspectors]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(20)
        assert not any(thread.is_alive() for thread in threads), "a round hung"
        assert answered == [[WORKERS[0]]] * 3
    finally:
        for inspector in inspectors:
            inspector.close()
        cache.close()
        celery_app.close()
