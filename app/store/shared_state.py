"""What the collector shares with web processes, kept in the store itself: the cache of a
shared (non-SQLite) store, so a web replica on another machine needs only the store and
broker URLs.

Same interface as cache.SnapshotCache, over the `shared_state` table (one JSON value per
kind, name and field). Each Inspector reply is its own row (worker, method), so a page's
forced refresh and the collector's round never overwrite each other's methods. What this
process's own collector publishes (its status, the metric snapshot) is mirrored in its
local cache directory too: readable there while the store is away, and by local tools.
While the store is away, reads answer what this process last read (as pages do), and
raise only for what it never read.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import orjson
from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from .cache import SnapshotCache, is_live
from .schema import shared_state

COLLECTORS_KEPT_SECONDS = 3600.0  # a collector silent this long is no longer listed
_INSPECT, _COLLECTOR, _METRICS, _REQUEST = "inspect", "collector", "metrics", "request"
T = TypeVar("T")


def _dumps(value: Any) -> str:
    return orjson.dumps(value, default=repr, option=orjson.OPT_NON_STR_KEYS).decode()


def leader_first(statuses: list[dict[str, Any]], now: float) -> list[dict[str, Any]]:
    """Collectors' statuses, the live leader first, then the others newest first. For the
    few seconds a killed leader's last status still looks live, the latest to take the
    lead is the leader."""
    def rank(status: dict[str, Any]) -> tuple[bool, float, float]:
        leads = bool(status.get("leading")) and is_live(status, now)
        return (not leads, -(status.get("leader_since") or 0.0) if leads else 0.0,
                -(status.get("updated_at") or 0.0))
    return sorted(statuses, key=rank)


def with_collectors(statuses: list[dict[str, Any]], now: float) -> dict[str, Any] | None:
    """The leader's status (or the newest), listing every collector under `collectors`."""
    ordered = leader_first(statuses, now)
    if not ordered:
        return None
    chosen = dict(ordered[0])
    chosen["collectors"] = [
        {key: status.get(key) for key in ("collector", "host", "pid", "leading", "leader_since",
                                          "started_at", "updated_at")}
        | {"live": is_live(status, now)}
        for status in ordered]
    return chosen


def leadership_report(statuses: list[dict[str, Any]], now: float) -> dict[str, Any]:
    """/healthcheck?verbose=1: which collector leads and since when, and who stands by."""
    listed = with_collectors(statuses, now)
    collectors = listed["collectors"] if listed else []
    leader = next((entry for entry in collectors if entry["leading"] and entry["live"]), None)
    return {"status": "OK", "leader": leader, "collectors": collectors}


class StoreCache:
    def __init__(self, engine: Engine, directory: str):
        self.engine = engine
        self.directory = directory  # the local one: the collector's spool lives under it
        self._local = SnapshotCache(directory)
        self._last_read: dict[tuple[str, str | None], Any] = {}  # for while the store is away
        dialect = sqlite if engine.dialect.name == "sqlite" else postgresql
        insert = dialect.insert(shared_state)
        self._upsert = insert.on_conflict_do_update(
            index_elements=[shared_state.c.kind, shared_state.c.name, shared_state.c.field],
            set_={"value": insert.excluded.value, "updated_at": insert.excluded.updated_at})

    def close(self) -> None:
        self._local.close()  # the engine is the history store's

    def _put(self, rows: list[tuple[str, str, str, Any]]) -> None:
        now = time.time()
        with self.engine.begin() as connection:
            connection.execute(self._upsert, [
                {"kind": kind, "name": name, "field": field, "value": _dumps(value),
                 "updated_at": now} for kind, name, field, value in rows])

    def _remembered(self, key: tuple[str, str | None], read: Callable[[], T]) -> T:
        try:
            value = self._last_read[key] = read()
        except Exception:
            if key in self._last_read:
                return self._last_read[key]
            raise
        return value

    def _get(self, kind: str, name: str | None = None) -> list[tuple[str, str, Any]]:
        return self._remembered((kind, name), lambda: self._read(kind, name))

    def _read(self, kind: str, name: str | None) -> list[tuple[str, str, Any]]:
        query = select(shared_state.c.name, shared_state.c.field, shared_state.c.value).where(
            shared_state.c.kind == kind)
        if name is not None:
            query = query.where(shared_state.c.name == name)
        with self.engine.connect() as connection:
            return [(row.name, row.field, orjson.loads(row.value))
                    for row in connection.execute(query)]

    # -- Inspector snapshots ------------------------------------------------------------

    def merge_inspection(self, replies: dict[str, dict[str, Any]], at: float) -> None:
        rows = [(_INSPECT, str(hostname), method, {"reply": reply, "at": at})
                for method, by_worker in replies.items() for hostname, reply in by_worker.items()]
        if rows:
            self._put(rows)  # one transaction for the round

    def worker_snapshot(self, hostname: str) -> dict[str, Any]:
        return {method: value for _, method, value in self._get(_INSPECT, hostname)}

    def inspected_workers(self) -> list[str]:
        query = (select(shared_state.c.name).where(shared_state.c.kind == _INSPECT)
                 .distinct().order_by(shared_state.c.name))

        def read() -> list[str]:
            with self.engine.connect() as connection:
                return list(connection.execute(query).scalars())
        return self._remembered(("workers", None), read)

    # -- on-demand Inspector rounds -----------------------------------------------------

    def request_inspection(self, hostname: str | None = None) -> None:
        self._put([(_REQUEST, _INSPECT, "", {"hostname": hostname, "at": time.time()})])

    def take_inspection_request(self) -> dict[str, Any] | None:
        """The pending request, removed in the same statement, so one collector takes it."""
        statement = (delete(shared_state)
                     .where(shared_state.c.kind == _REQUEST, shared_state.c.name == _INSPECT)
                     .returning(shared_state.c.value))
        with self.engine.begin() as connection:
            value = connection.execute(statement).scalar()
        return None if value is None else orjson.loads(value)

    # -- collector status ---------------------------------------------------------------

    def put_collector_status(self, status: dict[str, Any]) -> None:
        """Locally first (that never fails with the store), then for every replica."""
        self._local.put_collector_status(status)
        self._put([(_COLLECTOR, str(status.get("collector") or ""), "", status)])

    def collector_status(self) -> dict[str, Any] | None:
        """The leading collector's status, with every collector listed; this process's own
        collector's when the store cannot be read."""
        now = time.time()
        try:
            statuses = self.collectors()
        except Exception:  # noqa: BLE001 — store away: the banner says so from what is local
            local = self._local.collector_status()
            return with_collectors([local], now) if local else None
        return with_collectors(statuses, now)

    def collectors(self) -> list[dict[str, Any]]:
        now = time.time()
        statuses = [value for _, _, value in self._read(_COLLECTOR, None)]  # live, or raise
        return leader_first([status for status in statuses
                             if now - (status.get("updated_at") or 0.0) < COLLECTORS_KEPT_SECONDS],
                            now)

    # -- the metric snapshot ------------------------------------------------------------

    def put_metrics(self, snapshot: dict[str, Any]) -> None:
        self._local.put_metrics(snapshot)
        self._put([(_METRICS, "", "", snapshot)])

    def latest_metrics(self) -> dict[str, Any] | None:
        """The published snapshot; while the store is away, the last one read, else this
        process's own collector's (or none), so /metrics keeps its health gauges."""
        try:
            found = self._get(_METRICS)
        except Exception:  # noqa: BLE001 — store away and never read: what is local
            return self._local.latest_metrics()
        return found[0][2] if found else None


def open_cache(engine: Engine, directory: str) -> SnapshotCache | StoreCache:
    """The one place that decides: a SQLite store is one machine's, its cache a local
    diskcache; any other store is shared, and so is what the collector publishes."""
    if engine.dialect.name == "sqlite":
        return SnapshotCache(directory)
    return StoreCache(engine, directory)
