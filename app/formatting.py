"""Human-readable values for pages: sizes, durations, times, nested structures. Pure."""
from __future__ import annotations

import json
import math
from datetime import datetime, timezone, tzinfo
from typing import Any

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def human_bytes(count: float | None) -> str:
    if count is None:
        return "–"
    size = float(count)
    for unit in _UNITS:
        if abs(size) < 1024 or unit == _UNITS[-1]:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} {_UNITS[-1]}"


def human_seconds(seconds: float | None) -> str:
    """3.2 s, 4 min 10 s, 2 h 5 min, 3 d 4 h."""
    if seconds is None:
        return "–"
    seconds = float(seconds)
    if not math.isfinite(seconds):
        return f"{seconds} s"
    if seconds < 60:
        return f"{seconds:.3g} s" if seconds < 10 else f"{seconds:.0f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def display_value(value: Any) -> str:
    """Text for any reply value: lists joined, mappings as compact JSON, None as a dash."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(display_value(item) for item in value) or "–"
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def utc_moment(epoch: float) -> datetime | None:
    """The epoch as a UTC datetime; None for what no datetime holds (NaN, infinities, a
    time outside years 1 to 9999), which a bad clock or a forged event can still store."""
    try:
        return datetime.fromtimestamp(epoch, tz=timezone.utc)
    except (OverflowError, ValueError, OSError):
        return None


def moment_text(epoch: float, zone: tzinfo) -> str:
    """Epoch seconds as a wall-clock time in `zone` (the browser's), to the second."""
    moment = utc_moment(epoch)
    return "–" if moment is None else moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


def newest_of(shown: int, total: int, noun: str) -> str:
    """A count line for a page listing the newest entries: all of them, or which part (the
    page's CSV holds every one)."""
    if total == 0:
        return f"no {noun}s"
    if shown < total:
        return f"newest {shown:,} of {total:,} {noun}s (the CSV holds them all)"
    return f"{total:,} {noun}{'s' if total != 1 else ''}"
