"""celery-scope: a dashboard to monitor and administer Celery clusters.

`create_app(settings)` is the one factory; nothing runs at import time.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # importing a pure module of the package pulls in no Flask, Dash or SQL
    import dash

    from .config import Settings
    from .services import Services

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


def callback_error(error: Exception) -> None:
    """Dash's on_error for every callback: one that cannot read the store leaves its outputs
    as they are (an empty answer, not a 500) and the status banner says why."""
    from .services import current
    from .store.outage import STORE_ERRORS, is_unreachable
    if not (isinstance(error, STORE_ERRORS) and is_unreachable(error)):
        raise error
    current().reads.failed(error)


def create_app(settings: Settings, services: Services | None = None) -> dash.Dash:
    """Build the Dash app (its Flask server is `.server`) reading the store and cache."""
    import dash
    from dash import html

    from .components.navbar import make_navbar
    from .components.status_banner import make_status_banner
    from .components.toast import make_toast_region
    from .services import Services

    services = services or Services.open(settings)
    app = dash.Dash(
        __name__,
        use_pages=True,
        pages_folder=str(_PACKAGE / "pages"),
        assets_folder=str(assets_dir()),
        url_base_pathname=settings.pathname_prefix,
        title="celery-scope",
        # Dash documents None (the tab's title stays put) but annotates a str
        update_title=None,  # type: ignore[arg-type]
        suppress_callback_exceptions=True,
        on_error=callback_error,
        # no callback is a coroutine: with dash[async] present, Dash would otherwise run
        # each one through a new event loop on another thread (~2.5 ms a dashboard refresh)
        use_async=False,
    )
    services.install(app.server)
    from .auth.credentials import TokenStore
    from .auth.gate import install
    from .auth.sessions import SessionStore
    from .auth.users import current_user
    install(app, settings, TokenStore(services.store.engine),
            SessionStore(services.store.engine, settings.session_hours * 3600))

    def shell():  # per request: the navbar names who is signed in
        user = current_user()
        navbar = make_navbar(dash.page_registry.values(), settings.refresh_interval, user,
                             settings.pathname_prefix)
        # Before signing in the login page is all there is: no banner asking the server
        # about the collector (that call would be refused).
        status = [make_status_banner()] if user else []
        return html.Div([navbar, *insecure_banner(settings), *status,
                         html.Main(dash.page_container), *make_toast_region()],
                        className="shell")

    app.layout = shell

    from .api import api
    app.server.register_blueprint(api, url_prefix=settings.pathname_prefix.rstrip("/") or None)

    @app.server.route(settings.pathname_prefix + "healthcheck")
    def healthcheck():
        """"OK" for load balancers, as Flower's; ?verbose=1 says which collector leads (JSON)."""
        import time

        import flask

        from .store.shared_state import leadership_report
        if flask.request.args.get("verbose") not in ("1", "true", "yes"):
            return "OK"
        try:
            statuses = services.cache.collectors()
        except Exception as exc:  # noqa: BLE001 — the web server runs; say the store does not
            return flask.jsonify({"status": "OK", "leader": None, "collectors": [],
                                  "store_error": type(exc).__name__})
        return flask.jsonify(leadership_report(statuses, time.time()))

    from .metrics import register_metrics
    register_metrics(app.server, settings.pathname_prefix + "metrics", services)

    install_compression(app.server, settings.pathname_prefix)
    install_not_found(app)
    return app


# -- delivery: compression and cache lifetimes -----------------------------------------

YEAR = 31536000
_PACKAGE_FILES = ("/_dash-component-suites/", "/api/docs/")  # served from installed packages


def cache_control(path: str, query: Mapping[str, str], prefix: str) -> str | None:
    """The lifetime of a static response whose URL names its version: Dash's fingerprinted
    component files (Dash sets those itself), assets with their `?m=<mtime>` and the favicon
    with `?v=<version>` live a year; anything else keeps Dash's answer (revalidate)."""
    relative = "/" + path[len(prefix):] if path.startswith(prefix) else path
    if relative.startswith("/assets/") and query.get("m"):
        return f"public, max-age={YEAR}, immutable"
    if relative == "/_favicon.ico" and query.get("v"):
        return f"public, max-age={YEAR}"
    return None


class PackageFileCache:
    """flask-compress's cache of compressed bodies, holding only the files served from
    installed packages, Dash's components and Swagger UI (they change only with an upgrade,
    which restarts the process): plotly.min.js is 4.8 MB, and gzip takes ~150 ms of CPU for
    each request of it. Every other response (keyed by an empty path) is compressed afresh."""

    def __init__(self) -> None:
        self.bodies: dict[str, bytes] = {}

    def get(self, key: str) -> bytes | None:
        return self.bodies.get(key)

    def set(self, key: str, value: bytes) -> None:
        if not key.endswith(";"):
            self.bodies[key] = value


def _package_file_key(request) -> str:
    return request.full_path if any(part in request.path for part in _PACKAGE_FILES) else ""


def install_compression(server, prefix: str) -> None:
    """gzip, br or zstd, as the browser accepts, for everything but streams (an export cut
    short must reach the client as far as it went, not sit in a compressor's buffer)."""
    from flask import request
    from flask_compress import Compress
    server.config.update(COMPRESS_ALGORITHM=["br", "gzip", "zstd", "deflate"],
                         COMPRESS_STREAMS=False, COMPRESS_CACHE_BACKEND=PackageFileCache,
                         COMPRESS_CACHE_KEY=_package_file_key)
    Compress(server)

    # registered after Compress, so it runs before it (Flask runs these last-in first)
    @server.after_request
    def _static_delivery(response):
        lifetime = cache_control(request.path, request.args, prefix)
        if lifetime and response.status_code == 200:
            response.headers["Cache-Control"] = lifetime
        if response.direct_passthrough and response.mimetype in ("text/css",
                                                                 "text/javascript"):
            # an asset file (a few kB) is read whole so that it is compressed too
            response.direct_passthrough = False
            response.make_sequence()
        return response


# -- unknown paths ---------------------------------------------------------------------

NOT_FOUND_PAGE = "not_found_404"  # Dash's name for the page drawn at any unknown path


def is_page_path(relative: str, registry: Mapping[str, Mapping]) -> bool:
    """Whether `relative` (no prefix, no slashes around it) is a registered page, by Dash's
    own rule (its paths and path templates), the not-found page excepted."""
    from dash._pages import _parse_path_variables
    for module, page in registry.items():
        if module.split(".")[-1] == NOT_FOUND_PAGE:
            continue
        template = page.get("path_template")
        if template and _parse_path_variables(relative, template.strip("/")):
            return True
        if relative == page["path"].strip("/"):
            return True
    return False


def install_not_found(app: dash.Dash) -> None:
    """Dash answers 200 with its shell for every path; here an unknown page path keeps the
    shell (its not-found page names the path) with status 404, and an unknown /api/ path is
    a JSON 404, as any API error."""
    import dash
    from flask import jsonify, request
    from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound

    server, prefix = app.server, app.config.routes_pathname_prefix
    catch_all = prefix + "<path:path>"

    def api_path(path: str) -> bool:
        return path.startswith(prefix + "api/")

    def api_error():
        """404 for a path no API route has (or whose route found nothing); 405 (with Allow)
        for one that has it for other methods only (a GET there reaches the shell's
        catch-all, which is no API route)."""
        adapter = server.url_map.bind_to_environ(request.environ)
        methods = set(adapter.allowed_methods()) - {"HEAD", "OPTIONS"}
        try:
            if adapter.match(method="GET")[0] == catch_all:
                methods.discard("GET")
        except HTTPException:
            pass
        if not methods or request.method in methods:  # or a route's own 404
            response = jsonify(error=f"no such API path: {request.path}")
            response.status_code = 404
            return response
        allowed = ", ".join(sorted(methods))
        response = jsonify(error=f"{request.method} is not allowed here; use {allowed}")
        response.status_code = 405
        response.headers["Allow"] = allowed
        return response

    @server.after_request
    def _unknown_path(response):
        if request.endpoint != catch_all or response.status_code != 200:
            return response
        if api_path(request.path):
            return api_error()
        if not is_page_path((request.view_args or {}).get("path", "").strip("/"),
                            dash.page_registry):
            response.status_code = 404
        return response

    def _not_found(error):
        return api_error() if api_path(request.path) else error

    server.register_error_handler(NotFound, _not_found)
    server.register_error_handler(MethodNotAllowed, _not_found)
