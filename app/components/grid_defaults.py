"""Defaults every AG Grid on the pages shares, so tables look and behave alike: the theme
class, full header names (wrapped, never cut), a height that follows the rows."""
from __future__ import annotations

from typing import Any

GRID_CLASS = "ag-theme-alpine scope-grid"

# Headers wrap rather than truncate, and size to their text.
DEFAULT_COL_DEF: dict[str, Any] = {"resizable": True, "wrapHeaderText": True,
                                   "autoHeaderHeight": True, "suppressHeaderMenuButton": True}


# Epoch seconds shown to the second in the browser's zone; empty for none.
SECONDS_TIME = {"function": "params.value == null ? '' : "
                            "d3.timeFormat('%Y-%m-%d %H:%M:%S')(params.value * 1000)"}


def col_def(**overrides) -> dict[str, Any]:
    return {**DEFAULT_COL_DEF, **overrides}


def auto_height_options(**overrides) -> dict[str, Any]:
    """A grid as tall as its rows; the page shows its own empty state instead of AG Grid's."""
    return {"domLayout": "autoHeight", "suppressNoRowsOverlay": True, "animateRows": False,
            **overrides}
