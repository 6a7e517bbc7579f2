"""Small Plotly figures for the dashboard and the worker page, drawn in the browser's zone."""
from __future__ import annotations

from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from ..series.build import Throughput
from ..series.frames import local_times
from .chart_style import CHART_LAYOUT

_LAYOUT = {"margin": {"l": 40, "r": 40, "t": 30, "b": 30}, "height": 260,
           **CHART_LAYOUT, "legend": {"orientation": "h", "y": -0.3},
           "hovermode": "x unified"}


def worker_load_figure(samples: pd.DataFrame, tz: ZoneInfo) -> go.Figure:
    """Active tasks (bars) and 1-minute load average (line) of one worker over time; the
    card around it names it."""
    figure = go.Figure(layout=_LAYOUT)
    figure.update_layout(margin={"l": 40, "r": 40, "t": 10, "b": 30},
                         yaxis={"title": "active tasks", "rangemode": "tozero"},
                         yaxis2={"title": "load 1m", "overlaying": "y", "side": "right",
                                     "rangemode": "tozero", "showgrid": False},
                         xaxis={"title": f"time ({tz.key})"})
    if samples.empty:
        figure.add_annotation(text="No samples yet: they are taken from heartbeats every 10 s.",
                              showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)
        return figure
    times = local_times(samples["timestamp"], tz)
    figure.add_bar(x=times, y=samples["active"], name="active tasks",
                   marker_color="#2f6fdd", opacity=0.6)
    figure.add_scatter(x=times, y=samples["load1"], name="load 1m", yaxis="y2",
                       mode="lines+markers", line={"color": "#c62f2f"})
    return figure


def throughput_figure(throughput: Throughput, title: str, tz: ZoneInfo) -> dict[str, Any]:
    """Succeeded and failed tasks per bucket, stacked. A plain figure dict: building a
    Plotly Figure validates every property and copies its template (about 25 ms), which a
    chart redrawn on every refresh of every open tab cannot afford."""
    times = local_times(throughput.starts, tz)
    layout = {**_LAYOUT, "template": _template(), "title": {"text": title, "font": {"size": 13}},
              "barmode": "stack", "height": 220,
              "yaxis": {"title": {"text": "tasks"}, "rangemode": "tozero"},
              "xaxis": {"title": {"text": f"time ({tz.key})"}}}
    return {"data": [
        {"type": "bar", "x": times, "y": throughput.succeeded, "name": "succeeded",
         "marker": {"color": "#1f8a4c"}},
        {"type": "bar", "x": times, "y": throughput.failed, "name": "failed",
         "marker": {"color": "#c62f2f"}}], "layout": layout}


@cache
def _template() -> dict[str, Any]:
    """The named template of CHART_LAYOUT as the browser needs it, resolved once."""
    return pio.templates[CHART_LAYOUT["template"]].to_plotly_json()
