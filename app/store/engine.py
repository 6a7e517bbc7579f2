"""Opening a store: the engine for its URL (SQLite in WAL mode, PostgreSQL with a connect
timeout), its tables and indexes, and the changes a store made by an earlier version needs.
"""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import bindparam, create_engine, event, inspect, select
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError

from . import rollups
from .fingerprint import fingerprint
from .schema import RETIRED_INDEXES, metadata, queue_samples, tasks


class StoreError(RuntimeError):
    """The store URL is unusable or the database cannot be opened."""


def _enable_sqlite_wal(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # WAL: a process crash loses no committed transaction
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")  # milliseconds
    # Long reads (exports, searches) keep the WAL from being recycled, so it grows; once a
    # checkpoint completes, cut it back to 64 MiB instead of keeping its high-water size.
    cursor.execute("PRAGMA journal_size_limit=67108864")
    cursor.close()


def open_engine(url: str) -> Engine:
    """Create the engine for a store URL, making the SQLite file's directory if needed."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"invalid store URL {url!r}: {exc}") from None
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed)
        event.listen(engine, "connect", _enable_sqlite_wal)
    else:  # a host that does not answer is an outage after 5 s, not a request hung for minutes
        engine = create_engine(parsed, pool_pre_ping=True, connect_args={"connect_timeout": 5})
    try:
        metadata.create_all(engine)
        with engine.begin() as connection:
            for name in RETIRED_INDEXES:
                connection.exec_driver_sql(f"DROP INDEX IF EXISTS {name}")
            if engine.dialect.name == "postgresql":
                _widen_text_columns(connection)
            if "issue" in _add_new_columns(connection, tasks):
                _fill_issues(connection)
            _add_new_columns(connection, queue_samples)
            rollups.mark_ready_if_empty(connection)
        for table in metadata.sorted_tables:  # indexes added since the store was created
            for index in table.indexes:
                index.create(engine, checkfirst=True)
    except OperationalError as exc:
        raise StoreError(f"cannot open the store {parsed.render_as_string()}: {exc.orig}") from None
    return engine


def _widen_text_columns(connection) -> None:
    """Stores made before text columns lost their length (a 64-character task id, a
    255-character name) are widened to the schema's unbounded varchar; PostgreSQL does
    this without rewriting the table."""
    bounded = connection.exec_driver_sql(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND data_type = 'character varying' "
        "AND character_maximum_length IS NOT NULL").all()
    for table_name, column_name in bounded:
        table = metadata.tables.get(table_name)
        if table is None or column_name not in table.c:
            continue
        if getattr(table.c[column_name].type, "length", None) is None:
            connection.exec_driver_sql(
                f'ALTER TABLE "{table_name}" ALTER COLUMN "{column_name}" TYPE varchar')


def _add_new_columns(connection, table) -> list[str]:
    """Columns added to `table` since the store was created are added to it (empty);
    returns their names."""
    present = {column["name"] for column in inspect(connection).get_columns(table.name)}
    added = [column for column in table.columns if column.name not in present]
    for column in added:
        kind = column.type.compile(dialect=connection.dialect)
        connection.exec_driver_sql(f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" {kind}')
    return [column.name for column in added]


def _fill_issues(connection) -> None:
    """A store made before issues existed: its failures get their fingerprints, once."""
    found = connection.execute(select(tasks.c.uuid, tasks.c.name, tasks.c.exception)
                               .where(tasks.c.exception.is_not(None))).all()
    rows = [{"id": uuid, "fp": fingerprint(name, exception)} for uuid, name, exception in found]
    if rows:
        connection.execute(tasks.update().where(tasks.c.uuid == bindparam("id"))
                           .values(issue=bindparam("fp")), rows)
