"""/explore's figures: the time series (zoomable, with a range slider) and the task name ×
hour-of-day heatmap. Times are drawn in the browser's zone (the page says which, once);
every point carries its bucket's epoch start so a click can say exactly which bucket it was.
"""
from __future__ import annotations

import html
from zoneinfo import ZoneInfo

import pandas as pd
import plotly.graph_objects as go

from ..series.build import Series
from ..series.frames import local_times
from .chart_style import CHART_LAYOUT

PALETTE = ["#2f6fdd", "#1f8a4c", "#c62f2f", "#d08a1a", "#7b4fc9", "#0f8f99", "#b8458f",
           "#5b6b2f", "#8c5a3c", "#3c4f8c", "#8a8a8a"]
_STAT_COLOURS = {"p50": "#1f8a4c", "p95": "#d08a1a", "p99": "#c62f2f", "max": "#7b4fc9"}


def text(value: object) -> str:
    """Plotly reads a little HTML in names and hover text; task and worker names are shown
    as the literal text they are."""
    return html.escape(str(value), quote=False)


def series_figure(series: Series, tz: ZoneInfo, title: str) -> go.Figure:
    frame = series.frame
    figure = go.Figure()
    figure.update_layout(
        # grouped: hover and click pick the one line under the pointer
        **CHART_LAYOUT, height=440,
        hovermode="closest" if series.spec.group else "x unified",
        # the legend sits above the plot, so below it the range slider and the axis title
        # have the room they need
        margin={"l": 60, "r": 20, "t": 60, "b": 50},
        title={"text": text(title), "font": {"size": 14}, "x": 0, "xref": "paper",
               "y": 0.98, "yref": "container", "yanchor": "top"},
        legend={"orientation": "h", "x": 1, "xanchor": "right", "y": 1.02, "yanchor": "bottom"},
        yaxis={"title": series.unit, "rangemode": "tozero"},
        xaxis={"title": {"text": "time", "standoff": 6}, "automargin": True,
               "rangeslider": {"visible": True, "thickness": 0.08},
               "range": local_times([series.start, series.end], tz)},
        uirevision=series.spec.to_query_string(),  # keep the zoom while refreshing the same view
    )
    times = local_times(frame.index, tz)
    epochs = [float(moment) for moment in frame.index]
    many = len(frame) > 120
    for number, column in enumerate(frame.columns):
        colour = _STAT_COLOURS.get(column) if series.spec.group is None else None
        values = [None if pd.isna(value) else float(value) for value in frame[column]]
        figure.add_scatter(
            x=times, y=values, name=text(column),
            customdata=[[epoch, str(column)] for epoch in epochs],
            mode="lines" if many else "lines+markers", connectgaps=False,
            line={"color": colour or PALETTE[number % len(PALETTE)], "width": 1.6,
                  "shape": "hv" if series.spec.definition.kind == "count" else "linear"},
            hovertemplate="%{y:.4~g}" if series.spec.group is None else
            "%{fullData.name}<br>%{x}<br>%{y:.4~g}<extra></extra>",
        )
    if not frame.notna().to_numpy().any() or not frame.fillna(0).to_numpy().any():
        figure.add_annotation(text="Nothing recorded in this window for these filters.",
                              showarrow=False, xref="paper", yref="paper", x=0.5, y=0.6)
    return figure


def heatmap_figure(frame: pd.DataFrame, ratio: bool, tz: ZoneInfo) -> go.Figure:
    figure = go.Figure()
    label = "failure ratio" if ratio else "tasks received"
    figure.update_layout(
        **CHART_LAYOUT, height=max(220, 60 + 24 * len(frame)),
        margin={"l": 220, "r": 20, "t": 40, "b": 40},
        title={"text": f"{label.capitalize()} by task name and local hour of day",
               "font": {"size": 14}},
        xaxis={"title": "hour of day", "dtick": 1, "range": [-0.5, 23.5]},
        yaxis={"autorange": "reversed", "type": "category"},
    )
    if frame.empty:
        figure.add_annotation(text="No tasks in this window.", showarrow=False,
                              xref="paper", yref="paper", x=0.5, y=0.5)
        return figure
    values = [[None if pd.isna(value) else float(value) for value in row]
              for row in frame.to_numpy()]
    figure.add_heatmap(
        z=values, x=list(frame.columns), y=[text(name) for name in frame.index],
        colorscale="Reds" if ratio else "Blues", zmin=0, zmax=1 if ratio else None,
        hovertemplate="%{y}<br>%{x}:00–%{x}:59<br>" + label + ": %{z:.3~g}<extra></extra>",
        colorbar={"title": {"text": label}},
    )
    return figure
