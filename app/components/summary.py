"""Headline number cards."""
from __future__ import annotations

from collections.abc import Mapping

from dash import html

_CARDS = (
    ("workers_online", "Workers online", ""),
    ("workers_offline", "Workers offline", "muted"),
    ("tasks_active", "Tasks active", ""),
    ("succeeded_recent", "Succeeded, last 5 min", "good"),
    ("failed_recent", "Failed, last 5 min", "bad"),
)


def make_summary_cards(summary: Mapping[str, int]) -> list[html.Div]:
    return [
        html.Div([html.Div(f"{summary.get(key, 0):,}", className="card-value"),
                  html.Div(label, className="card-label")],
                 className=f"card {tone}".strip(), id=f"summary-{key}")
        for key, label, tone in _CARDS
    ]
