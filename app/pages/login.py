"""`/login`: sign in with a configured user or through the OAuth provider. The form posts
to /auth/login (a plain form post, so the session cookie is set by an ordinary response);
the provider's button is a link to /auth/oauth/start; failures come back here."""
from __future__ import annotations

from urllib.parse import urlencode

import dash
from dash import dcc, html

from ..auth.sign_in import login_message
from ..auth.users import current_user
from ..services import current

dash.register_page(__name__, path="/login", name="Sign in", title="Sign in · celery-scope",
                   hidden_from_nav=True)

def layout(error: str | None = None, wait: str | None = None, **query):
    prefix = dash.get_app().config.requests_pathname_prefix
    user = current_user()
    if user and user.via == "open":
        return html.Div(html.P("No users are configured: everyone on this machine may use "
                               "celery-scope. Configure --users-file, --basic-auth or "
                               "--oauth2-provider to require signing in.",
                               className="empty-state"), className="page")
    problem = login_message(error, wait)
    settings = current().settings
    target = query.get("next") or prefix
    return html.Div([
        html.H2("Sign in"),
        *provider_button(settings.oauth2_provider, prefix, target),
        *([password_form(prefix, target)] if settings.users_file or settings.basic_auth else []),
        html.P(problem, id="login-problem", role="alert", className="banner banner-error",
               hidden=not problem),
    ], className="page login-page")


def provider_button(provider: str | None, prefix: str, target: str) -> list:
    """A plain link: the start route redirects to the provider with a fresh state."""
    if not provider:
        return []
    from ..auth.oauth import LABELS
    return [html.A(f"Sign in with {LABELS[provider]}", id="login-oauth",
                   href=f"{prefix}auth/oauth/start?{urlencode({'next': target})}",
                   className="button primary")]


def password_form(prefix: str, target: str) -> html.Form:
    return html.Form([
        html.Label("User", htmlFor="login-username", className="field-label"),
        dcc.Input(id="login-username", name="username", type="text", required=True,
                  autoComplete="username", className="input"),
        html.Label("Password", htmlFor="login-password", className="field-label"),
        dcc.Input(id="login-password", name="password", type="password", required=True,
                  autoComplete="current-password", className="input"),
        dcc.Input(id="login-next", name="next", type="hidden", value=target),
        html.Button("Sign in", id="login-submit", type="submit", className="button primary"),
    ], method="post", action=f"{prefix}auth/login", className="login-form")
