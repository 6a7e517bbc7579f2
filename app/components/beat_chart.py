"""The strip chart of one periodic task: when it should have fired (Celery's schedule) on
one line, when it ran on the other, the expected times no run took marked as missed."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import plotly.graph_objects as go

from .chart_style import CHART_LAYOUT

EXPECTED, ACTUAL = "expected", "ran"


def _local(moments: Sequence[float], zone: ZoneInfo) -> list[datetime]:
    """Epoch seconds as wall-clock times in `zone` (Plotly's axes know no zones)."""
    return [datetime.fromtimestamp(moment, timezone.utc).astimezone(zone).replace(tzinfo=None)
            for moment in moments]


def strip_chart(expected: Sequence[float], actual: Sequence[float], missed: Sequence[float],
                since: float, until: float, zone: ZoneInfo) -> go.Figure:
    missed_set = set(missed)
    kept = [moment for moment in expected if moment not in missed_set]
    traces = [
        go.Scatter(x=_local(kept, zone), y=[EXPECTED] * len(kept), mode="markers",
                   name="expected", marker={"symbol": "line-ns-open", "size": 14,
                                            "color": "#6b7280"},
                   hovertemplate="due %{x}<extra></extra>"),
        go.Scatter(x=_local(missed, zone), y=[EXPECTED] * len(missed), mode="markers",
                   name="missed", marker={"symbol": "x", "size": 10, "color": "#dc2626"},
                   hovertemplate="missed %{x}<extra></extra>"),
        go.Scatter(x=_local(actual, zone), y=[ACTUAL] * len(actual), mode="markers",
                   name="ran", marker={"symbol": "circle", "size": 8, "color": "#16a34a"},
                   hovertemplate="ran %{x}<extra></extra>"),
    ]
    figure = go.Figure(traces)
    start, end = _local([since, until], zone)
    figure.update_layout(**CHART_LAYOUT, height=180, margin={"l": 70, "r": 20, "t": 10, "b": 40},
                         showlegend=True, legend={"orientation": "h", "y": -0.35},
                         xaxis={"range": [start, end], "title": None},
                         yaxis={"categoryorder": "array", "categoryarray": [ACTUAL, EXPECTED],
                                "type": "category", "fixedrange": True})
    return figure
