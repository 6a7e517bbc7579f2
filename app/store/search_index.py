"""The index behind free-text task search: text found anywhere in a column, fast at 10M tasks.

A search for `word` means: some searched column holds `word`, ASCII letters in either case,
every other character exactly (SQLite's LIKE; PostgreSQL's ILIKE under the "C" collation,
whatever the database's locale). Without an index that is a scan of every row (0.9 s at 1M
tasks for a rare word), so each store keeps a trigram index of the searched columns:

* SQLite: an FTS5 table with the trigram tokenizer (trigrams only, detail=none: 52k rows/s
  indexed instead of 23k with positions). Triggers queue the rowid of each task inserted, deleted or
  changed in a searched column (the writer upserts a task 3-4 times over its life; most of
  those change none), and an indexer thread indexes the queue in batches (see below). A
  search takes the rows holding all the word's trigrams, and the queued ones, and checks
  each with LIKE: the answer is exactly LIKE's (FTS folds every letter's case, LIKE only
  ASCII's; LIKE looks within one column). A word in more than DENSE_MATCHES tasks is
  searched by the scan, which meets its first 100 sooner than a list of them all.
* PostgreSQL: pg_trgm and one GIN index over the searched columns joined into one text: one
  index insertion per row version instead of seven, one bitmap scan per search, each match
  checked column by column, so a word spanning two columns never matches. The planner
  weighs a common word against the scan itself (ANALYZE keeps statistics of the expression).

Words shorter than three characters (on PostgreSQL: without three letters or digits in a
row) have no trigram to look up: they are searched by the scan, as before.

`ensure_search_index(engine)`, once when a store opens, creates what is missing; an existing
store is indexed in the background (batches on SQLite, CREATE INDEX CONCURRENTLY on
PostgreSQL), so opening it never waits for minutes; searches scan until the index is whole.
Until then, and for an engine it was never called for, `search_query.contains(...)` compiles to
the scan (search_query.py: the conditions a search compiles to).
On SQLite every process that opens the store runs an indexer thread (whichever takes the
write lock indexes the queue); the index follows tasks' rowids, which VACUUM may renumber
in a table without an INTEGER PRIMARY KEY: after a VACUUM, drop tasks_search and its
tables and open the store again.
"""
from __future__ import annotations

import logging
import threading
import time
import weakref
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.exc import DBAPIError

log = logging.getLogger(__name__)

SEARCHED = ("uuid", "name", "worker", "args", "kwargs", "result", "exception")  # as Flower's
FTS_TABLE = "tasks_search"
PENDING_TABLE = "tasks_search_pending"  # SQLite: rowids whose index entry is missing or old
BACKFILL_TABLE = "tasks_search_backfill"  # exists while existing rows are being queued
PG_INDEX = "ix_tasks_search_trgm"
MIN_INDEXED = 3  # characters: a trigram
BACKFILL_BATCH = 100_000  # existing rows queued per transaction
INDEX_BATCH = 2000  # queued rows indexed per transaction (~50 ms of the writer's lock)
INDEX_SECONDS = 5.0  # how often the queue is indexed (a task's upserts meanwhile: once)
FOREGROUND_SECONDS = 1.0  # indexing done while the store opens; the rest in the background
PG_FOREGROUND_ROWS = 50_000  # a smaller table is indexed before the store opens
POLL_SECONDS = 5.0  # how often a process that does not build looks for a finished index
_PG_LOCK = (0x5C09E, 0x5EA2C)  # advisory lock (two-key space) held by the one builder
# The searched columns joined, as the PostgreSQL index and its queries both write it (the
# planner matches the index by this expression).
PG_JOINED = " || ' ' || ".join(f"coalesce({name}, '')" for name in SEARCHED)

_ready: weakref.WeakKeyDictionary[Dialect, bool] = weakref.WeakKeyDictionary()
_engines: weakref.WeakKeyDictionary[Dialect, weakref.ref[Engine]] = weakref.WeakKeyDictionary()
_stopped: weakref.WeakSet[Dialect] = weakref.WeakSet()
_warned: set[str] = set()


def index_ready(engine: Engine) -> bool:
    """Whether searches on this engine use the index (set by ensure_search_index)."""
    return _ready.get(engine.dialect, False)


# -- building the index ----------------------------------------------------------------------

def ensure_search_index(engine: Engine) -> threading.Thread | None:
    """Create the search index where it is missing (once, when a store opens) and, on
    SQLite, start this process's indexer. Returns the background thread still indexing
    existing tasks, or None when the index is whole (or cannot be made: searches scan)."""
    _engines[engine.dialect] = weakref.ref(engine)
    if engine.dialect.name == "sqlite":
        return _ensure_sqlite(engine)
    if engine.dialect.name == "postgresql":
        return _ensure_postgresql(engine)
    return None


def _in_background(name: str, work) -> threading.Thread:
    thread = threading.Thread(target=work, name=name, daemon=True)
    thread.start()
    return thread


def _warn_once(key: str, message: str, *args: Any) -> None:
    if key not in _warned:
        _warned.add(key)
        log.warning(message, *args)


# SQLite: the FTS table, the rows waiting for it, and the triggers that queue them. FTS5
# flushes what it has gathered at every savepoint, and a trigger runs in one per row: an FTS
# insert from a trigger cost the writer 80% of its rate. So the triggers only queue rowids
# (a B-tree insert), and an indexer indexes the queue in batches: one statement, one flush,
# and a task's upserts within a second are indexed once. Searches look in the FTS table and
# at the queued rows, so they miss nothing; the LIKE check on the row decides.

def _sqlite_triggers() -> list[str]:
    names = ", ".join(SEARCHED)
    changed = " OR ".join(f"old.{name} IS NOT new.{name}" for name in SEARCHED)

    def queue(row: str) -> str:  # not INSERT OR IGNORE: the upsert's own policy would win
        return (f"INSERT INTO {PENDING_TABLE}(id) SELECT {row}.rowid WHERE NOT EXISTS "
                f"(SELECT 1 FROM {PENDING_TABLE} WHERE id = {row}.rowid);")
    return [
        f"CREATE TRIGGER {FTS_TABLE}_insert AFTER INSERT ON tasks BEGIN {queue('new')} END",
        f"CREATE TRIGGER {FTS_TABLE}_delete AFTER DELETE ON tasks BEGIN {queue('old')} END",
        f"CREATE TRIGGER {FTS_TABLE}_update AFTER UPDATE OF {names} ON tasks WHEN {changed} "
        f"BEGIN {queue('new')} END",
    ]


def _sqlite_state(cursor) -> str:
    """'missing', 'building' (existing rows not all queued yet) or 'ready'."""
    found = {name for (name,) in cursor.execute(
        "SELECT name FROM sqlite_master WHERE name IN (?, ?)", (FTS_TABLE, BACKFILL_TABLE))}
    if FTS_TABLE not in found:
        return "missing"
    return "building" if BACKFILL_TABLE in found else "ready"


def _immediately(engine: Engine, work):
    """Run `work(cursor)` in one write transaction taken at once (BEGIN IMMEDIATE), so that
    what it reads cannot change before it writes, whichever process it runs in."""
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute("BEGIN IMMEDIATE")
        try:
            result = work(cursor)
        except BaseException:
            connection.rollback()
            raise
        connection.commit()
        return result
    finally:
        connection.close()


def _create_sqlite(cursor) -> str:
    state = _sqlite_state(cursor)
    if state != "missing":
        return state
    cursor.execute(f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5({', '.join(SEARCHED)}, "
                   "tokenize='trigram', detail=none, columnsize=0)")
    cursor.execute(f"CREATE TABLE {PENDING_TABLE} (id INTEGER PRIMARY KEY)")
    cursor.execute(f"CREATE TABLE {BACKFILL_TABLE} (upto INTEGER NOT NULL)")
    cursor.execute(f"INSERT INTO {BACKFILL_TABLE} VALUES (0)")
    for statement in _sqlite_triggers():
        cursor.execute(statement)
    return "building"


def _backfill_step(cursor) -> bool:
    """Queue the next batch of existing rows; True once every row is indexed or queued."""
    if _sqlite_state(cursor) != "building":
        return True
    (upto,) = cursor.execute(f"SELECT upto FROM {BACKFILL_TABLE}").fetchone()
    (last,) = cursor.execute(
        "SELECT max(rowid) FROM (SELECT rowid FROM tasks WHERE rowid > ? ORDER BY rowid "
        "LIMIT ?)", (upto, BACKFILL_BATCH)).fetchone()
    if last is None:
        cursor.execute(f"DROP TABLE {BACKFILL_TABLE}")
        return True
    cursor.execute(f"INSERT OR IGNORE INTO {PENDING_TABLE}(id) "
                   "SELECT rowid FROM tasks WHERE rowid > ? AND rowid <= ?", (upto, last))
    cursor.execute(f"UPDATE {BACKFILL_TABLE} SET upto = ?", (last,))
    return False


def _index_step(cursor) -> int:
    """Index the next INDEX_BATCH queued rows as they are now; how many were queued."""
    (last,) = cursor.execute(f"SELECT max(id) FROM (SELECT id FROM {PENDING_TABLE} "
                             "ORDER BY id LIMIT ?)", (INDEX_BATCH,)).fetchone()
    if last is None:
        return 0
    queued = f"SELECT id FROM {PENDING_TABLE} WHERE id <= {int(last)}"
    cursor.execute(f"DELETE FROM {FTS_TABLE} WHERE rowid IN ({queued})")
    cursor.execute(f"INSERT INTO {FTS_TABLE}(rowid, {', '.join(SEARCHED)}) SELECT rowid, "
                   f"{', '.join(SEARCHED)} FROM tasks WHERE rowid IN ({queued})")
    return cursor.execute(f"DELETE FROM {PENDING_TABLE} WHERE id <= ?", (last,)).rowcount


def _step(engine: Engine, work, default):
    try:
        return _immediately(engine, work)
    except DBAPIError as exc:  # the store busy or away: try again shortly
        _warn_once("index", "search index: indexing paused: %s", exc)
        time.sleep(1.0)
        return default


def _peek(engine: Engine) -> tuple[str, bool]:
    """The index's state and whether rows are queued: a read, no write lock taken."""
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        state = _sqlite_state(cursor)
        queued = state != "missing" and cursor.execute(
            f"SELECT EXISTS (SELECT 1 FROM {PENDING_TABLE})").fetchone()[0]
        return state, bool(queued)
    finally:
        connection.rollback()  # end the read at once: a long one holds the WAL back
        connection.close()


def index_pending(engine: Engine, until: float | None = None) -> bool:
    """Queue the existing rows not queued yet, then index the queue, batch after batch,
    until the time `until` (None: until all is done). True when nothing is left."""
    while True:
        started = time.monotonic()
        state, queued = _peek(engine)
        if state == "building":
            _step(engine, _backfill_step, False)
        else:
            _ready[engine.dialect] = state == "ready"
            if not queued or state == "missing":
                return True
            _step(engine, _index_step, 0)
        if until is not None and time.monotonic() >= until:
            return False
        time.sleep(min(0.5, (time.monotonic() - started) / 4))  # let the writer in


def stop_search_index(engine: Engine) -> None:
    """This process's indexer stops (the store closes); the queue waits for the next one."""
    _stopped.add(engine.dialect)


def _keep_indexing(engine_ref: weakref.ref[Engine]) -> None:
    """The indexer of this process: the queue indexed every INDEX_SECONDS, for as long as
    the engine is in use (the thread holds no reference to it in between)."""
    while (engine := engine_ref()) is not None and engine.dialect not in _stopped:
        try:
            index_pending(engine)
        except Exception as exc:  # noqa: BLE001 — the next round tries again
            _warn_once("indexer", "search index: indexing failed: %s", exc)
        del engine
        time.sleep(INDEX_SECONDS)


def _build_then_index(engine_ref: weakref.ref[Engine]) -> None:
    """Queue and index the existing rows (the build), then start the indexer."""
    engine = engine_ref()
    if engine is not None:
        index_pending(engine)
        log.info("search index: built")
        del engine
        _in_background("search-indexer", lambda: _keep_indexing(engine_ref))


def _statement_journal_in_memory(dbapi_connection, _record) -> None:
    """An upsert that fires triggers writes a statement journal; kept in a temporary file
    (SQLite's default), it doubled the writer's time per task, in memory it costs a third
    of that."""
    dbapi_connection.execute("PRAGMA temp_store=MEMORY")


def _ensure_sqlite(engine: Engine) -> threading.Thread | None:
    if not event.contains(engine, "connect", _statement_journal_in_memory):
        event.listen(engine, "connect", _statement_journal_in_memory)
        engine.dispose()  # the connections already open are made again with it
    try:
        _immediately(engine, _create_sqlite)
    except DBAPIError as exc:  # e.g. an SQLite built without FTS5
        _warn_once("sqlite", "search index: none (searches scan): %s", exc)
        return None
    engine_ref = weakref.ref(engine)
    if index_pending(engine, until=time.monotonic() + FOREGROUND_SECONDS):
        _in_background("search-indexer", lambda: _keep_indexing(engine_ref))
        return None
    log.info("search index: indexing existing tasks in the background")
    return _in_background("search-index", lambda: _build_then_index(engine_ref))


# PostgreSQL: pg_trgm, then one GIN index built CONCURRENTLY (writes go on meanwhile) by
# whichever process holds the advisory lock; an index left invalid by a build that died is
# dropped and built again.

def _pg_index_valid(connection) -> bool | None:
    """True, False (being built, or left invalid) or None (absent)."""
    return connection.exec_driver_sql(
        "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE c.relname = %(name)s AND c.relnamespace = current_schema()::regnamespace",
        {"name": PG_INDEX}).scalar()


def _pg_build(connection) -> None:
    if _pg_index_valid(connection) is False:
        connection.exec_driver_sql(f"DROP INDEX CONCURRENTLY IF EXISTS {PG_INDEX}")
    connection.exec_driver_sql(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {PG_INDEX} ON tasks "
                               f"USING gin (({PG_JOINED}) gin_trgm_ops)")
    # Statistics of the joined text at once, not at autovacuum's next visit: without them
    # the planner took a word in every task for a rare one (19 s by the index instead of
    # 27 ms by the scan, 1M tasks).
    connection.exec_driver_sql("ANALYZE tasks")


def _pg_attempt(engine: Engine) -> bool:
    """Build the index if no other process does; True once it is valid."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        if _pg_index_valid(connection):
            return True
        if not connection.exec_driver_sql(
                f"SELECT pg_try_advisory_lock({_PG_LOCK[0]}, {_PG_LOCK[1]})").scalar():
            return False  # another process builds it
        try:
            _pg_build(connection)
        finally:
            connection.exec_driver_sql(f"SELECT pg_advisory_unlock({_PG_LOCK[0]}, {_PG_LOCK[1]})")
        return bool(_pg_index_valid(connection))


def _pg_until_valid(engine: Engine) -> None:
    while True:
        try:
            if _pg_attempt(engine):
                _ready[engine.dialect] = True
                log.info("search index: built")
                return
        except DBAPIError as exc:
            _warn_once("pg", "search index: not built yet: %s", exc)
        time.sleep(POLL_SECONDS)


def _ensure_postgresql(engine: Engine) -> threading.Thread | None:
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except DBAPIError as exc:
        _warn_once("pg_trgm", "search index: pg_trgm unavailable, searches scan: %s", exc.orig)
        return None
    with engine.connect() as connection:
        small = connection.exec_driver_sql(
            f"SELECT count(*) FROM (SELECT 1 FROM tasks LIMIT {PG_FOREGROUND_ROWS + 1}) t"
        ).scalar_one() <= PG_FOREGROUND_ROWS
    if small and _pg_attempt(engine):
        _ready[engine.dialect] = True
        return None
    log.info("search index: building in the background")
    return _in_background("search-index", lambda: _pg_until_valid(engine))
