"""The top bar: product name, one link per registered page, the refresh controls, and who
is signed in."""
from __future__ import annotations

from collections.abc import Iterable, Mapping

from dash import dcc, html

from .refresh import make_refresh_controls


def make_navbar(pages: Iterable[Mapping], refresh_seconds: float, user=None,
                prefix: str = "/") -> html.Nav:
    links = [dcc.Link(page["name"], href=page["relative_path"], className="nav-link")
             for page in pages if not page.get("hidden_from_nav")]
    return html.Nav(
        [html.Span("celery-scope", className="brand"), html.Div(links, className="nav-links"),
         html.Div([*make_refresh_controls(refresh_seconds), *account_menu(user, prefix)],
                  className="nav-controls")],
        className="navbar",
    )


def account_menu(user, prefix: str) -> list:
    """Who is signed in, and the way out (a POST, so no link can sign anyone out)."""
    if user is None or user.via != "session":
        return []
    return [html.Form([html.Span(f"{user.name} · {user.role}", className="account"),
                       html.Button("Sign out", type="submit", className="button")],
                      method="post", action=f"{prefix}auth/logout", className="account-menu")]
