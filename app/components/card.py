"""Cards: a bordered surface for a section, and the headline-number card with a coloured
edge (Flower's summary cards)."""
from __future__ import annotations

from typing import Any

from dash import html

TONES = ("good", "bad", "warn", "info", "muted")


def card(children, *, title=None, id: str | None = None, className: str = "") -> html.Section:
    """A section of a page on its own surface; `title` names it."""
    body = ([html.H2(title, className="card-title")] if title is not None else []) + (
        children if isinstance(children, list) else [children])
    extra: dict[str, Any] = {"id": id} if id else {}
    return html.Section(body, className=f"card {className}".strip(), **extra)


def stat_card(value, label: str, *, tone: str = "info", id: str | None = None,
              href: str | None = None) -> html.Div:
    """One headline number; `tone` colours its edge and value."""
    if tone not in TONES:
        raise ValueError(f"tone must be one of {TONES}")
    content: list[Any] = [html.Div(value, className="stat-value"),
                          html.Div(label, className="stat-label")]
    if href:
        content = [html.A(content, href=href, className="stat-link")]
    extra: dict[str, Any] = {"id": id} if id else {}
    return html.Div(content, className=f"stat-card tone-{tone}", **extra)
