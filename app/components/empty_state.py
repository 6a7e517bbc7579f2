"""What a page shows where there is nothing yet: what is missing, and how to get it."""
from __future__ import annotations

from typing import Any

from dash import html


def empty_state(title: str, hint=None, *, id: str | None = None) -> html.Div:
    children: list[Any] = [html.P(title, className="empty-title")]
    if hint is not None:
        children.append(html.P(hint, className="empty-hint"))
    extra: dict[str, Any] = {"id": id} if id else {}
    return html.Div(children, className="empty-state", role="status", **extra)
