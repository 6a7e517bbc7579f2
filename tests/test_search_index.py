"""The search index gives exactly the scan's answers, on both stores: text found within one
column, ASCII letters in either case, every other character as written; it follows updates
and deletes (retention), words too short for a trigram still match, and the plan uses it."""
from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import select, text

from celery_scope.store import search_index, search_query
from celery_scope.store.history import HistoryStore
from celery_scope.store.schema import TASK_COLUMNS, tasks
from celery_scope.store.search_index import (
    SEARCHED,
    ensure_search_index,
    index_pending,
    index_ready,
    stop_search_index,
)
from celery_scope.store.search_query import contains, word_condition
from celery_scope.tasks import queries
from celery_scope.tasks.filters import TaskFilter

from .helpers import Scope, free_port, wait_until

pytestmark = pytest.mark.integration


def row(uuid: str, received: float = 1.0, **fields) -> dict:
    values = dict.fromkeys(TASK_COLUMNS)
    values.update(uuid=uuid, state="SUCCESS", timestamp=received, received=received, **fields)
    return values


SEEDED = [
    row("t1", 1, name="app.tasks.Charge", worker="w1@host",
        args="('50%_off', \"quote\")", kwargs="{'user_id': 42, 'note': 'back\\slash'}"),
    row("t2", 2, name="alpha", worker="betaw@host", result="'single' \"double\""),
    row("t3", 3, name="app.tasks.Mail", result="Café crème ✓ 日本語テキスト",
        exception="ValueError: naïve ÉCOLE"),
    row("t4", 4, name="app.tasks.Mail", args="('x_y',)", result="50 percent"),
    row("t5", 5, name="app.tasks.charge_later", args="('xzy',)", result='say "hi"'),
    row("t6", 6),
]

WORDS = ["charge", "CHARGE", "cHaRgE", "50%", "%_o", "x_y", "_", "%", "back\\slash", "\\",
         "'note'", '"hi"', "'single' \"double\"", "ha be", "alphabetaw", "café", "CAFÉ",
         "CAFé", "日本語", "本", "ÉCOLE", "école", "naïve", "w1@host", "t4", "4", "zz",
         "ch", "app.tasks.", "a", "no such text anywhere", "quote\")", "tasks.Mail"]


def _ascii_lower(value: str) -> str:
    return "".join(chr(ord(char) + 32) if "A" <= char <= "Z" else char for char in value)


def expected(rows, word: str, columns=SEARCHED) -> set[str]:
    """The documented rule, in Python: `word` inside one column, ASCII case folded."""
    wanted = _ascii_lower(word)
    return {values["uuid"] for values in rows
            if any(values[name] is not None and wanted in _ascii_lower(values[name])
                   for name in columns)}


def found(store: HistoryStore, condition) -> set[str]:
    with store.engine.connect() as connection:
        return set(connection.execute(select(tasks.c.uuid).where(condition)).scalars())


@pytest.fixture
def store(store_url):
    opened = HistoryStore(store_url)
    yield opened
    opened.close()


def test_the_index_answers_exactly_as_the_scan(store):
    store.write(SEEDED)
    scanned = {word: found(store, word_condition(word)) for word in WORDS}
    assert ensure_search_index(store.engine) is None  # a small store is indexed at once
    assert index_ready(store.engine)
    for word in WORDS:
        assert scanned[word] == expected(SEEDED, word), f"scan, {word!r}"
        assert found(store, word_condition(word)) == expected(SEEDED, word), f"index, {word!r}"
    store.write([{**values, "timestamp": 10.0} for values in SEEDED])  # nothing searched
    store.write([{**SEEDED[0], "uuid": "t1-again", "received": 0.5}])  # queued, not indexed
    rows = [*SEEDED, {**SEEDED[0], "uuid": "t1-again"}]
    for word in WORDS:
        assert found(store, word_condition(word)) == expected(rows, word), f"queued, {word!r}"
    assert expected(SEEDED, "ha be") == set()  # alpha|betaw: never across two columns
    assert expected(SEEDED, "CAFé") == {"t3"} and expected(SEEDED, "CAFÉ") == set()


def test_keyed_terms_search_their_own_column_with_the_index(store):
    ensure_search_index(store.engine)
    store.write(SEEDED)
    assert found(store, contains(("args",), "x_y")) == {"t4"}
    assert found(store, contains(("result",), "50")) == {"t4"}  # t1 has 50 in its args
    page = queries.page(store.engine, TaskFilter(search="kwargs:user_id=42 CHARGE"), 0, 10)
    assert [task["uuid"] for task in page] == ["t1"]
    page = queries.page(store.engine, TaskFilter(search='result:"say \\"hi\\"" app.tasks'), 0, 10)
    assert [task["uuid"] for task in page] == ["t5"]
    assert queries.count(store.engine, TaskFilter(search="mail")) == 2


def test_updates_and_deletes_change_what_matches(store):
    ensure_search_index(store.engine)
    store.write(SEEDED)
    store.write([{**SEEDED[3], "result": "now zebra", "state": "FAILURE"}])  # t4's result
    assert found(store, word_condition("zebra")) == {"t4"}
    assert found(store, word_condition("percent")) == set()
    store.write([{**SEEDED[3], "result": "now zebra", "timestamp": 9.0}])  # no searched change
    assert found(store, word_condition("zebra")) == {"t4"}
    assert store.prune(received_before=3.5, batch=100) == 3  # retention: t1, t2, t3 go
    assert found(store, word_condition("charge")) == {"t5"}
    assert found(store, word_condition("café")) == set()
    store.write([row("t7", 7, name="app.tasks.Charge")])  # a new rowid after the deletes
    assert found(store, word_condition("charge")) == {"t5", "t7"}
    _check_sqlite_index(store)


def _check_sqlite_index(store: HistoryStore) -> None:
    """Once the queue is indexed, the FTS table holds every task's searched text as it is
    now (and FTS5's own integrity check passes)."""
    if store.engine.dialect.name != "sqlite":
        return
    assert index_pending(store.engine)
    columns = ", ".join(SEARCHED)
    with store.engine.begin() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM tasks_search_pending").scalar() == 0
        indexed = connection.exec_driver_sql(f"SELECT rowid, {columns} FROM tasks_search").all()
        stored = connection.exec_driver_sql(f"SELECT rowid, {columns} FROM tasks").all()
        assert sorted(indexed) == sorted(stored)
        connection.exec_driver_sql("INSERT INTO tasks_search(tasks_search) "
                                   "VALUES ('integrity-check')")


@pytest.fixture
def sqlite_store(tmp_path):
    opened = HistoryStore(f"sqlite:///{tmp_path / 'history.db'}")
    yield opened
    opened.close()


def test_existing_tasks_are_queued_and_indexed_batch_by_batch_while_writes_go_on(
        sqlite_store, monkeypatch):
    """SQLite's build, step by step (PostgreSQL builds its index CONCURRENTLY)."""
    store = sqlite_store
    monkeypatch.setattr(search_index, "BACKFILL_BATCH", 2)
    monkeypatch.setattr(search_index, "INDEX_BATCH", 2)
    store.write(SEEDED)
    search_index._immediately(store.engine, search_index._create_sqlite)
    steps = 0
    while not search_index._immediately(store.engine, search_index._backfill_step):
        steps += 1
        search_index._immediately(store.engine, search_index._index_step)
        if steps == 1:  # t1, t2 queued and indexed: change one of them and one not reached
            store.write([{**SEEDED[0], "name": "renamed"}, {**SEEDED[4], "name": "renamed"}])
        if steps == 2:  # a deleted row behind the build, one ahead of it, a new one
            store.prune(received_before=1.5, batch=10)
            with store.engine.begin() as connection:
                connection.execute(tasks.delete().where(tasks.c.uuid == "t6"))
            store.write([row("t8", 8, name="renamed")])
    assert steps >= 3 and not index_ready(store.engine)  # searches scanned meanwhile
    assert index_pending(store.engine) and index_ready(store.engine)
    assert found(store, word_condition("renamed")) == {"t5", "t8"}
    assert found(store, word_condition("charge")) == set()
    _check_sqlite_index(store)


def test_the_indexer_keeps_up_in_the_background(sqlite_store):
    store = sqlite_store
    ensure_search_index(store.engine)
    store.write(SEEDED)

    def queued() -> int:
        with store.engine.connect() as connection:
            return connection.exec_driver_sql(
                "SELECT count(*) FROM tasks_search_pending").scalar_one()
    wait_until(lambda: queued() == 0, timeout=30, what="the indexer to empty the queue")
    _check_sqlite_index(store)


def test_short_words_and_unindexed_engines_scan(store):
    store.write(SEEDED)
    ensure_search_index(store.engine)
    other = HistoryStore(store.engine.url.render_as_string(hide_password=False))
    try:
        assert not index_ready(other.engine)  # never asked: searches scan, same answers
        assert found(other, word_condition("charge")) == expected(SEEDED, "charge")
    finally:
        other.close()
    for word in ("ch", "4", "本", "%"):
        assert found(store, word_condition(word)) == expected(SEEDED, word)
        assert "tasks_search" not in _plan(store, word)  # either index's name


def test_opening_again_keeps_the_index(store):
    store.write(SEEDED)
    ensure_search_index(store.engine)
    assert ensure_search_index(store.engine) is None
    store.write([row("t9", 9, name="app.tasks.Charge")])
    assert found(store, word_condition("charge")) == {"t1", "t5", "t9"}
    _check_sqlite_index(store)


def test_a_large_store_is_indexed_in_the_background(store, monkeypatch):
    monkeypatch.setattr(search_index, "FOREGROUND_SECONDS", 0.0)
    monkeypatch.setattr(search_index, "PG_FOREGROUND_ROWS", 0)
    store.write(SEEDED)
    building = ensure_search_index(store.engine)
    assert building is not None
    building.join(60)
    assert not building.is_alive() and index_ready(store.engine)
    for word in ("charge", "CAFé", "x_y"):
        assert found(store, word_condition(word)) == expected(SEEDED, word)
    _check_sqlite_index(store)


def _plan(store: HistoryStore, word: str) -> str:
    query = select(tasks.c.uuid).where(word_condition(word)).order_by(tasks.c.received.desc())
    sql = str(query.compile(store.engine, compile_kwargs={"literal_binds": True}))
    explain = "EXPLAIN QUERY PLAN " if store.engine.dialect.name == "sqlite" else "EXPLAIN "
    with store.engine.connect() as connection:
        if store.engine.dialect.name == "postgresql":
            connection.exec_driver_sql("SET enable_seqscan = off")
        return "\n".join(str(line) for line in connection.exec_driver_sql(explain + sql))


def test_the_plan_uses_the_index(store):
    rows = [row(f"task-{number:05d}", number, name=f"app.tasks.job{number % 50}",
                args=f"({number}, 'order-{number}')", kwargs="{'user': 'someone'}",
                result="done") for number in range(20_000)]
    rows[12_345]["result"] = "a rare zebrafish"
    for start in range(0, len(rows), 5000):
        store.write(rows[start:start + 5000])
    ensure_search_index(store.engine)
    if store.engine.dialect.name == "postgresql":  # the index's build analysed the table
        query = (select(tasks.c.uuid).where(word_condition("order-"))
                 .order_by(tasks.c.received.desc()).limit(100))
        sql = str(query.compile(store.engine, compile_kwargs={"literal_binds": True}))
        with store.engine.connect() as connection:
            plan = "\n".join(str(line) for line in connection.exec_driver_sql("EXPLAIN " + sql))
        assert "ix_tasks_search_trgm" not in plan, plan  # in every task: the scan is sooner
    with store.engine.begin() as connection:
        connection.execute(text("ANALYZE"))
    plan = _plan(store, "zebrafish")
    if store.engine.dialect.name == "sqlite":
        assert "tasks_search VIRTUAL TABLE" in plan, plan
    else:
        assert "Bitmap Index Scan on ix_tasks_search_trgm" in plan, plan
    assert found(store, word_condition("ZEBRAFISH")) == {"task-12345"}


def test_a_word_found_in_many_tasks_is_searched_by_the_scan(sqlite_store, monkeypatch):
    """The first 100 of a word in most tasks come sooner from the scan than from the list
    of all of them (SQLite: PostgreSQL's planner weighs this itself)."""
    store = sqlite_store
    monkeypatch.setattr(search_query, "DENSE_MATCHES", 2)
    store.write(SEEDED)
    ensure_search_index(store.engine)
    index_pending(store.engine)
    assert "tasks_search" not in _plan(store, "app.tasks")  # in t1, t3, t4, t5
    assert "tasks_search" in _plan(store, "charge")  # in t1, t5
    for word in ("app.tasks", "charge", "mail"):
        assert found(store, word_condition(word)) == expected(SEEDED, word)


def test_the_indexer_stops_with_its_store(sqlite_store):
    store = sqlite_store
    ensure_search_index(store.engine)

    def indexers() -> list:
        return [thread for thread in threading.enumerate()
                if thread.name == "search-indexer" and thread.is_alive()]
    running = len(indexers())
    assert running >= 1
    stop_search_index(store.engine)
    wait_until(lambda: len(indexers()) < running, timeout=30, what="the indexer to stop")


def test_the_option_indexes_a_running_dashboards_store_and_its_search_uses_it(
        store_url, tmp_path):
    """--search-index end to end: a real celery-scope builds the index over the store it
    opens, and /api/tasks?search= answers from it what the scan would."""
    seeded = HistoryStore(store_url)
    seeded.write(SEEDED)
    seeded.close()
    # a broker nobody answers: only the store matters here; the seeded rows are from 1970
    instance = Scope(tmp_path, f"redis://127.0.0.1:{free_port()}/0", "--no-enable-events",
                     "--search-index", "--retention-days", "100000", store=store_url).start()
    try:
        with HistoryStore(store_url).engine.connect() as connection:
            if connection.dialect.name == "sqlite":
                indexed = "SELECT count(*) FROM sqlite_master WHERE name = 'tasks_search'"
            else:
                indexed = "SELECT count(*) FROM pg_indexes WHERE indexname = 'ix_tasks_search_trgm'"
            wait_until(lambda: connection.exec_driver_sql(indexed).scalar() == 1, 60,
                       "the index built by the dashboard")
        for word in ("charge", "x_y"):
            answer = json.loads(instance.get(f"/api/tasks?search={word}&limit=100"))
            assert set(answer) >= expected(SEEDED, word), word
            assert not set(answer) & ({seed["uuid"] for seed in SEEDED}
                                      - expected(SEEDED, word)), word
    finally:
        instance.stop()
