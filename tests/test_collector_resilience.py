"""The writer on a real store (SQLite and PostgreSQL): hostile events, rows the store
refuses, outages, and the spool that holds messages meanwhile. No broker: messages are
handed to the writer as the receiver would."""
import threading

import pytest
from sqlalchemy import text

from celery_scope.collector.events import EventCollector
from celery_scope.collector.inbox import Inbox
from celery_scope.collector.spool import Spool
from celery_scope.collector.status import CollectorStatus
from celery_scope.store.cache import SnapshotCache
from celery_scope.store.history import HistoryStore

from .helpers import PostgresServer, message, task, wait_until

UUID88 = "nightly-report-3f2a9c1e-4b7d-4e2a-9c1e-3f2a9c1e4b7d-8d1e2f3a-4b5c-4d6e-8f7a-9b0c1d2e3f4a"






def lifecycle(uuid, ts, name="proj.add"):
    return [task("task-received", uuid, ts, name=name, args="(1, 2)"),
            task("task-started", uuid, ts + 0.1),
            task("task-succeeded", uuid, ts + 0.2, result="3", runtime=0.1)]


@pytest.fixture
def cache(tmp_path):
    instance = SnapshotCache(str(tmp_path / "cache"))
    yield instance
    instance.close()


def make_writer(store, cache, tmp_path):
    spool = Spool(tmp_path / "spool", 64 << 20)
    return EventCollector(None, store, CollectorStatus(cache, "test://"), inbox=Inbox(spool))


@pytest.fixture
def store(store_url):
    instance = HistoryStore(store_url)
    yield instance
    instance.close()


HOSTILE = [
    task("task-received", "h1", 1.0, name={"an": "object"}),
    task("task-received", "h2", 1.0, hostname=["an", "array"]),
    {"type": "worker-heartbeat", "hostname": "w@h", "timestamp": 1.0, "loadavg": ["x", "y", "z"]},
    task("task-received", "h3", "nan"),
    task("task-received", "h4", 1.0, queue={"q": 1}),
    {"type": "worker-heartbeat", "hostname": "w@h", "timestamp": 1.0, "sw_ident": {"x": 1}},
    {"type": "worker-heartbeat", "hostname": "w@h", "timestamp": 1.0, "processed": 2**63},
    task("task-received", "h5", 1.0, retries=2**63),
    task("task-received", "h6", 1.0, name=7),
]


def test_hostile_events_are_quarantined_and_the_rest_of_the_batch_stored(store, cache,
                                                                          tmp_path):
    writer = make_writer(store, cache, tmp_path)
    good = [message(*lifecycle(f"ok{number}", 10.0 + number)) for number in range(20)]
    writer.ingest([*good[:10], *(message(event) for event in HOSTILE), message(*HOSTILE),
                   *good[10:]])
    assert store.count_tasks() == 20
    assert {store.task(f"ok{n}")["state"] for n in range(20)} == {"SUCCESS"}
    entries = store.quarantined(100)
    assert len(entries) == 2 * len(HOSTILE) == store.count_quarantined()
    assert all(entry["reason"] and entry["raw"] for entry in entries)
    assert any("loadavg" in entry["reason"] for entry in entries)
    status = writer.status.snapshot()
    assert status["quarantined"] == 2 * len(HOSTILE) and status["events"] == 60


def test_nul_long_names_and_long_ids_are_stored(store, cache, tmp_path):
    writer = make_writer(store, cache, tmp_path)
    long_id = "x" * 5000
    writer.ingest([message(*lifecycle(UUID88, 1.0, name="proj.nightly_report"),
                           task("task-received", "nul", 2.0, name="a\x00b", args="('\x00',)",
                                kwargs="{}", hostname="w\x00@h"),
                           task("task-received", long_id, 3.0, name="n" * 300,
                                parent_id=UUID88, queue="q" * 1000))])
    assert store.task(UUID88)["state"] == "SUCCESS"
    assert store.task("nul")["name"] == "ab"
    (long_row,) = [row for row in store.children(UUID88)]
    assert long_row["uuid"].startswith("x" * 200) and len(long_row["uuid"]) == 255
    assert len(long_row["name"]) == 200 and store.count_quarantined() == 0
    assert store.task(long_id)["uuid"] == long_row["uuid"]  # found by the id Celery knows
    assert store.children(long_id) == []


def _refuse_poison(store):
    """A constraint of the store itself (not of the decoder): the store refuses a row."""
    with store.engine.begin() as connection:
        if store.engine.dialect.name == "sqlite":
            connection.execute(text(
                "CREATE TRIGGER no_poison BEFORE INSERT ON tasks WHEN NEW.name = 'poison' "
                "BEGIN SELECT RAISE(ABORT, 'poison refused'); END"))
        else:
            connection.execute(text(
                "ALTER TABLE tasks ADD CONSTRAINT no_poison CHECK (name <> 'poison')"))


def test_rows_the_store_refuses_are_isolated_and_the_rest_written(store, cache, tmp_path):
    _refuse_poison(store)
    writer = make_writer(store, cache, tmp_path)
    batch = [message(*lifecycle(f"ok{n}", 10.0 + n)) for n in range(50)]
    batch.insert(17, message(task("task-received", "p1", 5.0, name="poison"),
                             *lifecycle("ok-beside", 6.0)))
    writer.ingest(batch)
    assert store.count_tasks() == 51 and store.task("p1") is None
    (entry,) = store.quarantined(10)
    assert entry["reason"].startswith("refused by the store") and '"p1"' in entry["raw"]
    assert "INSERT" not in entry["reason"]  # the driver's message, not the SQL
    (worker,) = store.workers()
    assert worker["succeeded"] == 51  # counted once each, though the batch was split


def test_a_postgresql_outage_is_waited_out_and_nothing_is_lost(tmp_path, cache):
    server = PostgresServer().start()
    try:
        store = HistoryStore(server.create_database("scope"))
        writer = make_writer(store, cache, tmp_path)
        writer.ingest([message(*lifecycle("before", 1.0))])
        server.stop()
        done = threading.Event()
        batch = [message(*lifecycle(f"t{n}", 10.0 + n)) for n in range(200)]
        worker = threading.Thread(target=lambda: (writer.ingest(batch), done.set()))
        worker.start()
        status = wait_until(lambda: writer.status.snapshot()["store_down_since"] and
                            writer.status.snapshot(), 20, "the outage to be reported")
        assert "SELECT" not in status["store_error"] and len(status["store_error"]) <= 160
        writer.inbox.put(message(*lifecycle("during", 50.0)))  # spilled to disk meanwhile
        assert len(writer.inbox.spool) == 1
        server.start()
        assert done.wait(60), "the batch was not written once the store came back"
        worker.join()
        batch, from_spool = writer.inbox.next_batch(10, 1)
        assert from_spool and writer.ingest(batch, from_spool)
        assert store.count_tasks() == 202 and len(writer.inbox.spool) == 0
        assert writer.status.snapshot()["store_down_since"] is None
        (row,) = store.workers()
        assert row["succeeded"] == 202  # the retried parts did not count twice
        store.close()
    finally:
        server.close()


def test_stopping_during_an_outage_keeps_the_batch_for_the_next_run(tmp_path, cache):
    server = PostgresServer().start()
    try:
        url = server.create_database("scope")
        store = HistoryStore(url)
        writer = make_writer(store, cache, tmp_path)
        server.stop()
        writer._stop.set()  # as at shutdown: the first failure gives up and keeps the batch
        assert not writer.ingest([message(*lifecycle(f"t{n}", 10.0 + n)) for n in range(30)])
        writer.inbox.spool.close()
        server.start()
        reopened = make_writer(store, cache, tmp_path)  # a new run over the same spool
        assert len(reopened.inbox.spool) == 30
        batch, from_spool = reopened.inbox.next_batch(1000, 1)
        assert from_spool and reopened.ingest(batch, from_spool)
        assert store.count_tasks() == 30 and len(reopened.inbox.spool) == 0
        store.close()
    finally:
        server.close()


def test_an_idle_writer_notices_the_store_going_and_coming_back(tmp_path, cache):
    server = PostgresServer().start()
    try:
        store = HistoryStore(server.create_database("scope"))
        writer = make_writer(store, cache, tmp_path)
        server.stop()
        writer._checked_at = float("-inf")  # as if the last look was long ago
        writer._write_step()  # nothing to write: it looks at the store instead
        assert writer.status.snapshot()["store_down_since"] is not None
        server.start()
        writer._checked_at = float("-inf")
        writer._write_step()
        assert writer.status.snapshot()["store_down_since"] is None
        store.close()
    finally:
        server.close()


def test_a_signed_in_session_outlives_a_store_outage_and_a_revoked_one_does_not(monkeypatch):
    from celery_scope.auth import sessions as sessions_module
    server = PostgresServer().start()
    try:
        store = HistoryStore(server.create_database("scope"))
        sessions = sessions_module.SessionStore(store.engine, 3600)
        kept, revoked = sessions.begin("ann"), sessions.begin("bo")
        sessions.end(revoked)
        assert sessions.user_of(kept) == "ann" and sessions.user_of(revoked) is None
        server.stop()
        monkeypatch.setattr(sessions_module, "CHECK_SECONDS", 0.0)  # every look goes to the store
        assert sessions.user_of(kept) == "ann"  # the banner can still say the store is down
        assert sessions.user_of(revoked) is None
        assert sessions.user_of("never-seen") is None
        store.close()
    finally:
        server.close()


def test_a_stored_task_is_updated_in_the_columns_that_changed_only(store, cache, tmp_path):
    """The writer writes what its events changed, nothing else: a column set behind its
    back stays, and a batch whose events change nothing leaves the row alone."""
    writer = make_writer(store, cache, tmp_path)
    writer.ingest([message(task("task-received", "t1", 10.0, name="proj.add", args="(1,)"))])
    with store.engine.begin() as connection:
        connection.execute(text("UPDATE tasks SET periodic_task = 'nightly' WHERE uuid = 't1'"))
    for event in lifecycle("t1", 10.0)[1:]:  # each event a batch of its own
        writer.ingest([message(event)])
    row = store.task("t1")
    assert (row["state"], row["runtime"], row["result"]) == ("SUCCESS", 0.1, "3")
    assert (row["name"], row["args"], row["periodic_task"]) == ("proj.add", "(1,)", "nightly")
    with store.engine.begin() as connection:
        connection.execute(text("UPDATE tasks SET result = 'kept' WHERE uuid = 't1'"))
    writer.ingest([message(task("task-started", "t1", 10.1))])  # a replay: no change
    assert store.task("t1")["result"] == "kept"
    assert writer.status.snapshot()["events"] == 4
