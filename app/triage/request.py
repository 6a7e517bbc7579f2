"""What an issues request asks for, parsed from a query string (the page's URL, the API).

The task grid's filters (tasks/filters.py), with two differences: the window applies to
when each failure happened (its failure, else its retry), so `time_field` and `sort` have no
meaning here and are refused; and it defaults to the last 24 hours (`range=all`: the whole
history). `limit` caps the groups answered (newest first).
"""
from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..query_string import FilterError, one_value
from ..tasks.filters import TaskFilter, parse_filter

DEFAULT_RANGE = "24h"
DEFAULT_LIMIT, MAX_LIMIT = 50, 500  # groups
SPARK_BUCKETS = 24  # bars in each group's sparkline


@dataclass(frozen=True)
class IssueRequest:
    task_filter: TaskFilter  # its window is the failures' window
    limit: int = DEFAULT_LIMIT

    def window(self, now: float) -> tuple[float | None, float | None]:
        return self.task_filter.window(now)

    @property
    def range(self) -> str:
        """The quick range chosen ('all' for the whole history, 'custom' for since/until)."""
        chosen = self.task_filter
        return chosen.range or ("custom" if chosen.since or chosen.until else "all")


def _limit(text: str | None) -> int:
    if text is None:
        return DEFAULT_LIMIT
    try:
        value = int(text)
    except ValueError:
        raise FilterError(f"limit: {text!r} is not a whole number") from None
    if not 1 <= value <= MAX_LIMIT:
        raise FilterError(f"limit: between 1 and {MAX_LIMIT}")
    return value


def parse_request(params: Mapping[str, Any], now: float | None = None,
                  strict: bool = True) -> IssueRequest:
    """Raise FilterError on the first parameter that makes no sense (the API's 400)."""
    params = dict(params)
    limit = _limit(one_value(params, "limit"))
    params.pop("limit", None)
    for key in ("time_field", "sort"):
        if strict and one_value(params, key):
            raise FilterError(f"{key}: issues are windowed and sorted by when they failed")
        params.pop(key, None)
    quick = one_value(params, "range")
    if quick == "all":
        params.pop("range")
    elif not (quick or one_value(params, "since") or one_value(params, "until")):
        params["range"] = DEFAULT_RANGE
    return IssueRequest(parse_filter(params, now or time.time(), strict=strict), limit)
