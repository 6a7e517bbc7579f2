"""Query-string parameters read one way by every page and API route: a value or a list of
them, a time, a duration. Pure; each reader (task filters, series, the audit trail, alerts,
beat, issues) builds its own request from these and raises FilterError on a bad one.
"""
from __future__ import annotations

import re
import time
from collections.abc import Mapping
from datetime import datetime, timezone, tzinfo
from typing import Any

DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# Epoch seconds of 0001-01-01 and 9999-12-31T23:59:59 UTC: the times a datetime can show.
EARLIEST, LATEST = -62135596800.0, 253402300799.0
MAX_DURATION = 1000 * 365.25 * 86400  # seconds: a range reaching further back is a typo


class FilterError(ValueError):
    """A query parameter that makes no sense; the message names it and says why."""


def parse_duration(text: str) -> float:
    match = DURATION.match(text.strip().lower())
    if not match:
        raise FilterError(f"range: {text!r} is not a duration such as 15m, 1h, 24h or 7d")
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds > MAX_DURATION:
        raise FilterError(f"range: {text!r} reaches back more than 1000 years")
    return seconds


def parse_time(name: str, text: str, now: float | None = None) -> float:
    """Epoch seconds, ISO-8601 (UTC unless it says otherwise), or for `since` a duration ago;
    always a time a datetime can hold (NaN, infinities and year 10000 are refused)."""
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        if name == "since" and DURATION.match(text.lower()):
            return (now or time.time()) - parse_duration(text)
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise FilterError(
                f"{name}: {text!r} is neither epoch seconds nor an ISO-8601 time") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        value = moment.timestamp()
    if not EARLIEST <= value <= LATEST:  # NaN compares false too
        raise FilterError(f"{name}: {text!r} is not a time between the years 1 and 9999")
    return value


def wall_clock_time(text: str, zone: tzinfo) -> datetime | None:
    """A time typed without an offset ('2026-03-29 08:00'), read in `zone`; None for
    anything else (epoch seconds, an explicit offset, a duration, no time at all), which
    the parsers read as they are. The one rule for every From/To box."""
    try:
        float(text)
        return None
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else None


def list_values(params: Mapping[str, Any], key: str) -> list[str]:
    raw = params.get(key)
    if raw is None:
        return []
    items = raw if isinstance(raw, (list, tuple)) else [raw]
    return [part.strip() for item in items for part in str(item).split(",") if part.strip()]


def one_value(params: Mapping[str, Any], key: str) -> str | None:
    raw = params.get(key)
    if isinstance(raw, (list, tuple)):
        raw = raw[-1] if raw else None
    text = None if raw is None else str(raw).strip()
    return text or None
