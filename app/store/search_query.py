"""The conditions a free-text search compiles to (search_index.py says what the index is):
the index lookup where this engine's index is whole, the scan otherwise, each match checked
again column by column so the answer is exactly the scan's."""
from __future__ import annotations

import re
import time
import weakref
from typing import Any

from sqlalchemy import Boolean, and_, literal_column, or_, select, table
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import ColumnElement, Select
from sqlalchemy.sql.expression import ColumnElement as _ColumnElement

from .schema import tasks
from .search_index import (
    FTS_TABLE,
    MIN_INDEXED,
    PENDING_TABLE,
    PG_JOINED,
    SEARCHED,
    _engines,
    _ready,
)

DENSE_MATCHES = 20_000  # rows: a word found more often is searched by the scan (SQLite)
DENSE_SECONDS = 60.0  # how long a word's count of matches is trusted
_ALNUM_RUN = re.compile(r"[0-9A-Za-z]{3}")  # what pg_trgm surely extracts a trigram from
_dense: weakref.WeakKeyDictionary[Dialect, dict[str, tuple[float, bool]]] = (
    weakref.WeakKeyDictionary())


class TextFound(_ColumnElement[bool]):
    """`text` found in any of `columns` (task column names): compiled to the index lookup
    when the engine's index is whole, to the scan otherwise; never cached, since the same
    statement compiles to the scan before the index is built and to the lookup after."""

    inherit_cache = False
    _is_implicitly_boolean = True  # a condition, not a value to compare with true
    type = Boolean()

    def __init__(self, columns: tuple[str, ...], text: str):
        self.columns, self.text = columns, text


def contains(columns: tuple[str, ...], text: str) -> ColumnElement[bool]:
    """Tasks with `text` in any of `columns` (case-insensitive for ASCII letters)."""
    return TextFound(tuple(columns), text)


def word_condition(word: str) -> ColumnElement[bool]:
    """Tasks with `word` in any searched column: the search box's free words."""
    return contains(SEARCHED, word)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _fts_query(text: str) -> str:
    """Every trigram of `text`, each as a string: an index of trigrams alone (detail=none)
    answers which rows hold them all, and the LIKE check that follows keeps the rows that
    hold them in order, in one column."""
    trigrams = dict.fromkeys(text[at:at + MIN_INDEXED] for at in range(len(text) - 2))
    return " AND ".join('"' + trigram.replace('"', '""') + '"' for trigram in trigrams)


def _found_often(dialect: Dialect, text: str) -> bool:
    """Whether the FTS table has more than DENSE_MATCHES rows holding `text`'s trigrams
    (counted up to there: FTS5 stops early), remembered for DENSE_SECONDS. The rows of such
    a word are better found by the scan, which meets the first 100 soon, than by listing
    them all first (3 s for a word in every one of 1M tasks)."""
    remembered = _dense.setdefault(dialect, {})
    now = time.monotonic()
    if text in remembered and now - remembered[text][0] < DENSE_SECONDS:
        return remembered[text][1]
    engine = _engines[dialect]() if dialect in _engines else None
    if engine is None:
        return False
    with engine.connect() as connection:
        matches = connection.exec_driver_sql(
            f"SELECT count(*) FROM (SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH ? "
            "LIMIT ?)", (_fts_query(text), DENSE_MATCHES + 1)).scalar_one()
    if len(remembered) >= 1000:
        remembered.clear()
    remembered[text] = (now, matches > DENSE_MATCHES)
    return matches > DENSE_MATCHES


def _sqlite_condition(found: TextFound, indexed: bool, dialect: Dialect) -> ColumnElement[bool]:
    pattern = f"%{_escape_like(found.text)}%"
    scan = or_(*(tasks.c[name].like(pattern, escape="\\") for name in found.columns))
    if not indexed or len(found.text) < MIN_INDEXED or _found_often(dialect, found.text):
        return scan
    matching: Select[Any] = (select(literal_column("rowid")).select_from(table(FTS_TABLE))
                .where(literal_column(FTS_TABLE).op("MATCH")(_fts_query(found.text))))
    queued: Select[Any] = select(literal_column("id")).select_from(table(PENDING_TABLE))
    return and_(literal_column("tasks.rowid").in_(matching.union_all(queued).scalar_subquery()),
                scan)


def _postgresql_condition(found: TextFound, indexed: bool) -> ColumnElement[bool]:
    pattern = f"%{_escape_like(found.text)}%"  # backslash is PostgreSQL's default escape
    exact = or_(*(tasks.c[name].collate("C").ilike(pattern) for name in found.columns))
    if not indexed or not _ALNUM_RUN.search(found.text):
        return exact
    return and_(literal_column(f"({PG_JOINED})").ilike(pattern), exact)


@compiles(TextFound)
def _compile(found: TextFound, compiler, **kw: Any) -> str:
    indexed = _ready.get(compiler.dialect, False)
    if compiler.dialect.name == "sqlite":
        condition = _sqlite_condition(found, indexed, compiler.dialect)
    elif compiler.dialect.name == "postgresql":
        condition = _postgresql_condition(found, indexed)
    else:
        condition = or_(*(tasks.c[name].like(f"%{_escape_like(found.text)}%", escape="\\")
                          for name in found.columns))
    return f"({compiler.process(condition, **kw)})"
