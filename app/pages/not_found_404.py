"""What any unknown path draws, inside the shell (the server answers it with status 404):
which path was not found, and the ways back. Dash finds this page by its module name."""
from __future__ import annotations

import dash
from dash import Input, Output, callback, dcc, html

from ..components.empty_state import empty_state
from ..components.navbar import PAGES_LOCATION

dash.register_page(__name__, path="/404", name="Not found", title="Not found · celery-scope",
                   hidden_from_nav=True)

BODY = "not-found"


def layout(**_query):
    return html.Div([html.H1("Page not found", className="title"), html.Div(id=BODY)],
                    className="page not-found")


@callback(Output(BODY, "children"), Input(PAGES_LOCATION, "pathname"))
def _name_the_path(pathname):
    """The path as the browser asked for it (shown as text), and the ways back."""
    prefix = dash.get_app().config.requests_pathname_prefix
    hint = html.Span(["Nothing is served at this address. Go to the ",
                      dcc.Link("Dashboard", href=prefix), " or the ",
                      dcc.Link("Tasks", href=f"{prefix}tasks"), "."])
    return empty_state(f"No page at {pathname or '/'}", hint, id="not-found-path")
