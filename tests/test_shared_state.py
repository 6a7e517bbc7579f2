"""What a shared store holds for web replicas, the standby's ring and router, the advisory
lock, and replays that change nothing: real SQLite and PostgreSQL stores, no broker."""
import json
import time

import psycopg
import pytest
from sqlalchemy import select

from celery_scope.collector.events import EventCollector
from celery_scope.collector.inbox import Inbox
from celery_scope.collector.leadership import AdvisoryLeadership, SoleLeader, leadership_for
from celery_scope.collector.metric_snapshots import (
    MetricPublisher,
    MetricSnapshots,
    decode,
    encode,
)
from celery_scope.collector.metric_state import MetricState
from celery_scope.collector.ring import Ring
from celery_scope.collector.spool import Spool
from celery_scope.collector.standby import Router
from celery_scope.collector.status import CollectorStatus
from celery_scope.store.cache import SnapshotCache
from celery_scope.store.history import HistoryStore
from celery_scope.store.schema import tasks, worker_samples, workers
from celery_scope.store.shared_state import StoreCache, open_cache

from .helpers import message, task, wait_until


class Clock:
    def __init__(self, now: float = 100.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(store_url):
    instance = HistoryStore(store_url)
    yield instance
    instance.close()


@pytest.fixture
def pg_store(postgres, request):
    instance = HistoryStore(postgres.create_database(
        f"s{abs(hash(request.node.nodeid)) % 10**12}"))
    yield instance
    instance.close()


# -- the ring ------------------------------------------------------------------------------

def test_the_ring_keeps_the_last_minute_only():
    clock = Clock()
    ring = Ring(seconds=60, max_bytes=1 << 20, clock=clock)
    assert ring.add(b"old") == []
    clock.now += 30
    assert ring.add(b"middle") == []
    clock.now += 31  # "old" is 61 s old now
    assert ring.add(b"new") == [b"old"]
    assert len(ring) == 2 and ring.size == len(b"middle") + len(b"new")
    assert ring.drain() == [b"middle", b"new"]
    assert len(ring) == 0 and ring.size == 0


def test_the_ring_holds_no_more_bytes_than_its_bound():
    ring = Ring(seconds=60, max_bytes=1000, clock=Clock())
    fallen = [message for number in range(50) for message in ring.add(bytes([number]) * 100)]
    assert ring.size <= 1000 and len(ring) == 10
    assert fallen == [bytes([number]) * 100 for number in range(40)]  # the oldest went first
    assert ring.drain()[0] == bytes([40]) * 100


def test_a_standby_routes_to_its_ring_and_taking_over_writes_the_ring_first(tmp_path):
    inbox = Inbox(Spool(tmp_path / "spool", 1 << 20))
    router = Router(inbox, Ring(clock=Clock()), leading=False)
    router.push(b"one")
    router.push(b"two")
    assert inbox.backlog == 0 and len(router.ring) == 2
    assert router.promote() == 2
    router.push(b"three")
    assert inbox.next_batch(10, 0.1) == ([b"one", b"two", b"three"], False)
    router.demote()
    router.push(b"four")
    assert inbox.backlog == 0 and len(router.ring) == 1


def test_while_the_store_is_away_what_falls_out_of_the_ring_is_spooled(tmp_path):
    spool = Spool(tmp_path / "spool", 1 << 20)
    clock = Clock()
    router = Router(Inbox(spool), Ring(seconds=60, clock=clock), leading=False)
    router.push(b"dropped")
    clock.now += 61
    router.push(b"next")  # "dropped" fell out while the store answered: the leader has it
    assert len(spool) == 0
    router.keep_evicted = True
    clock.now += 61
    router.push(b"last")
    assert spool.take(10) == [b"next"]


# -- replays change nothing ----------------------------------------------------------------

BATCH = [
    message({"type": "worker-online", "hostname": "w@h", "timestamp": 10.0, "freq": 2.0}),
    message(task("task-received", "a", 11.0, name="proj.add", args="(1,)"),
            task("task-started", "a", 11.5),
            task("task-succeeded", "a", 12.0, result="2", runtime=0.5)),
    message(task("task-received", "b", 11.0, name="proj.flaky"),
            task("task-started", "b", 11.2),
            task("task-retried", "b", 11.4, exception="boom"),
            task("task-received", "c", 11.3, name="proj.add")),
    message({"type": "worker-heartbeat", "hostname": "w@h", "timestamp": 30.0, "active": 1,
             "processed": 3, "freq": 2.0, "loadavg": [0.5, 0.4, 0.3]}),
    message(task("task-failed", "b", 13.0, exception="boom again")),
]


def rows(store: HistoryStore) -> tuple:
    with store.engine.connect() as connection:
        return tuple(sorted(tuple(row) for row in connection.execute(select(table)))
                     for table in (tasks, workers, worker_samples))


def writer(store, cache, tmp_path, name) -> EventCollector:
    publisher = MetricPublisher(MetricState((0.1, 1.0, 10.0)), MetricSnapshots(cache))
    return EventCollector(None, store, CollectorStatus(cache, "test://", name), metrics=publisher,
                          inbox=Inbox(Spool(tmp_path / name, 1 << 20)))


def metric_counts(collector: EventCollector) -> dict:
    return json.loads(json.dumps(encode(collector.metrics.state.snapshot()), sort_keys=True))


def test_replaying_a_batch_changes_no_row_and_no_counter(store, tmp_path):
    cache = open_cache(store.engine, str(tmp_path / "cache"))
    first = writer(store, cache, tmp_path, "first")
    first.ingest(BATCH)
    stored, counted = rows(store), metric_counts(first)
    (worker,) = store.workers()
    assert (worker["succeeded"], worker["failed"], worker["retried"]) == (1, 1, 1)
    assert counted["states"] and counted["events"]

    first.ingest(BATCH)  # the spool replayed after a crash
    first.ingest(list(reversed(BATCH)))
    assert rows(store) == stored and metric_counts(first) == counted

    first.metrics.publish_if_due(force=True)
    second = writer(store, cache, tmp_path, "second")  # a standby taking over with its ring
    second.metrics.resume()
    second.ingest(BATCH)
    assert rows(store) == stored and metric_counts(second) == counted
    second.ingest([message(task("task-received", "d", 40.0, name="proj.add"))])
    assert metric_counts(second) != counted  # a new event still counts
    cache.close()


# -- what a shared store holds for web replicas --------------------------------------------

def test_a_sqlite_store_keeps_its_cache_on_disk_and_any_other_in_the_store(tmp_path, pg_store):
    sqlite_store = HistoryStore(f"sqlite:///{tmp_path / 'h.db'}")
    local = open_cache(sqlite_store.engine, str(tmp_path / "a"))
    shared = open_cache(pg_store.engine, str(tmp_path / "b"))
    assert isinstance(local, SnapshotCache) and isinstance(shared, StoreCache)
    assert isinstance(leadership_for(sqlite_store.engine), SoleLeader)
    local.close(), shared.close(), sqlite_store.close()


def test_two_web_replicas_with_their_own_directories_read_one_state(pg_store, tmp_path):
    collector = StoreCache(pg_store.engine, str(tmp_path / "collector"))
    replica = StoreCache(pg_store.engine, str(tmp_path / "replica"))
    collector.merge_inspection({"stats": {"w@h": {"pool": {"max-concurrency": 2}}, 7: "x"}}, 1.0)
    replica.merge_inspection({"active": {"w@h": [{"id": "t1"}]}}, 2.0)  # a page's Refresh
    assert replica.inspected_workers() == ["7", "w@h"]
    assert replica.worker_snapshot("w@h") == {
        "stats": {"reply": {"pool": {"max-concurrency": 2}}, "at": 1.0},
        "active": {"reply": [{"id": "t1"}], "at": 2.0}}
    assert replica.worker_snapshot("nobody") == {}

    replica.request_inspection("w@h")
    assert collector.take_inspection_request()["hostname"] == "w@h"
    assert collector.take_inspection_request() is None  # taken once, by one collector

    state = MetricState((0.1, 1.0))
    state.task_event({"type": "task-succeeded", "hostname": "w@h", "runtime": 0.5,
                      "timestamp": 1.0}, {"name": "proj.add", "state": "SUCCESS", "eta": None,
                                          "received": None, "started": None}, "STARTED")
    MetricSnapshots(collector).put(state.snapshot())
    assert MetricSnapshots(replica).latest() == state.snapshot()
    assert decode(encode(state.snapshot())) == state.snapshot()
    collector.close(), replica.close()


def test_the_banner_reads_the_leader_and_lists_every_collector(pg_store, tmp_path):
    cache = StoreCache(pg_store.engine, str(tmp_path / "cache"))
    now = time.time()
    cache.put_collector_status({"collector": "b", "leading": False, "events": 5,
                                "updated_at": now})
    cache.put_collector_status({"collector": "a", "leading": True, "leader_since": now - 60,
                                "events": 9, "updated_at": now - 1})
    status = cache.collector_status()
    assert status["collector"] == "a" and status["events"] == 9
    assert [entry["collector"] for entry in status["collectors"]] == ["a", "b"]
    cache.put_collector_status({"collector": "c", "leading": True, "leader_since": now - 1,
                                "updated_at": now - 2})  # took over from "a", just killed
    assert cache.collector_status()["collector"] == "c"
    cache.put_collector_status({"collector": "c", "leading": True, "updated_at": now - 60})
    cache.put_collector_status({"collector": "a", "leading": True, "updated_at": now - 60})
    assert cache.collector_status()["collector"] == "b"  # a silent leader leads no more
    assert SnapshotCache(str(tmp_path / "cache")).collector_status()["collector"] == "a"
    cache.close()


# -- the advisory lock ---------------------------------------------------------------------

def test_exactly_one_collector_leads_and_the_other_takes_over_when_its_session_ends(pg_store):
    first, second = AdvisoryLeadership(pg_store.engine), AdvisoryLeadership(pg_store.engine)
    try:
        first.step(), second.step()
        assert (first.leading, second.leading) == (True, False)
        assert first.confirm() and not second.confirm()
        with pg_store.engine.connect() as connection:  # the leader's session is cut off
            connection.exec_driver_sql(
                "SELECT pg_terminate_backend(pid) FROM pg_locks "
                "WHERE locktype = 'advisory' AND pid <> pg_backend_pid()")
        wait_until(lambda: not first.confirm(), 5, "the leader to notice its session ended")
        assert not first.leading and first.since is None
        second.step()
        assert second.leading and second.confirm()
        first.step()
        assert not first.leading  # the lock has its holder: the old leader stands by
    finally:
        first.stop(), second.stop()


def test_a_lone_collector_whose_session_was_cut_takes_the_lock_again_in_the_same_try(pg_store):
    """A store that restarted between two tries answers at once: no outage is reported, and
    the new term tells the writer a new lead began."""
    leadership = AdvisoryLeadership(pg_store.engine)
    try:
        leadership.step()
        assert leadership.leading and leadership.term == 1
        with pg_store.engine.connect() as connection:
            connection.exec_driver_sql(
                "SELECT pg_terminate_backend(pid) FROM pg_locks "
                "WHERE locktype = 'advisory' AND pid <> pg_backend_pid()")
        leadership.step()
        assert leadership.leading and leadership.store_up and leadership.term == 2
    finally:
        leadership.stop()


def test_the_banner_and_healthcheck_name_the_leader():
    from celery_scope.components.status_banner import describe_status
    from celery_scope.store.shared_state import leadership_report, with_collectors
    now = time.time()
    statuses = [
        {"collector": "a1", "host": "east", "leading": True, "leader_since": now - 5,
         "updated_at": now, "broker": "redis://b", "broker_connected": True, "events": 3},
        {"collector": "b2", "host": "west", "leading": False, "updated_at": now,
         "broker": "redis://b", "broker_connected": True, "events": 3},
    ]
    text, level = describe_status(with_collectors(statuses, now), now)
    assert "collector east (a1) leads since" in text and "1 standby" in text and level == "ok"
    report = leadership_report(statuses, now)
    assert report["leader"]["collector"] == "a1" and len(report["collectors"]) == 2
    statuses[0]["updated_at"] = now - 60  # the leader was killed: nobody leads yet
    text, level = describe_status(with_collectors(statuses, now), now)
    assert "no collector leads" in text and level == "warn"
    assert leadership_report(statuses, now)["leader"] is None
    alone = dict(statuses[1], leading=True)
    assert "leads" not in describe_status(alone, now)[0]  # one SQLite collector: said nothing


def test_while_the_store_is_away_a_replica_reads_what_it_last_read(postgres, tmp_path):
    url = postgres.create_database("away")
    store = HistoryStore(url)
    cache = StoreCache(store.engine, str(tmp_path / "cache"))
    cache.merge_inspection({"stats": {"w@h": {"pool": 1}}}, 1.0)
    snapshot = cache.worker_snapshot("w@h")
    assert cache.inspected_workers() == ["w@h"] and snapshot
    cache.put_collector_status({"collector": "a", "leading": True, "updated_at": time.time()})
    store.engine.dispose()
    with psycopg.connect(postgres.url(), autocommit=True) as connection:
        connection.execute('DROP DATABASE "away" WITH (FORCE)')
    assert cache.worker_snapshot("w@h") == snapshot and cache.inspected_workers() == ["w@h"]
    with pytest.raises(Exception):
        cache.worker_snapshot("never-read")
    assert cache.collector_status()["collector"] == "a"  # this process's own, kept locally
    assert cache.latest_metrics() is None  # never published, never read: none, not an error
    cache.close()
    store.close()


class NoBroker:
    """An Inspector with no broker: any round it is asked for fails."""

    def __init__(self, cache):
        self.cache = cache

    def refresh(self, hostname=None):
        raise AssertionError("a standby ran an Inspector round")

    def close(self):
        pass


def test_a_standby_neither_polls_the_inspector_nor_samples_queues(pg_store, tmp_path):
    from celery_scope.collector.inspector import InspectorPoller
    from celery_scope.collector.queue_sampler import QueueSampler

    class Standby:
        asked = 0

        def __call__(self) -> bool:
            self.asked += 1
            return False

    cache = StoreCache(pg_store.engine, str(tmp_path / "cache"))
    cache.request_inspection("w@h")  # a replica's Refresh
    standby = Standby()
    # neither has a broker: a round or a sample would fail and be counted
    sampler = QueueSampler(None, pg_store, cache, interval=0.05, timeout=1, leading=standby)
    poller = InspectorPoller(NoBroker(cache), 0.05, standby)
    sampler.start(), poller.start()
    try:
        wait_until(lambda: standby.asked >= 6, 10, "both threads to ask whether they lead")
    finally:
        sampler.stop(), poller.stop()
    assert sampler.failures == 0 and cache.take_inspection_request()["hostname"] == "w@h"
    cache.close()
