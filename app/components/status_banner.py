"""The collector/broker status banner shown on every page."""
from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from dash import Input, Output, callback, html

from ..services import current
from .refresh import INTERVAL

BANNER = "status-banner"
STALE_SECONDS = 10.0  # the collector publishes every second; this much silence means trouble


def make_status_banner() -> html.Div:
    return html.Div(id=BANNER, role="status", className="banner banner-wait")


def describe_status(status: Mapping[str, Any] | None, now: float) -> tuple[str, str]:
    """(message, level) for the banner; level is ok, warn or error."""
    if not status:
        return "Waiting for the collector to report…", "wait"
    age = now - status.get("updated_at", 0)
    if age > STALE_SECONDS:
        return (f"The collector has not reported for {age:.0f} s: the data shown may be stale.",
                "warn")
    if not status.get("broker_connected"):
        error = status.get("broker_error") or "connecting"
        message = (f"Broker {status.get('broker')} unreachable ({error}). Retrying; the history "
                   "already collected is kept.")
        return message, "error"
    if status.get("store_error"):
        return f"The history store cannot be written ({status['store_error']}). Retrying.", "error"
    parts = [f"Connected to {status.get('broker')}", f"{status.get('events', 0):,} events"]
    if status.get("malformed"):
        parts.append(
            f"{status['malformed']:,} malformed events skipped "
            f"(last: {status.get('last_malformed')})"
        )
        return " · ".join(parts), "warn"
    return " · ".join(parts), "ok"


@callback(Output(BANNER, "children"), Output(BANNER, "className"), Input(INTERVAL, "n_intervals"))
def _refresh_banner(_):
    message, level = describe_status(current().cache.collector_status(), time.time())
    return message, f"banner banner-{level}"
