"""celery-scope: a dashboard to monitor and administer Celery clusters.

`create_app(settings)` is the one factory; nothing runs at import time.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .config import Settings
from .services import Services

if TYPE_CHECKING:  # the collector imports this package too, and needs no Dash
    import dash

_PACKAGE = Path(__file__).parent


def assets_dir() -> Path:
    """`assets/` sits next to the package in a checkout, inside it in an installed wheel."""
    installed = _PACKAGE / "assets"
    return installed if installed.is_dir() else _PACKAGE.parent / "assets"


def insecure_banner(settings: Settings) -> list:
    """A red line on every page while the dashboard is open beyond loopback."""
    from dash import html
    if not (settings.insecure_no_auth and settings.listens_beyond_loopback
            and not settings.auth_configured):
        return []
    return [html.P(f"celery-scope listens on {settings.address} without authentication "
                   "(--insecure-no-auth): anyone who can reach it can watch and control your "
                   "workers.", className="banner banner-error", id="insecure-banner")]


def create_app(settings: Settings, services: Services | None = None) -> dash.Dash:
    """Build the Dash app (its Flask server is `.server`) reading the store and cache."""
    import dash
    from dash import html

    from .components.navbar import make_navbar
    from .components.status_banner import make_status_banner

    services = services or Services.open(settings)
    app = dash.Dash(
        __name__,
        use_pages=True,
        pages_folder=str(_PACKAGE / "pages"),
        assets_folder=str(assets_dir()),
        url_base_pathname=settings.pathname_prefix,
        title="celery-scope",
        update_title=None,
        suppress_callback_exceptions=True,
    )
    services.install(app.server)
    from .auth import current_user, install
    from .credentials import TokenStore
    install(app, settings, TokenStore(services.store.engine))

    def shell():  # per request: the navbar names who is signed in
        navbar = make_navbar(dash.page_registry.values(), settings.refresh_interval,
                             current_user(), settings.pathname_prefix)
        return html.Div([navbar, *insecure_banner(settings), make_status_banner(),
                         html.Main(dash.page_container)], className="shell")

    app.layout = shell

    from .api import api
    app.server.register_blueprint(api, url_prefix=settings.pathname_prefix.rstrip("/") or None)

    @app.server.route(settings.pathname_prefix + "healthcheck")
    def healthcheck():
        return "OK"

    from .metrics import register_metrics
    register_metrics(app.server, settings.pathname_prefix + "metrics", services)

    return app
