"""The header every page starts with: a title, status pills and facts beside it, and the
page's own actions on the right."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dash import html


def page_header(title, *, pills: Sequence = (), meta: Sequence = (), actions: Sequence = (),
                title_id: str | None = None, subtitle=None) -> html.Header:
    """`title` and everything shown in it is rendered as text (names come from the cluster)."""
    named: dict[str, Any] = {"id": title_id} if title_id else {}
    heading = html.H1(title, className="title", **named)
    children: list[Any] = [html.Div([heading, *pills], className="page-title"),
                html.Div(list(meta), className="meta"),
                html.Div(list(actions), className="page-actions")]
    if subtitle is not None:
        children.append(html.P(subtitle, className="page-subtitle"))
    return html.Header(children, className="page-header")
