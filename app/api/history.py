"""Flower's task history routes over the whole store: /api/tasks (streamed, paged by the
grid's own query, tasks/queries.py page_query), /api/task/types, /api/task/info."""
from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import orjson
from flask import Response
from sqlalchemy import func, select

from ..query_string import FilterError, parse_time
from ..services import current
from ..store.schema import tasks
from ..tasks import queries as task_queries
from ..tasks.filters import SORTABLE, parse_filter
from . import api
from .flower import (
    FLOWER_TIME_FORMAT,
    MAX_TASK_TYPES,
    STREAM_BATCH,
    TASK_FIELDS,
    ApiError,
    arg,
    as_json,
    number_arg,
)
from .streaming import started


def flower_task(row: dict[str, Any], children: list[str] | None = None) -> dict[str, Any]:
    """A stored task as Flower shows it (celery's Task.as_dict(), worker as its hostname),
    plus the queue it was routed to."""
    task = {}
    for name in TASK_FIELDS:
        if name == "root":
            task[name] = row.get("root_id")
        elif name == "parent":
            task[name] = row.get("parent_id")
        elif name == "children":
            task[name] = children or []
        else:
            task[name] = row.get(name)  # `clock` is not stored: null
    task["queue"] = row.get("queue")
    return task


def _flower_time(name: str, text: str) -> float:
    """Flower's 'YYYY-MM-DD HH:MM' in the server's local time (as Flower's time.mktime), or
    epoch seconds / ISO-8601 (UTC unless it says otherwise)."""
    try:
        return time.mktime(datetime.strptime(text, FLOWER_TIME_FORMAT).timetuple())
    except ValueError:
        pass
    try:
        return parse_time(name, text)
    except FilterError:
        raise ApiError(f"Invalid argument {name}={text!r}: use 'YYYY-MM-DD HH:MM' (server "
                       "local time), epoch seconds or ISO-8601") from None


def _tasks_query(now: float):
    """Flower's /api/tasks parameters → one SELECT over the history, validated (400)."""
    params: dict[str, Any] = {}
    for flower_name, ours in (("workername", "worker"), ("taskname", "name"), ("state", "state")):
        value = arg(flower_name)
        if value and value != "All":
            params[ours] = value
    search = arg("search")
    if search:
        params["search"] = search
    sort_by = arg("sort_by")
    if sort_by:
        if sort_by.lstrip("-") not in SORTABLE:
            raise ApiError(f"Invalid argument sort_by={sort_by!r}: one of {', '.join(SORTABLE)}, "
                           "prefix - for descending")
        params["sort"] = sort_by
    task_filter = parse_filter(params, now)
    conditions = []
    for column in ("received", "started"):
        for bound, compare in (("start", tasks.c[column].__ge__), ("end", tasks.c[column].__le__)):
            text = arg(f"{column}_{bound}")
            if text:
                conditions.append(compare(_flower_time(f"{column}_{bound}", text)))
    limit = number_arg("limit", int, minimum=0)
    offset = max(number_arg("offset", int, default=0), 0)
    return task_queries.page_query(task_filter, offset, limit, now, conditions)


def _children_of(connection, uuids: list[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    query = (select(tasks.c.parent_id, tasks.c.uuid).where(tasks.c.parent_id.in_(uuids))
             .order_by(tasks.c.received))
    for parent, child in connection.execute(query):
        found.setdefault(parent, []).append(child)
    return found


def _stream_tasks(engine, query) -> Iterator[bytes]:
    """`{uuid: task, ...}` in the query's order, a batch of rows at a time. Nothing is
    yielded before the first batch is read, so `started` meets a store outage in the route."""
    opening = b"{"
    with engine.connect() as connection:
        result = connection.execution_options(stream_results=True, yield_per=STREAM_BATCH)\
            .execute(query)
        for part in result.partitions(STREAM_BATCH):
            rows = [row._asdict() for row in part]
            children = _children_of(connection, [row["uuid"] for row in rows])
            yield opening + b",".join(orjson.dumps(row["uuid"]) + b":" + orjson.dumps(
                flower_task(row, children.get(row["uuid"])), default=str) for row in rows)
            opening = b","
    yield b"{}" if opening == b"{" else b"}"


@api.get("/api/tasks")
def list_tasks():
    """The history, filtered and paged in the database; no `limit` means every match. A
    store lost midway aborts the transfer (streaming.py): the body is never valid JSON."""
    query = _tasks_query(time.time())
    engine = current().store.engine
    return Response(started(_stream_tasks(engine, query)), mimetype="application/json")


def task_types(engine, limit: int = MAX_TASK_TYPES) -> list[str]:
    """Distinct task names in order, by a loose index scan: one index probe per name (a
    recursive CTE jumping to the next larger name) instead of grouping every row, so the
    cost follows the number of names, not of tasks (0.1 ms vs 50+ ms over 1M tasks)."""
    names = select(func.min(tasks.c.name).label("name")).cte("names", recursive=True)
    following = select(func.min(tasks.c.name)).where(tasks.c.name > names.c.name)
    names = names.union_all(
        select(following.scalar_subquery()).where(names.c.name.is_not(None)))
    query = select(names.c.name).where(names.c.name.is_not(None)).limit(limit)
    with engine.connect() as connection:
        return [name for (name,) in connection.execute(query)]


@api.get("/api/task/types")
def list_task_types():
    return as_json({"task-types": task_types(current().store.engine)})


@api.get("/api/task/info/<text:taskid>")
def task_info(taskid: str):
    store = current().store
    row = store.task(taskid)
    if row is None:
        raise ApiError(f"Unknown task '{taskid}'", 404)
    return as_json(flower_task(row, [child["uuid"] for child in store.children(taskid)]))
