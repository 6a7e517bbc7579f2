"""Real store outages for tests: the error a refused PostgreSQL connection raises, and a
database's sessions terminated as a restarting server would."""
from __future__ import annotations

import psycopg
from sqlalchemy import create_engine
from sqlalchemy.exc import OperationalError

from .helpers import PostgresServer, free_port


def refused_store_error() -> OperationalError:
    """What SQLAlchemy raises for a PostgreSQL store nobody listens for (a real one)."""
    engine = create_engine(f"postgresql://{PostgresServer.USER}@127.0.0.1:{free_port()}/x")
    try:
        engine.connect().close()
    except OperationalError as exc:
        return exc
    finally:
        engine.dispose()
    raise AssertionError("a PostgreSQL server answered on a free port")


def terminate_sessions(server: PostgresServer, database: str) -> int:
    """End every session on `database` but this one; return how many there were."""
    with psycopg.connect(server.url(), autocommit=True) as connection:
        return len(connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()", (database,)).fetchall())
