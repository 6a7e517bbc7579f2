"""The parameter mark of hand-written SQL, which the hot paths speak to the driver directly."""
from __future__ import annotations

from sqlalchemy.engine import Dialect


def placeholder(dialect: Dialect) -> str:
    """sqlite3's `?` or psycopg's `%s`."""
    return "?" if dialect.paramstyle == "qmark" else "%s"
