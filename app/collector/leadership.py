"""Which collector writes: a PostgreSQL session advisory lock decides, no consensus of our own.

Each collector keeps one dedicated connection (autocommit, not from the store's pool) and
asks `pg_try_advisory_lock` on it every second until it holds the lock. The lock lives as
long as that session: a leader killed with -9, or cut off from the store, loses it with its
connection, and the standby's next try takes it. A leader checks its session every second
and before every batch it writes (`confirm`), so once its connection is gone it stops
writing as leader at once; whoever holds the lock when the store is back writes.

A session found dead is replaced in the same try: a store that restarted between two tries
answers at once, and only a store that refuses the new session too counts as down. Each
time the lock is taken the `term` grows, so the writer knows a new lead began even when
the lock was lost and taken again within one try (another collector may have led between).

A SQLite store is one machine's and has one collector: it always leads (`SoleLeader`).
"""
from __future__ import annotations

import hashlib
import logging
import threading
import time

from sqlalchemy import create_engine
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

from ..store.outage import short_store_error

log = logging.getLogger(__name__)

TRY_SECONDS = 1.0  # how often a standby tries the lock, and a leader checks its session
LOCK_KEY = int.from_bytes(hashlib.sha1(b"celery-scope collector").digest()[:8], "big",
                          signed=True)  # one bigint lock per database
# A dead server or network shows within seconds, not after the kernel's two hours.
_CONNECT_ARGS = {"connect_timeout": 2, "keepalives": 1, "keepalives_idle": 2,
                 "keepalives_interval": 1, "keepalives_count": 2}


class SoleLeader:
    """The one collector of a SQLite store."""

    leading = True
    store_up = True
    term = 1
    since: float | None = None

    def __init__(self) -> None:
        self.since = time.time()

    def start(self) -> None:
        pass

    def confirm(self) -> bool:
        return True

    def stop(self) -> None:
        pass


class AdvisoryLeadership:
    def __init__(self, store_engine: Engine, key: int = LOCK_KEY, every: float = TRY_SECONDS):
        self._engine = create_engine(store_engine.url, poolclass=NullPool,
                                     connect_args=_CONNECT_ARGS,
                                     isolation_level="AUTOCOMMIT")
        self.key, self.every = key, every
        self.leading = False
        self.store_up = True  # whether the last try reached the store
        self.since: float | None = None  # when this collector took the lead
        self.term = 0  # how many times this collector has taken the lock
        self._connection: Connection | None = None
        self._lock = threading.Lock()  # the session is shared by this thread and the writer
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="leadership", daemon=True)

    def start(self) -> None:
        self.step()  # lead from the first batch if the lock is free
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5.0)
        with self._lock:
            self._drop(None)  # closing the session releases the lock at once
        self._engine.dispose()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.step()

    def step(self) -> None:
        """One try: take the lock if free, or check that the session holding it lives."""
        with self._lock:
            had_session = self._connection is not None
            if not self._try() and had_session and not self._stop.is_set():
                self._try()  # the old session died: a fresh one tells whether the store did

    def _try(self) -> bool:
        """Whether the store answered on this collector's session (opened if need be)."""
        try:
            if self._connection is None:
                self._connection = self._engine.connect()
            if self.leading:
                self._connection.exec_driver_sql("SELECT 1")
            elif self._connection.exec_driver_sql(
                    f"SELECT pg_try_advisory_lock({self.key})").scalar():
                self.leading, self.since = True, time.time()
                self.term += 1
                log.info("this collector leads now (it holds the store's advisory lock)")
        except Exception as exc:  # noqa: BLE001 — any failure: the session is gone
            self._drop(exc)
            return False
        self.store_up = True
        return True

    def confirm(self) -> bool:
        """Whether this collector still holds the lock, asked on its session right now."""
        with self._lock:
            if not self.leading or self._connection is None:
                return False
            try:
                self._connection.exec_driver_sql("SELECT 1")
            except Exception as exc:  # noqa: BLE001 — the session is gone, and the lock with it
                self._drop(exc)
                return False
            return True

    def _drop(self, error: BaseException | None) -> None:
        if self.leading and error is not None:
            log.warning("this collector no longer leads: its lock session ended (%s)",
                        short_store_error(error))
        self.leading, self.since = False, None
        if error is not None:
            self.store_up = False
        if self._connection is not None:
            try:
                self._connection.close()
            except Exception:  # noqa: BLE001 — already broken: nothing to close
                pass
            self._connection = None


def leadership_for(store_engine: Engine) -> SoleLeader | AdvisoryLeadership:
    """A shared (PostgreSQL) store elects its writer; a SQLite store has just one."""
    if store_engine.dialect.name == "postgresql":
        return AdvisoryLeadership(store_engine)
    return SoleLeader()
