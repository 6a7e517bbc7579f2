"""Plotly figures built from small frames. Times are UTC on the axis (labelled so)."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

_LAYOUT = {"margin": {"l": 40, "r": 40, "t": 30, "b": 30}, "height": 260, "template": "plotly_white",
               "legend": {"orientation": "h", "y": -0.3}, "hovermode": "x unified"}


def worker_load_figure(samples: pd.DataFrame, title: str) -> go.Figure:
    """Active tasks (bars) and 1-minute load average (line) of one worker over time."""
    figure = go.Figure(layout=_LAYOUT)
    figure.update_layout(title={"text": title, "font": {"size": 13}},
                         yaxis={"title": "active tasks", "rangemode": "tozero"},
                         yaxis2={"title": "load 1m", "overlaying": "y", "side": "right",
                                     "rangemode": "tozero", "showgrid": False},
                         xaxis={"title": "time (UTC)"})
    if samples.empty:
        figure.add_annotation(text="No samples yet: they are taken from heartbeats every 10 s.",
                              showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)
        return figure
    figure.add_bar(x=samples["time"], y=samples["active"], name="active tasks",
                   marker_color="#2f6fdd", opacity=0.6)
    figure.add_scatter(x=samples["time"], y=samples["load1"], name="load 1m", yaxis="y2",
                       mode="lines+markers", line={"color": "#c62f2f"})
    return figure


def throughput_figure(frame: pd.DataFrame, title: str) -> go.Figure:
    """Succeeded and failed tasks per bucket, stacked."""
    figure = go.Figure(layout=_LAYOUT)
    figure.update_layout(title={"text": title, "font": {"size": 13}}, barmode="stack",
                         height=220, yaxis={"title": "tasks", "rangemode": "tozero"},
                         xaxis={"title": "time (UTC)"})
    times = frame["time"].tolist()  # plain lists: no typed-array encoding in the page's JSON
    figure.add_bar(x=times, y=frame["succeeded"].tolist(), name="succeeded",
                   marker_color="#1f8a4c")
    figure.add_bar(x=times, y=frame["failed"].tolist(), name="failed", marker_color="#c62f2f")
    return figure
