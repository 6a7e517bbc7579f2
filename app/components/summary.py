"""Headline number cards, coloured by what they count; a card that counts trouble is only
coloured when there is some (a red 0 would cry wolf)."""
from __future__ import annotations

from collections.abc import Mapping

from dash import html

from .card import stat_card

# key, label, tone, tone when the number is 0
_CARDS = (
    ("workers_online", "Workers online", "good", "muted"),
    ("workers_offline", "Workers offline", "warn", "muted"),
    ("tasks_active", "Tasks active", "info", "info"),
    ("succeeded_recent", "Succeeded, last 5 min", "good", "muted"),
    ("failed_recent", "Failed, last 5 min", "bad", "muted"),
)


def make_summary_cards(summary: Mapping[str, int]) -> list[html.Div]:
    cards = []
    for key, label, tone, quiet in _CARDS:
        value = summary.get(key, 0)
        cards.append(stat_card(f"{value:,}", label, tone=tone if value else quiet,
                               id=f"summary-{key}"))
    return cards
