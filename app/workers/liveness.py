"""Whether a worker is online: one rule for the pages, the API, /metrics and alerts.

Celery's own (``celery.events.state.heartbeat_expires``): a worker is gone once two
heartbeat intervals pass without a heartbeat; here with a second of slack for transit delay
and clock skew. One that said goodbye is offline at once. Pure: no Celery import.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

DEFAULT_FREQ = 2.0  # seconds between heartbeats when a worker did not say (celery's default)
EXPIRE_FACTOR = 2.0  # celery's HEARTBEAT_EXPIRE_WINDOW (200 %) of the interval
EXPIRY_SLACK = 1.0  # seconds on top: transit delay, clock skew


def expires_at(last_heartbeat: float, freq: float | None) -> float:
    """Epoch time after which a silent worker counts as offline."""
    return last_heartbeat + (freq or DEFAULT_FREQ) * EXPIRE_FACTOR + EXPIRY_SLACK


def online(said_goodbye: bool, last_heartbeat: float | None, freq: float | None,
           now: float) -> bool:
    return not said_goodbye and last_heartbeat is not None and now <= expires_at(
        last_heartbeat, freq)


def is_online(row: Mapping[str, Any], now: float) -> bool:
    """A worker row of the store: online until it said goodbye or its heartbeats stopped."""
    return online(row.get("status") != "online", row.get("last_heartbeat"), row.get("freq"), now)


def online_workers(rows: Iterable[Mapping[str, Any]], now: float) -> set[str]:
    """The hostnames of the store's worker rows that are online now."""
    return {row["hostname"] for row in rows if is_online(row, now)}
