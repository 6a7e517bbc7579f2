"""`/login`: sign in with a configured user. The form posts to /auth/login (a plain form
post, so the session cookie is set by an ordinary response); failures come back here."""
from __future__ import annotations

import dash
from dash import dcc, html

from ..auth import current_user

dash.register_page(__name__, path="/login", name="Sign in", title="Sign in · celery-scope",
                   hidden_from_nav=True)

# Only these fixed messages are shown: nothing from the URL is echoed into the page.
MESSAGES = {
    "invalid": "Wrong user name or password.",
    "throttled": "Too many failed attempts: wait {wait} s and try again.",
}


def message_for(error: str | None, wait: str | None) -> str:
    text = MESSAGES.get(error or "", "")
    seconds = int(wait) if (wait or "").isdigit() else 0
    return text.format(wait=seconds)


def layout(error: str | None = None, wait: str | None = None, **query):
    prefix = dash.get_app().config.requests_pathname_prefix
    user = current_user()
    if user and user.via == "open":
        return html.Div(html.P("No users are configured: everyone on this machine may use "
                               "celery-scope. Configure --users-file or --basic-auth to "
                               "require signing in.", className="empty-state"), className="page")
    problem = message_for(error, wait)
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
