"""A row of controls above a grid or chart; groups are set apart by a thin rule."""
from __future__ import annotations

from typing import Any

from dash import html


def toolbar(*children, id: str | None = None, className: str = "") -> html.Div:
    extra: dict[str, Any] = {"id": id} if id else {}
    return html.Div(list(children), className=f"toolbar {className}".strip(), **extra)


def toolbar_group(*children, label: str | None = None, className: str = "") -> html.Div:
    """Controls that belong together (e.g. an input and the button that applies it)."""
    head = [html.Span(label, className="group-label")] if label else []
    return html.Div([*head, *children], className=f"group {className}".strip())
