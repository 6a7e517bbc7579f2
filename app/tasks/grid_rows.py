"""The task grid's row requests, checked and bounded before they become SQL.

dash-ag-grid's infinite row model asks the server for rows [startRow, endRow) in a JSON
body anyone can write. Each bound becomes an OFFSET or a LIMIT: a negative one would be
SQLite's "no limit" (every row in one answer), a huge one an error in the driver. So both
are whole numbers, the start within reach, and one answer holds at most the configured
number of rows (`--max-grid-rows`). The header's sort names one of the sortable columns.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .filters import SORTABLE

MAX_START = 2**53 - 1  # the largest whole number a browser sends exactly
DEFAULT_ROWS = 100  # rows asked for when a request names no end


class GridRequestError(ValueError):
    """A row request that cannot be answered; the message says which value and why."""


@dataclass(frozen=True)
class RowWindow:
    start: int  # the first row's position in the sorted, filtered list
    end: int  # one past the last row; end - start never exceeds the cap

    @property
    def size(self) -> int:
        return self.end - self.start


def row_window(request: Any, max_rows: int) -> RowWindow:
    """The rows a grid request asks for, with at most `max_rows` of them."""
    if not isinstance(request, Mapping):
        raise GridRequestError("the row request must be an object")
    start = _whole(request, "startRow", 0)
    end = _whole(request, "endRow", start + DEFAULT_ROWS)
    if start > MAX_START:
        raise GridRequestError(f"startRow must be at most {MAX_START}")
    if end < start:
        raise GridRequestError("endRow must not be below startRow")
    return RowWindow(start, min(end, start + max_rows))


def _whole(request: Mapping, key: str, default: int) -> int:
    value = request.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise GridRequestError(f"{key} must be a whole number, not {type(value).__name__}")
    if value < 0:
        raise GridRequestError(f"{key} must not be negative")
    return value


def header_sort(request: Mapping) -> str | None:
    """The sort the grid's header asks for ("-received", "name"...), or None for the
    filter's own: the first sortable column of the sort model."""
    model = request.get("sortModel") or []
    if not isinstance(model, list) or not all(isinstance(item, Mapping) for item in model):
        raise GridRequestError("sortModel must be a list of objects")
    for item in model:
        column = item.get("colId")
        if isinstance(column, str) and column in SORTABLE:
            return ("-" if item.get("sort") == "desc" else "") + column
    return None
