"""The `retry of` / `retried as` links between a task and the one sent again in its place."""
from __future__ import annotations

import time
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.engine import Engine

from ..store.schema import task_links


def record(engine: Engine, pairs: Iterable[tuple[str, str]], job_id: str | None = None) -> None:
    """Store (original id, new id) pairs just sent."""
    now = time.time()
    rows = [{"new_id": new, "original_id": original, "created": now, "job_id": job_id}
            for original, new in pairs]
    if rows:
        with engine.begin() as connection:
            connection.execute(task_links.insert(), rows)


def links_of(engine: Engine, uuid: str) -> tuple[str | None, list[str]]:
    """(the task this one retries, the tasks that retry this one, oldest first)."""
    with engine.connect() as connection:
        original = connection.execute(select(task_links.c.original_id).where(
            task_links.c.new_id == uuid)).scalar()
        retries = [new for (new,) in connection.execute(
            select(task_links.c.new_id).where(task_links.c.original_id == uuid)
            .order_by(task_links.c.created))]
    return original, retries
