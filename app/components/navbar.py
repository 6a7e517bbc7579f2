"""The top bar: product name, one link per registered page (the current one marked), the
live indicator and refresh controls, the theme toggle, the API reference, and who is
signed in."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from dash import ALL, Input, Output, State, callback, dcc, html

from .refresh import make_refresh_controls

PAGES_LOCATION = "_pages_location"  # the Location component Dash pages keep the path in
NAV_LINK = "nav-link"
THEME_TOGGLE = "theme-toggle"
_THEME_LABEL: dict[str, Any] = {"aria-label": "Switch between light and dark"}


def make_navbar(pages: Iterable[Mapping], refresh_seconds: float, user=None,
                prefix: str = "/") -> html.Nav:
    links = [dcc.Link(page["name"], href=page["relative_path"], className="nav-link",
                      id={"type": NAV_LINK, "path": page["path"]})
             for page in pages if not page.get("hidden_from_nav")]
    return html.Nav(
        [html.A("celery-scope", href=prefix, className="brand"),
         html.Div(links, className="nav-links"),
         html.Div([*make_refresh_controls(refresh_seconds),
                   html.A("API", href=f"{prefix}api/docs", className="nav-link nav-api",
                          title="The HTTP API's reference"),
                   html.Button("◐", id=THEME_TOGGLE, className="button theme-toggle",
                               title="Light or dark (kept in this browser)",
                               **_THEME_LABEL),
                   *account_menu(user, prefix)],
                  className="nav-controls")],
        className="navbar",
    )


def current_section(pathname: str | None, prefix: str, page_paths: list[str]) -> str | None:
    """Which navbar page a path belongs to: its own, or for a worker's or a task's page the
    list it was opened from (workers are listed on the dashboard, tasks on /tasks)."""
    path = "/" + (pathname or "/")[len(prefix.rstrip("/")):].lstrip("/")
    if path.startswith("/workers/"):
        path = "/"
    elif path.startswith("/tasks/"):
        path = "/tasks"
    path = path.rstrip("/") or "/"
    return path if path in page_paths else None


def account_menu(user, prefix: str) -> list:
    """Who is signed in, and the way out (a POST, so no link can sign anyone out)."""
    if user is None or user.via != "session":
        return []
    return [html.Form([html.Span(f"{user.name} · {user.role}", className="account"),
                       html.Button("Sign out", type="submit", className="button")],
                      method="post", action=f"{prefix}auth/logout", className="account-menu")]


@callback(
    Output({"type": NAV_LINK, "path": ALL}, "className"),
    Input(PAGES_LOCATION, "pathname"),
    State({"type": NAV_LINK, "path": ALL}, "id"),
)
def mark_current_page(pathname, link_ids):
    from dash import get_app
    prefix = get_app().config.url_base_pathname or "/"
    paths = [link["path"] for link in link_ids]
    current = current_section(pathname, prefix, paths)
    return ["nav-link current" if path == current else "nav-link" for path in paths]
