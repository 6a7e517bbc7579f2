"""What pages and API routes read: the settings, the history store and the snapshot cache
(and how this process's reads of the store fare), hung on the Flask app so that callbacks
find them without importing the Dash app."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import flask
from celery import Celery

from .auth.roles import GuardedControl, current_role, may
from .broker.control import READ_ONLY_MESSAGE, Control, ReadOnly
from .broker.gate import BrokerUnavailable
from .collector.inspector import Inspector
from .config import Settings
from .store.cache import Cache
from .store.history import HistoryStore
from .store.outage import ReadHealth
from .store.search_index import ensure_search_index
from .store.shared_state import open_cache

_EXTENSION = "celery_scope"


@dataclass
class Services:
    settings: Settings
    store: HistoryStore
    cache: Cache  # a local diskcache, or the store itself when it is shared (open_cache)
    celery_app: Celery | None = None  # set once the broker (or the demo's) is known
    reads: ReadHealth = field(default_factory=ReadHealth)

    @classmethod
    def open(cls, settings: Settings, celery_app: Celery | None = None) -> Services:
        store = HistoryStore(settings.store)
        if settings.search_index:
            ensure_search_index(store.engine)  # built in the background on a big store
        return cls(settings, store, open_cache(store.engine, settings.cache_dir), celery_app)

    def known_workers(self) -> list[str]:
        return [row["hostname"] for row in self.store.workers()]

    def control(self) -> GuardedControl:
        """Remote control over the watched cluster; raises ControlError before it is known,
        and ReadOnly in read-only mode (every page action comes through here)."""
        self.check_writable()
        control = Control(self._celery(), self.known_workers, self.settings.inspect_timeout)
        return GuardedControl(control)  # each action checks the caller's role

    def actions_refused(self) -> str | None:
        """Why this request may not act on the cluster (read-only mode, or a role that may
        only watch), or None; pages grey their buttons out with it."""
        if self.settings.read_only:
            return f"{READ_ONLY_MESSAGE} (--read-only)"
        if not may("operator"):
            return f"your role ({current_role()}) may watch but not act"
        return None

    def check_writable(self) -> None:
        """Raise ReadOnly when `read_only` is set: the one rule for pages and API alike."""
        if self.settings.read_only:
            raise ReadOnly()

    @cached_property
    def inspector(self) -> Inspector:
        """One Inspector (and its thread pool) per process, for forced refreshes from pages."""
        return Inspector(self._celery(), self.cache, self.settings.inspect_timeout)

    def _celery(self) -> Celery:
        if self.celery_app is None:
            raise BrokerUnavailable("no broker connection yet: the collector is still starting")
        return self.celery_app

    def close(self) -> None:
        if "inspector" in self.__dict__:
            self.inspector.close()
        self.store.close()
        self.cache.close()

    def install(self, server: flask.Flask) -> None:
        server.extensions[_EXTENSION] = self


def current() -> Services:
    """The services of the app serving the current request."""
    return flask.current_app.extensions[_EXTENSION]
