"""The queue charts: messages ready, or the oldest message's wait, per queue over time, one
line each."""
from __future__ import annotations

from zoneinfo import ZoneInfo

import pandas as pd
import plotly.graph_objects as go

from ..series.frames import local_times
from .chart_style import CHART_LAYOUT
from .explore_charts import text

# the legend above the plot, so the time axis and its title keep the room below
_LAYOUT = {"margin": {"l": 60, "r": 30, "t": 60, "b": 50}, "height": 320,
           **CHART_LAYOUT, "hovermode": "x unified", "showlegend": True,
           "legend": {"orientation": "h", "x": 1, "xanchor": "right", "y": 1.02,
                      "yanchor": "bottom"}}


AXIS_TITLES = {"messages": "messages ready", "latency_seconds": "oldest message's wait (s)"}


def queue_figure(frame: pd.DataFrame, column: str, title: str, empty_text: str,
                 since: float, until: float, tz: ZoneInfo) -> go.Figure:
    """`frame` has queue, timestamp and the `column` charted (messages, latency_seconds);
    unknown values break the line. The time axis spans the whole window (epoch seconds),
    however few the samples, in the browser's zone (the page says which)."""
    figure = go.Figure(layout=_LAYOUT)
    figure.update_layout(title={"text": title, "font": {"size": 13}, "x": 0, "xref": "paper"},
                         yaxis={"title": AXIS_TITLES[column], "rangemode": "tozero"},
                         xaxis={"title": "time", "automargin": True,
                                "range": local_times([since, until], tz)})
    if frame.empty:
        figure.add_annotation(text=empty_text, showarrow=False, xref="paper", yref="paper",
                              x=0.5, y=0.5)
        return figure
    for queue, samples in frame.groupby("queue", sort=True):
        # plain lists: no typed-array encoding in the page's JSON; None leaves a gap
        values = [None if pd.isna(value) else (int(value) if column == "messages" else
                                               round(float(value), 3))
                  for value in samples[column]]
        figure.add_scatter(x=local_times(samples["timestamp"], tz), y=values, name=text(queue),
                           mode="lines+markers", marker={"size": 4}, connectgaps=False)
    return figure
