"""The queue depth chart: messages ready per queue over time, one line each."""
from __future__ import annotations

from zoneinfo import ZoneInfo

import pandas as pd
import plotly.graph_objects as go

from ..series_frames import local_times
from .explore_charts import text

_LAYOUT = {"margin": {"l": 50, "r": 30, "t": 30, "b": 30}, "height": 300,
           "template": "plotly_white", "legend": {"orientation": "h", "y": -0.25},
           "hovermode": "x unified", "showlegend": True}


def queue_depth_figure(frame: pd.DataFrame, title: str, empty_text: str,
                       since: float, until: float, tz: ZoneInfo) -> go.Figure:
    """`frame` has queue, timestamp and messages columns; unknown depths break the line.
    The time axis spans the whole window (epoch seconds), however few the samples."""
    figure = go.Figure(layout=_LAYOUT)
    figure.update_layout(title={"text": title, "font": {"size": 13}},
                         yaxis={"title": "messages ready", "rangemode": "tozero"},
                         xaxis={"title": f"time ({tz.key})",
                                "range": local_times([since, until], tz)})
    if frame.empty:
        figure.add_annotation(text=empty_text, showarrow=False, xref="paper", yref="paper",
                              x=0.5, y=0.5)
        return figure
    for queue, samples in frame.groupby("queue", sort=True):
        # plain lists: no typed-array encoding in the page's JSON; None leaves a gap
        messages = [None if pd.isna(value) else int(value) for value in samples["messages"]]
        figure.add_scatter(x=local_times(samples["timestamp"], tz), y=messages, name=text(queue),
                           mode="lines+markers", marker={"size": 4}, connectgaps=False)
    return figure
