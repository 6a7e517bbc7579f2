"""`/login`: sign in with a configured user. The form posts to /auth/login (a plain form
post, so the session cookie is set by an ordinary response); failures come back here."""
from __future__ import annotations

import dash
from dash import dcc, html

from ..auth import current_user, login_message

dash.register_page(__name__, path="/login", name="Sign in", title="Sign in · celery-scope",
                   hidden_from_nav=True)

def layout(error: str | None = None, wait: str | None = None, **query):
    prefix = dash.get_app().config.requests_pathname_prefix
    user = current_user()
    if user and user.via == "open":
        return html.Div(html.P("No users are configured: everyone on this machine may use "
                               "celery-scope. Configure --users-file or --basic-auth to "
                               "require signing in.", className="empty-state"), className="page")
    problem = login_message(error, wait)
    return html.Div([
        html.H2("Sign in"),
        html.Form([
            html.Label("User", htmlFor="login-username", className="field-label"),
            dcc.Input(id="login-username", name="username", type="text", required=True,
                      autoComplete="username", className="input"),
            html.Label("Password", htmlFor="login-password", className="field-label"),
            dcc.Input(id="login-password", name="password", type="password", required=True,
                      autoComplete="current-password", className="input"),
            dcc.Input(id="login-next", name="next", type="hidden", value=query.get("next") or prefix),
            html.Button("Sign in", id="login-submit", type="submit", className="button primary"),
        ], method="post", action=f"{prefix}auth/login", className="login-form"),
        html.P(problem, id="login-problem", role="alert", className="banner banner-error",
               hidden=not problem),
    ], className="page login-page")
