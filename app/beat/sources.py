"""The schedule sources, read together and kept for `beat_refresh` seconds: the app's
`beat_schedule`, django-celery-beat's tables, RedBeat's keys. One cache per process (pages,
API and /metrics share it), so an entry that appears or disappears shows within one interval
and no request reads a source itself.

A source that cannot be read is said in one line (the page's banner) and keeps the entries
it last gave. An entry a database-backed scheduler holds hides the app's entry of the same
name: django-celery-beat and RedBeat copy the app's `beat_schedule` into their own store,
and theirs is what beat runs.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis
from celery import Celery
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine

from ..config import Settings
from .app_schedule import load_app, read_app_entries
from .django_beat import read_django_entries
from .entries import BeatEntry
from .redbeat import read_redbeat_entries

PREFERENCE = ("django", "redbeat", "app")  # which source's entry wins a shared name
REDIS_TIMEOUT = 5.0  # seconds for RedBeat's Redis to answer


@dataclass(frozen=True)
class Snapshot:
    entries: tuple[BeatEntry, ...]
    problems: tuple[str, ...]
    read_at: float

    def entry(self, name: str) -> BeatEntry | None:
        return next((entry for entry in self.entries if entry.name == name), None)


@dataclass
class BeatSources:
    """The sources a process's settings name, and their latest reading."""

    settings: Settings
    watched_app: Callable[[], Celery | None]  # the app celery-scope was started with, if any
    clock: Callable[[], float] = time.time
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _snapshot: Snapshot | None = None
    _kept: dict[str, list[BeatEntry]] = field(default_factory=dict)
    _app: Celery | None = None
    _engine: Engine | None = None
    _redis: redis.Redis | None = None
    kept_figures: dict[str, Any] = field(default_factory=dict)  # costly figures, with their time

    def snapshot(self) -> Snapshot:
        now = self.clock()
        with self._lock:
            if self._snapshot is None or now - self._snapshot.read_at >= self.settings.beat_refresh:
                self._snapshot = self._read(now)
            return self._snapshot

    def forget(self) -> None:
        """Read the sources afresh on the next request: an entry was just switched here."""
        with self._lock:
            self._snapshot = None

    def celery_app(self) -> Celery:
        """The app whose settings (time zone, argsrepr size) beat's sends follow."""
        if self._app is None and self.settings.app:
            self._app = load_app(self.settings.app)
        return self._app or self.watched_app() or _default_app()

    def _read(self, now: float) -> Snapshot:
        problems: list[str] = []
        for source, reader in self._readers():
            try:
                entries, lines = reader()
            except Exception as exc:  # noqa: BLE001 — any failure of a source is its banner
                problems.append(f"{_SOURCE_NAMES[source]} could not be read: "
                                f"{type(exc).__name__}: {exc!s}"[:500])
                continue
            self._kept[source] = entries
            problems.extend(lines)
        chosen: dict[str, BeatEntry] = {}
        for source in PREFERENCE:
            for entry in self._kept.get(source, ()):
                chosen.setdefault(entry.name, entry)
        ordered = sorted(chosen.values(), key=lambda entry: (entry.name, entry.source))
        return Snapshot(tuple(ordered), tuple(problems), now)

    def _readers(self) -> list[tuple[str, Callable[[], tuple[list[BeatEntry], list[str]]]]]:
        settings = self.settings
        readers: list[tuple[str, Any]] = [("app", lambda: read_app_entries(self.celery_app()))]
        if settings.beat_db:
            readers.append(("django", lambda: read_django_entries(self._database(),
                                                                  self.celery_app())))
        if settings.redbeat_redis_url:
            readers.append(("redbeat", lambda: read_redbeat_entries(
                self._redis_client(), settings.redbeat_key_prefix, self.celery_app())))
        return readers

    def _database(self) -> Engine:
        if self._engine is None:
            self._engine = create_engine(str(self.settings.beat_db), pool_pre_ping=True)
        return self._engine

    def _redis_client(self) -> redis.Redis:
        if self._redis is None:
            self._redis = redis.Redis.from_url(str(self.settings.redbeat_redis_url),
                                               socket_timeout=REDIS_TIMEOUT,
                                               socket_connect_timeout=REDIS_TIMEOUT)
        return self._redis

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
        if self._redis is not None:
            self._redis.close()


_SOURCE_NAMES = {"app": "the app's beat_schedule", "django": "django-celery-beat's database",
                 "redbeat": "RedBeat's Redis"}


def _default_app() -> Celery:
    """Celery's defaults (UTC, argsrepr 1024) when no app is known."""
    return Celery("celery-scope-beat", set_as_current=False)


_ATTRIBUTE = "beat_sources"


def for_services(services: Any) -> BeatSources:
    """The process's BeatSources, made on first use and kept on its Services (as its
    cached properties are)."""
    found = services.__dict__.get(_ATTRIBUTE)
    if found is None:
        found = services.__dict__.setdefault(
            _ATTRIBUTE, BeatSources(services.settings, lambda: services.celery_app))
    return found
