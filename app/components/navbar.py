"""The top bar: product name, one link per registered page, the refresh controls."""
from __future__ import annotations

from collections.abc import Iterable, Mapping

from dash import dcc, html

from .refresh import make_refresh_controls


def make_navbar(pages: Iterable[Mapping], refresh_seconds: float) -> html.Nav:
    links = [dcc.Link(page["name"], href=page["relative_path"], className="nav-link")
             for page in pages if not page.get("hidden_from_nav")]
    return html.Nav(
        [html.Span("celery-scope", className="brand"), html.Div(links, className="nav-links"),
         html.Div(make_refresh_controls(refresh_seconds), className="nav-controls")],
        className="navbar",
    )
