"""Audit retention, like the tasks': records older than the tasks' age limit go, and the
oldest beyond the same row limit. The web process that writes the trail prunes it too,
every PRUNE_EVERY records, so no collector or timer is needed (the trail grows only as
fast as people act)."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import Connection

from ..store.schema import audit

PRUNE_EVERY = 100  # records written between two prunes


def due(record_id: int | None) -> bool:
    return record_id is not None and record_id > 0 and record_id % PRUNE_EVERY == 0


def prune(connection: Connection, max_age: float, max_rows: int, now: float) -> int:
    """Delete the records older than `max_age` seconds or beyond the newest `max_rows`;
    return how many went."""
    deleted = connection.execute(audit.delete().where(audit.c.at < now - max_age)).rowcount
    beyond = connection.execute(select(audit.c.id).order_by(audit.c.id.desc())
                                .offset(max_rows).limit(1)).scalar()
    if beyond is not None:
        deleted += connection.execute(audit.delete().where(audit.c.id <= beyond)).rowcount
    return deleted
