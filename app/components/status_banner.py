"""The collector/broker/store status banner shown on every page.

It describes the collector's published status with this process's own failed store reads
folded in (app/outage.py): pages whose reads fail keep what they last showed, and this
banner is where the outage is said, with the time it began in the browser's zone.
"""
from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from dash import Input, Output, callback, dcc, get_app, html

from ..formatting import human_bytes
from ..series.frames import zone
from ..services import current
from ..store.cache import is_live
from ..store.outage import recheck, with_reads
from .refresh import BROWSER_TZ, INTERVAL

BANNER = "status-banner"
UTC = ZoneInfo("UTC")


def make_status_banner() -> html.Div:
    return html.Div(id=BANNER, role="status", className="banner banner-wait")


def clock_time(epoch: float, now: float, tz: ZoneInfo) -> str:
    """HH:MM:SS in `tz`, with the date in front when it was not today there."""
    moment = datetime.fromtimestamp(epoch, tz)
    if moment.date() != datetime.fromtimestamp(now, tz).date():
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    return moment.strftime("%H:%M:%S")


def spool_text(status: Mapping[str, Any]) -> str | None:
    """What waits in the collector's on-disk spool (and what it let go), when anything does."""
    if not (status.get("spooled") or status.get("spool_dropped")):
        return None
    text = (f"{status.get('spooled', 0):,} messages wait in the spool "
            f"({human_bytes(status.get('spool_bytes', 0))})")
    if status.get("spool_dropped"):
        text += f", {status['spool_dropped']:,} dropped when it was full"
    return text


def store_down_text(status: Mapping[str, Any], now: float, tz: ZoneInfo) -> str:
    since = status.get("store_down_since")
    when = f" since {clock_time(since, now, tz)}" if since else ""
    text = (f"History store unreachable{when} ({status['store_error']}). Retrying; pages show "
            "what they last read")
    spool = spool_text(status)
    return f"{text} · {spool}." if spool else f"{text}."


def describe_status(status: Mapping[str, Any] | None, now: float,
                    tz: ZoneInfo = UTC) -> tuple[str, str]:
    """(message, level) for the banner; level is ok, warn or error."""
    if not status:
        return "Waiting for the collector to report…", "wait"
    if status.get("store_error"):
        return store_down_text(status, now, tz), "error"
    if status.get("demo_error"):
        return f"The demo cluster is broken: {status['demo_error']}", "error"
    if not is_live(status, now):
        age = now - (status.get("updated_at") or 0.0)
        return (f"The collector has not reported for {age:.0f} s: the data shown may be stale.",
                "warn")
    if not status.get("broker_connected"):
        error = status.get("broker_error") or "connecting"
        message = (f"Broker {status.get('broker')} unreachable ({error}). Retrying; the history "
                   "already collected is kept.")
        return message, "error"
    parts = [f"Connected to {status.get('broker')}", f"{status.get('events', 0):,} events"]
    leads = leader_text(status, now, tz)
    if leads is not None:
        parts.append(leads)
    warnings = warnings_of(status)
    if status.get("collectors") and not status.get("leading"):
        warnings.insert(0, "no collector leads: a standby takes over within seconds")
    return " · ".join(parts + warnings), "warn" if warnings else "ok"


def leader_text(status: Mapping[str, Any], now: float, tz: ZoneInfo) -> str | None:
    """Which collector writes and since when, and how many stand by (a shared store only:
    a SQLite store's one collector goes without saying)."""
    collectors = status.get("collectors")
    if not collectors or not status.get("leading"):
        return None
    since = status.get("leader_since")
    when = f" since {clock_time(since, now, tz)}" if since else ""
    text = f"collector {status.get('host')} ({status.get('collector')}) leads{when}"
    standby = sum(1 for entry in collectors if entry.get("live") and not entry.get("leading"))
    return f"{text}, {standby} standby" if standby else text


def warnings_of(status: Mapping[str, Any]) -> list[str]:
    """What the collector got past without stopping: bad events, a spool filling up."""
    found = []
    if status.get("malformed"):
        found.append(f"{status['malformed']:,} malformed events skipped "
                     f"(last: {status.get('last_malformed')})")
    if status.get("quarantined"):
        found.append(f"{status['quarantined']:,} events quarantined "
                     f"(last: {status.get('last_quarantined')})")
    spool = spool_text(status)
    if spool:
        found.append(spool)
    return found


@callback(Output(BANNER, "children"), Output(BANNER, "className"), Input(INTERVAL, "n_intervals"),
          Input(BROWSER_TZ, "data"))
def _refresh_banner(_, tz_name):
    services = current()
    recheck(services.store.engine, services.reads)
    now = time.time()
    status = with_reads(services.cache.collector_status(), services.reads, now)
    message, level = describe_status(status, now, zone(tz_name))
    if status and status.get("quarantined"):
        prefix = get_app().config.requests_pathname_prefix
        message = [message, " · ", dcc.Link("see the quarantine", href=f"{prefix}quarantine")]
    return message, f"banner banner-{level}"
