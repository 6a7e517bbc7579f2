"""The history store's outages as the web side sees them: which database errors mean "the
store cannot be reached" (a 503 to wait out, not a bug), this process's own failed reads,
and one answer to "is the store down, since when" for /metrics and the status banner.

The collector reports the store failing its writes in its status; a web process may be the
first to notice (an idle cluster writes nothing), so its reads count too.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from .cache import is_live

log = logging.getLogger(__name__)

STORE_ERROR_CHARS = 160  # a store error's message is cut here: the driver appends SQL and data


def short_store_error(error: BaseException) -> str:
    """The first line of the driver's own message, without the statement and parameters
    SQLAlchemy appends (which may hold task arguments)."""
    original = getattr(error, "orig", None) or error
    first_line = (str(original).strip().splitlines() or [""])[0]
    return f"{type(original).__name__}: {first_line}"[:STORE_ERROR_CHARS]


STORE_UNREACHABLE = "store unreachable"  # the error text of every 503 an outage causes
STORE_ERRORS = (DBAPIError, PoolTimeout)  # what to catch; is_unreachable then decides


def is_unreachable(error: BaseException) -> bool:
    """Whether a database error means the store cannot be reached (server down, connection
    lost, pool exhausted) rather than a query the store refuses."""
    if isinstance(error, (OperationalError, InterfaceError, PoolTimeout)):
        return True
    return isinstance(error, DBAPIError) and error.connection_invalidated


class ReadHealth:
    """This process's reads: the error and start of the current failing streak, until a read
    succeeds again. One per Services (per web process), never module-wide."""

    def __init__(self, clock: Callable[[], float] = time.time):
        self._clock = clock
        self._lock = threading.Lock()
        self.error: str | None = None
        self.down_since: float | None = None

    def failed(self, error: BaseException) -> None:
        with self._lock:
            if self.down_since is None:
                log.warning("the store cannot be read: %s", short_store_error(error))
                self.down_since = self._clock()
            self.error = short_store_error(error)

    def recovered(self) -> None:
        with self._lock:
            if self.down_since is not None:
                log.info("the store answers reads again")
            self.error, self.down_since = None, None

    def outage(self) -> tuple[str, float] | None:
        """(error, since) of the current failing streak, read together; None when none."""
        with self._lock:
            error, since = self.error, self.down_since
        if error is None or since is None:  # failed() sets both, recovered() clears both
            return None
        return error, since


def recheck(engine: Engine, reads: ReadHealth) -> None:
    """After a failed read, ask the store once more (SELECT 1), so a banner that reads no
    store of its own still sees the outage end."""
    if reads.down_since is None:
        return
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
    except STORE_ERRORS as exc:
        if not is_unreachable(exc):
            raise
        reads.failed(exc)
    else:
        reads.recovered()


def store_outage(status: Mapping[str, Any] | None, reads: ReadHealth,
                 now: float) -> tuple[str, float | None] | None:
    """(error, since) while a live collector's status or this process's reads say the store
    is unreachable, the earlier start winning; None while both say it answers."""
    outages = []
    if status is not None and is_live(status, now) and status.get("store_error"):
        outages.append((status["store_error"], status.get("store_down_since")))
    own = reads.outage()
    if own is not None:
        outages.append(own)
    if not outages:
        return None
    return min(outages, key=lambda outage: float("inf") if outage[1] is None else outage[1])


def with_reads(status: Mapping[str, Any] | None, reads: ReadHealth,
               now: float) -> dict[str, Any] | None:
    """The collector's status with its store_error and store_down_since as store_outage
    decides them: what the banner describes."""
    outage = store_outage(status, reads, now)
    if outage is None:
        return None if status is None else {**status, "store_error": None,
                                             "store_down_since": None}
    error, since = outage
    return {**(status or {}), "store_error": error, "store_down_since": since}
