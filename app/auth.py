"""Who gets in and who may act: sessions, API credentials, roles, CSRF and security headers.

One guard runs before every request to the server. Pages need a session (the login page
and the files it is drawn with excepted); API routes take a session, HTTP Basic or a
bearer token; a request a role may not make is refused with 403 whatever the browser sent.
Remote-control actions are checked once more where every path to them passes: the
Control object that Services hands out.

With no users configured celery-scope listens on loopback only, and everyone there acts
as an admin, like Flower on a developer's machine.
"""
from __future__ import annotations

import base64
import json
import os
import secrets
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import flask
import flask_login
from werkzeug.middleware.proxy_fix import ProxyFix

from .config import Settings
from .control import ControlError
from .credentials import Account, TokenStore, check_password, load_accounts, rank

# Control actions a role below `admin` may not take: they change how workers run.
ADMIN_ACTIONS = frozenset({"worker_shutdown", "worker_pool_autoscale", "task_rate_limit",
                           "task_time_limit"})
CONTROL_ACTIONS = frozenset({
    "worker_shutdown", "worker_pool_restart", "worker_pool_grow", "worker_pool_shrink",
    "worker_pool_autoscale", "worker_queue_add_consumer", "worker_queue_cancel_consumer",
    "task_revoke", "task_terminate", "task_rate_limit", "task_time_limit", "task_apply",
})
# Flower API routes (by view function) that change workers' settings: admin only.
ADMIN_ENDPOINTS = frozenset({"api.worker_shutdown", "api.worker_pool_autoscale",
                             "api.task_rate_limit", "api.task_timeout"})
LOGIN_ATTEMPTS, LOGIN_WINDOW = 5, 300.0  # failures allowed per user and address, seconds
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# What a browser needs before signing in: the login page and what it is drawn with.
_SHELL_PREFIXES = ("_dash-component-suites/", "assets/", "_dash-layout", "_dash-dependencies",
                   "_favicon.ico", "_reload-hash", "login", "auth/login", "auth/oauth/")


class Forbidden(ControlError):
    """The signed-in role may not take this action."""


@dataclass(frozen=True)
class User(flask_login.UserMixin):
    name: str
    role: str
    via: str  # session, basic, token, or open (no authentication configured)

    def get_id(self) -> str:
        return self.name


OPEN_USER = User("local", "admin", "open")


def current_user() -> User | None:
    """The user of this request: signed in, by credentials, or everyone when auth is off."""
    if not flask.has_request_context():
        return OPEN_USER  # the collector and the command line act for the operator
    user = flask.g.get("scope_user")
    return user


def current_role() -> str:
    user = current_user()
    return user.role if user else ""


def may(role: str) -> bool:
    """Whether this request's user holds `role` or a higher one (for pages to disable)."""
    return rank(current_role()) >= rank(role)


def check_action(action: str) -> None:
    needed = "admin" if action in ADMIN_ACTIONS else "operator"
    if rank(current_role()) < rank(needed):
        raise Forbidden(f"your role ({current_role() or 'none'}) may not {action.replace('_', ' ')}"
                        f"; it needs {needed}")


class GuardedControl:
    """A Control whose actions check the caller's role first."""

    def __init__(self, control: Any):
        self._control = control

    def __getattr__(self, name: str) -> Any:
        if name in CONTROL_ACTIONS:
            check_action(name)
        return getattr(self._control, name)


class LoginThrottle:
    """At most LOGIN_ATTEMPTS failed sign-ins per (user, address) within LOGIN_WINDOW."""

    def __init__(self):
        self._failures: dict[tuple[str, str], deque] = defaultdict(deque)

    def wait_seconds(self, name: str, address: str, now: float) -> float:
        failures = self._failures[(name, address)]
        while failures and now - failures[0] > LOGIN_WINDOW:
            failures.popleft()
        if len(failures) < LOGIN_ATTEMPTS:
            return 0.0
        return LOGIN_WINDOW - (now - failures[0])

    def failed(self, name: str, address: str, now: float) -> None:
        self._failures[(name, address)].append(now)

    def succeeded(self, name: str, address: str) -> None:
        self._failures.pop((name, address), None)


def secret_key(settings: Settings) -> str:
    """The session key: configured, or made once and kept (0600) beside the cache so that
    every process serving the same cache signs sessions alike."""
    if settings.secret_key:
        return settings.secret_key
    path = Path(settings.cache_dir).expanduser() / "secret_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def same_origin(request: flask.Request) -> bool:
    """A state-changing request made with the session cookie must come from our own pages:
    browsers send Origin (or at least Referer) with it, and a cross-site form cannot fake
    either."""
    source = request.headers.get("Origin") or request.headers.get("Referer")
    if not source:
        return False
    parts = urlsplit(source)
    return f"{parts.scheme}://{parts.netloc}" == f"{request.scheme}://{request.host}"


def _dash_callback_allowed_anonymously(request: flask.Request, prefix: str) -> bool:
    """Before signing in, only the pages router drawing the login page may run."""
    try:
        body = json.loads(request.get_data(cache=True) or b"{}")
    except ValueError:
        return False
    if "_pages_content" not in str(body.get("output", "")):
        return False
    pathname = next((entry.get("value") for entry in body.get("inputs", [])
                     if entry.get("property") == "pathname"), "")
    return pathname in (prefix + "login", (prefix + "login").rstrip("/") + "/")


class Gate:
    """The one before-request guard and the routes that sign users in and out."""

    def __init__(self, settings: Settings, tokens: TokenStore):
        self.settings = settings
        self.accounts = load_accounts(settings.users_file, settings.basic_auth)
        self.tokens = tokens
        self.throttle = LoginThrottle()
        self.prefix = settings.pathname_prefix
        self.oauth = None  # the OAuth sign-in, when a provider is configured

    @property
    def enabled(self) -> bool:
        return bool(self.accounts) or self.oauth is not None

    def credentials_user(self, request: flask.Request) -> User | None:
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer":
            account = self.tokens.verify(value.strip())
            return User(account.name, account.role, "token") if account else None
        if scheme.lower() == "basic":
            try:
                name, _, password = base64.b64decode(value).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return None
            account = self.accounts.get(name)
            if account and self._allowed_attempt(name, password, account):
                return User(account.name, account.role, "basic")
        return None

    def _allowed_attempt(self, name: str, password: str, account: Account) -> bool:
        address, now = flask.request.remote_addr or "", time.time()
        if self.throttle.wait_seconds(name, address, now):
            return False
        if check_password(account, password):
            self.throttle.succeeded(name, address)
            return True
        self.throttle.failed(name, address, now)
        return False

    def load_session_user(self, name: str) -> User | None:
        if self.oauth is not None and self.oauth.owns(name):
            return self.oauth.load_user(name)
        account = self.accounts.get(name)
        return User(account.name, account.role, "session") if account else None

    def guard(self):
        request = flask.request
        path = request.path[len(self.prefix):] if request.path.startswith(self.prefix) else \
            request.path.lstrip("/")
        if not self.enabled:
            flask.g.scope_user = OPEN_USER
            return None
        user = flask_login.current_user if flask_login.current_user.is_authenticated else None
        if user is None:
            user = self.credentials_user(request)
        flask.g.scope_user = user
        if path in ("metrics", "healthcheck") and not self.settings.auth_metrics:
            return None
        if user is None:
            return self._refuse_anonymous(request, path)
        if (user.via == "session" and request.method in UNSAFE_METHODS
                and not same_origin(request)):
            return _json_error("cross-site request refused: it carries no matching Origin", 403)
        if path.startswith("api/") and request.method in UNSAFE_METHODS:
            needed = "admin" if request.endpoint in ADMIN_ENDPOINTS else "operator"
            if rank(user.role) < rank(needed):
                return _json_error(f"your role ({user.role}) may not do this; it needs {needed}",
                                   403)
        return None

    def _refuse_anonymous(self, request: flask.Request, path: str):
        if path.startswith(_SHELL_PREFIXES) and path != "auth/logout":
            return None
        if path == "_dash-update-component":
            if _dash_callback_allowed_anonymously(request, self.prefix):
                return None
            return flask.Response(status=204)  # nothing to draw before signing in
        if path.startswith("api/") or path in ("metrics", "healthcheck"):
            response = _json_error("authentication required", 401)
            response.headers["WWW-Authenticate"] = 'Basic realm="celery-scope"'
            return response
        query = urlencode({"next": request.full_path.rstrip("?")})
        return flask.redirect(f"{self.prefix}login?{query}")

    def login(self):
        request = flask.request
        if not same_origin(request):
            return _json_error("cross-site sign-in refused", 403)
        name = request.form.get("username", "")
        password = request.form.get("password", "")
        target = _safe_next(request.form.get("next", ""), self.prefix)
        address, now = request.remote_addr or "", time.time()
        wait = self.throttle.wait_seconds(name, address, now)
        if wait:
            return self._back_to_login("throttled", target, int(wait) + 1)
        account = self.accounts.get(name)
        if account is None or not check_password(account, password):
            self.throttle.failed(name, address, now)
            return self._back_to_login("invalid", target)
        self.throttle.succeeded(name, address)
        flask_login.login_user(User(account.name, account.role, "session"))
        flask.session.permanent = True
        return flask.redirect(target)

    def _back_to_login(self, error: str, target: str, wait: int = 0):
        query = {"error": error, "next": target, **({"wait": wait} if wait else {})}
        return flask.redirect(f"{self.prefix}login?{urlencode(query)}")

    def logout(self):
        if not same_origin(flask.request):
            return _json_error("cross-site sign-out refused", 403)
        flask_login.logout_user()
        return flask.redirect(f"{self.prefix}login")


# The sign-in page shows only these fixed texts: nothing from its URL is echoed.
LOGIN_MESSAGES = {
    "invalid": "Wrong user name or password.",
    "throttled": "Too many failed attempts: wait {wait} s and try again.",
    "oauth_denied": "This account is not allowed to use celery-scope.",
    "oauth_unverified": "The provider did not confirm this account's email address.",
    "oauth_failed": "Signing in with the provider failed; try again.",
}


def login_message(error: str | None, wait: str | None) -> str:
    text = LOGIN_MESSAGES.get(error or "", "")
    return text.format(wait=int(wait) if (wait or "").isdigit() else 0)


def _safe_next(target: str, prefix: str) -> str:
    """Only a path inside this app: never another site."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith(prefix):
        return prefix
    return target


def _json_error(message: str, status: int) -> flask.Response:
    response = flask.jsonify(error=message)
    response.status_code = status
    return response


def security_headers(response: flask.Response, script_hashes: list[str]) -> flask.Response:
    """A CSP Dash works under (its inline scripts allowed by hash), no framing, no sniffing."""
    scripts = " ".join(script_hashes)  # each already quoted: 'sha256-...'
    response.headers.setdefault("Content-Security-Policy", (
        f"default-src 'self'; script-src 'self' {scripts}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
        "frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'"))
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def install(app, settings: Settings, tokens: TokenStore) -> Gate:
    """Guard `app` (a Dash app): sessions, the before-request gate, headers, sign in/out."""
    server = app.server
    gate = Gate(settings, tokens)
    if settings.trusted_proxies:  # the client's address, scheme and host as the proxy saw them
        hops = settings.trusted_proxies
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=hops, x_proto=hops, x_host=hops,
                                   x_prefix=hops)
    server.config.update(
        SECRET_KEY=secret_key(settings),
        SESSION_COOKIE_NAME="celery_scope_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        REMEMBER_COOKIE_HTTPONLY=True,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.session_hours),
        # The cookie is sent only when the session changes: a page's refresh call that was
        # in flight while signing out must not write back the session it started with.
        SESSION_REFRESH_EACH_REQUEST=False,
    )
    manager = flask_login.LoginManager(server)
    manager.user_loader(gate.load_session_user)
    server.before_request(gate.guard)
    hashes: list[str] = []

    @server.after_request
    def _headers(response):
        if not hashes:
            hashes.extend(app.csp_hashes())
        return security_headers(response, hashes)

    server.add_url_rule(f"{settings.pathname_prefix}auth/login", "auth_login", gate.login,
                        methods=["POST"])
    server.add_url_rule(f"{settings.pathname_prefix}auth/logout", "auth_logout", gate.logout,
                        methods=["POST"])
    if settings.oauth2_provider:
        from .oauth import install_oauth
        gate.oauth = install_oauth(server, settings)
    return gate
