"""Two collectors and two web replicas over one PostgreSQL store, all real processes: the
leading collector killed with -9 mid-stream, and PostgreSQL itself stopped for 20 s. Every
task sent ends in the store in its final state; the replicas, each with its own cache
directory, show the same workers and tasks."""
import json
import time

import psutil
import pytest

from celery_scope.store.history import HistoryStore

from .helpers import PostgresServer, TaskStream, wait_until
from .scale_out import WebReplica, collector, kill_leader, leads

pytestmark = pytest.mark.integration

TAKEOVER_SECONDS = 5.0  # kill -9 of the leader to the standby leading
RSS_CAP = 300 << 20  # bytes, each collector, whatever the outage left it holding


def wrong(store: HistoryStore, expected: dict[str, str]) -> dict[str, str | None]:
    """The tasks not (yet) in the store in their final state, with what the store says."""
    rows = store.load_tasks(list(expected))
    return {task_id: (rows[task_id]["state"] if task_id in rows else None)
            for task_id, state in expected.items()
            if task_id not in rows or rows[task_id]["state"] != state}


@pytest.fixture
def shape(postgres, redis_server, workers, tmp_path, request):
    """A worker, two collectors, two web replicas; everything stopped at the end."""
    url = postgres.create_database(f"standby{abs(hash(request.node.nodeid)) % 10**9}")
    workers("alpha@test")
    started = []
    try:
        first = collector(tmp_path / "collector-1", redis_server.url, url)
        started.append(first)
        wait_until(lambda: leads(first), 10, "the first collector to lead")
        second = collector(tmp_path / "collector-2", redis_server.url, url)
        started.append(second)
        webs = [WebReplica(tmp_path / f"web-{number}", redis_server.url, url).start()
                for number in (1, 2)]
        started.extend(webs)
        yield url, first, second, webs
    finally:
        for process in reversed(started):
            process.stop()


def same_view(webs: list[WebReplica], expected: dict[str, str]) -> bool:
    """Both replicas list the worker, and every task in its final state."""
    views = []
    for web in webs:
        workers = web.json("/api/workers")
        tasks = {task_id: task["state"] for task_id, task in web.json("/api/tasks").items()}
        views.append((sorted(workers), tasks))
    return (views[0] == views[1] and views[0][0] == ["alpha@test"]
            and all(views[0][1].get(task_id) == state for task_id, state in expected.items()))


def test_kill_9_of_the_leading_collector_mid_stream_loses_nothing(shape, cluster_app):
    url, first, second, webs = shape
    store = HistoryStore(url)
    try:
        with TaskStream(cluster_app, 20, "kill", fail_every=5) as stream:
            wait_until(lambda: len(stream.expected) > 100, 30, "the stream to start")
            killed, survivor, takeover = kill_leader(first, second)
            print(f"\ntakeover after kill -9: {takeover:.2f} s")
            assert takeover < TAKEOVER_SECONDS
            time.sleep(5)  # the stream goes on under the new leader
        expected = stream.expected
        wait_until(lambda: not wrong(store, expected), 60, f"all {len(expected)} tasks")
        assert len(expected) > 150
        wait_until(lambda: same_view(webs, expected), 30, "both replicas showing the same")
        verbose = json.loads(webs[0].get("/healthcheck?verbose=1"))
        assert verbose["leader"]["collector"] == survivor.status()["collector"]
        assert webs[1].get("/healthcheck") == "OK"
        (worker,) = store.workers()
        failed = sum(1 for state in expected.values() if state == "FAILURE")
        assert (worker["succeeded"], worker["failed"]) == (len(expected) - failed, failed)
        # /metrics on each replica reads the leader's counters from the store
        counted = 'flower_events_total{task="cluster.add",type="task-succeeded"'
        for web in webs:
            wait_until(lambda web=web: counted in web.get("/metrics"), 15,
                       "the task counters on every replica")
    finally:
        store.close()


def test_postgresql_stopped_for_20_s_under_a_stream_with_two_collectors_loses_nothing(
        redis_server, workers, cluster_app, tmp_path):
    server = PostgresServer().start()
    started: list = []
    try:
        url = server.create_database("scope")
        workers("alpha@test")
        first = collector(tmp_path / "collector-1", redis_server.url, url)
        started.append(first)
        wait_until(lambda: leads(first), 10, "the first collector to lead")
        second = collector(tmp_path / "collector-2", redis_server.url, url)
        started.append(second)
        processes = [psutil.Process(instance.process.pid) for instance in started]
        rss = []
        with TaskStream(cluster_app, 20, "outage", fail_every=5) as stream:
            wait_until(lambda: len(stream.expected) > 60, 20, "the stream to start")
            server.stop()
            wait_until(lambda: all(instance.status().get("store_down_since")
                                   for instance in started), 30, "both to see the outage")
            outage_ends = time.monotonic() + 20
            while time.monotonic() < outage_ends:
                rss.append(max(process.memory_info().rss for process in processes))
                time.sleep(1)
            assert not any(leads(instance) for instance in started)  # nobody writes blind
            server.start()
            wait_until(lambda: sum(leads(instance) for instance in started) == 1, 30,
                       "one collector to lead again")
            time.sleep(3)
        store = HistoryStore(url)
        expected = stream.expected
        wait_until(lambda: not wrong(store, expected), 90, f"all {len(expected)} tasks")
        assert len(expected) > 400
        print(f"\n{len(expected)} tasks, 0 lost; peak RSS {max(rss) >> 20} MB")
        assert max(rss) < RSS_CAP, f"peak RSS {max(rss) >> 20} MB"
        (worker,) = store.workers()
        failed = sum(1 for state in expected.values() if state == "FAILURE")
        assert (worker["succeeded"], worker["failed"]) == (len(expected) - failed, failed)
        assert sum(leads(instance) for instance in started) == 1
        store.close()
    finally:
        for instance in started:
            instance.stop()
        server.close()
