"""What the /audit page shows, as plain functions: its filter as query parameters (the
same ones /api/audit and the CSV take), and records flattened into grid rows (all text)."""
from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlencode

from ..formatting import newest_of

WINDOWS = {"1h": "1h", "24h": "24h", "7d": "7d", "30d": "30d", "all": None}
DEFAULT_WINDOW = "7d"
SHOWN = 500  # newest records drawn in the grid; the CSV holds every match
NAMED_TARGETS = 5  # targets named in a cell; the rest are counted

OUTCOME_TONES = {"ok": "good", "refused": "warn", "error": "bad", "dry-run": "info"}


def filter_params(users: Sequence[str] | None, actions: Sequence[str] | None,
                  outcomes: Sequence[str] | None, window: str | None) -> dict[str, list[str]]:
    """The page's pickers as the API's query parameters (an empty picker filters nothing)."""
    params: dict[str, list[str]] = {}
    for key, values in (("user", users), ("action", actions), ("outcome", outcomes)):
        chosen = [str(value) for value in values or () if str(value).strip()]
        if chosen:
            params[key] = chosen
    since = WINDOWS.get(window or DEFAULT_WINDOW, WINDOWS[DEFAULT_WINDOW])
    if since:
        params["since"] = [since]
    return params


def query_string(params: dict[str, list[str]]) -> str:
    return urlencode(params, doseq=True)


def _targets(targets: Sequence[str]) -> str:
    named = ", ".join(str(target) for target in targets[:NAMED_TARGETS])
    more = len(targets) - NAMED_TARGETS
    return f"{named} and {more:,} more" if more > 0 else named


def _scope(entry: dict[str, Any]) -> str:
    """What a bulk action covered: its filter and count; a single action: its targets."""
    parts = []
    if entry.get("filter"):
        parts.append(f"filter {entry['filter']}")
    if entry.get("count") is not None:
        parts.append(f"{entry['count']:,} matched")
    return "; ".join(parts)


def grid_rows(entries: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per record, every cell text except the time (epoch seconds, formatted by the
    browser in its zone) and the id."""
    return [{
        "id": entry["id"], "at": entry["at"], "user": str(entry["user"]),
        "role": str(entry["role"]), "action": str(entry["action"]),
        "targets": _targets(entry["targets"]), "scope": _scope(entry),
        "params": json.dumps(entry["params"], sort_keys=True) if entry["params"] else "",
        "outcome": str(entry["outcome"]), "detail": str(entry["detail"]),
    } for entry in entries]


def summary(shown: int, total: int) -> str:
    return newest_of(shown, total, "record")
