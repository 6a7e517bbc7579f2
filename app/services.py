"""What pages and API routes read: the settings, the history store and the snapshot cache,
hung on the Flask app so that callbacks find them without importing the Dash app."""
from __future__ import annotations

from dataclasses import dataclass

import flask

from .config import Settings
from .store.cache import SnapshotCache
from .store.history import HistoryStore

_EXTENSION = "celery_scope"


@dataclass
class Services:
    settings: Settings
    store: HistoryStore
    cache: SnapshotCache

    @classmethod
    def open(cls, settings: Settings) -> Services:
        return cls(settings, HistoryStore(settings.store), SnapshotCache(settings.cache_dir))

    def close(self) -> None:
        self.store.close()
        self.cache.close()

    def install(self, server: flask.Flask) -> None:
        server.extensions[_EXTENSION] = self


def current() -> Services:
    """The services of the app serving the current request."""
    return flask.current_app.extensions[_EXTENSION]
