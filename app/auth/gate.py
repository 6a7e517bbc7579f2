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
from collections.abc import Mapping
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlencode, urlsplit

import flask
import flask_login
from werkzeug.middleware.proxy_fix import ProxyFix

from ..config import Settings
from . import dash_requests
from .credentials import Account, TokenStore, load_accounts, rank
from .dash_requests import MalformedCall, draws_page, read_call
from .roles import ADMIN_ENDPOINTS, DRY_RUN_ENDPOINTS
from .sessions import SessionStore
from .sign_in import safe_next
from .throttle import LoginThrottle, Throttled, decoy_account, verify_password
from .users import OPEN_USER, User

if TYPE_CHECKING:
    from .oauth import OAuthSignIn

SESSION_KEY = "scope_session"  # the sign-in session's id, in the signed cookie
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CALLBACK_PATH = "_dash-update-component"  # where Dash's renderer posts every callback
# What a browser needs before signing in: the login page and what it is drawn with.
_SHELL_PREFIXES = ("_dash-component-suites/", "assets/", "_dash-layout", "_dash-dependencies",
                   "_favicon.ico", "_reload-hash", "login", "auth/login", "auth/oauth/")


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


class Gate:
    """The one before-request guard and the routes that sign users in and out."""

    def __init__(self, settings: Settings, tokens: TokenStore, sessions: SessionStore,
                 callbacks: Mapping[str, dict]):
        self.settings = settings
        self.accounts = load_accounts(settings.users_file, settings.basic_auth)
        self.tokens = tokens
        self.sessions = sessions
        self.callbacks = callbacks  # Dash's callback map, filled in on the first request
        self.throttle = LoginThrottle()
        self.prefix = settings.pathname_prefix
        self.login_paths = (self.prefix + "login", self.prefix + "login/")
        self.oauth: OAuthSignIn | None = None  # the OAuth sign-in, when a provider is configured

    @cached_property
    def decoy(self) -> Account:
        return decoy_account(self.accounts)

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
            try:
                account = self._attempt(name, password)
            except Throttled:
                return None
            if account:
                return User(account.name, account.role, "basic")
        return None

    def _attempt(self, name: str, password: str) -> Account | None:
        """The account if the password is right; Throttled after too many failures."""
        address, now = flask.request.remote_addr or "", time.time()
        wait = self.throttle.wait_seconds(name, address, now)
        if wait:
            raise Throttled(wait)
        account = verify_password(self.accounts, name, password, self.decoy)
        if account is None:
            self.throttle.failed(name, address, now)
        else:
            self.throttle.succeeded(name, address)
        return account

    def load_session_user(self, user_id: str) -> User | None:
        """The user of this cookie while its session lasts in the store, else nobody."""
        session_id = flask.session.get(SESSION_KEY)
        if not session_id or self.sessions.user_of(session_id) != user_id:
            return None
        if self.oauth is not None and self.oauth.owns(user_id):
            return self.oauth.load_user(user_id)
        account = self.accounts.get(user_id)
        return User(account.name, account.role, "session") if account else None

    def sign_in(self, user: User) -> None:
        """Sign `user` in with a new session, ending the one this browser had."""
        self._end_session()
        flask_login.login_user(user)
        flask.session[SESSION_KEY] = self.sessions.begin(user.get_id())
        flask.session.permanent = True

    def _end_session(self) -> None:
        session_id = flask.session.pop(SESSION_KEY, None)
        if session_id:
            self.sessions.end(session_id)

    def guard(self):
        """Who is asking and whether they may; then, for a callback, whether Dash can run it
        at all (a 400 here, rather than a traceback in Dash's dispatcher)."""
        request = flask.request
        path = request.path[len(self.prefix):] if request.path.startswith(self.prefix) else \
            request.path.lstrip("/")
        refused = self._admit(request, path)
        if refused is None and path == CALLBACK_PATH and request.method == "POST":
            return self._refuse_malformed(request)
        return refused

    def _admit(self, request: flask.Request, path: str):
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
            needed = needed_role(request)
            if rank(user.role) < rank(needed):
                return _json_error(f"your role ({user.role}) may not do this; it needs {needed}",
                                   403)
        return None

    def _refuse_anonymous(self, request: flask.Request, path: str):
        """Before signing in: the login page and what it is drawn with, nothing else."""
        if path.startswith(_SHELL_PREFIXES) and path != "auth/logout":
            return None
        if path == CALLBACK_PATH:
            return self._anonymous_callback(request)
        if path.startswith("api/") or path in ("metrics", "healthcheck"):
            response = _json_error("authentication required", 401)
            response.headers["WWW-Authenticate"] = 'Basic realm="celery-scope"'
            return response
        query = urlencode({"next": request.full_path.rstrip("?")})
        return flask.redirect(f"{self.prefix}login?{query}")

    def _call(self, request: flask.Request) -> dash_requests.CallbackCall:
        return read_call(request.get_data(cache=True), self.callbacks)

    def _anonymous_callback(self, request: flask.Request):
        """Before signing in only the login page is drawn (the router's pathname is read at
        its place). Drawing any other page is refused 401. Any other callback is answered
        204 and nothing runs: a page left open across signing out still ticks until it
        reaches the login page, and should not fill the browser's console with errors."""
        try:
            call = self._call(request)
        except MalformedCall:
            return _json_error("sign in first", 401)
        if not call.draws_a_page:
            return flask.Response(status=204)
        return None if draws_page(call, self.login_paths) else _json_error("sign in first", 401)

    def _refuse_malformed(self, request: flask.Request):
        try:
            self._call(request)
        except MalformedCall as exc:
            return _json_error(f"malformed callback request: {exc}", 400)
        return None

    def login(self):
        request = flask.request
        if not same_origin(request):
            return _json_error("cross-site sign-in refused", 403)
        name = request.form.get("username", "")
        password = request.form.get("password", "")
        target = safe_next(request.form.get("next", ""), self.prefix)
        try:
            account = self._attempt(name, password)
        except Throttled as throttled:
            return self._back_to_login("throttled", target, int(throttled.wait) + 1)
        if account is None:
            return self._back_to_login("invalid", target)
        self.sign_in(User(account.name, account.role, "session"))
        return flask.redirect(target)

    def _back_to_login(self, error: str, target: str, wait: int = 0):
        query = {"error": error, "next": target, **({"wait": wait} if wait else {})}
        return flask.redirect(f"{self.prefix}login?{urlencode(query)}")

    def logout(self):
        if not same_origin(flask.request):
            return _json_error("cross-site sign-out refused", 403)
        self._end_session()
        flask_login.logout_user()
        return flask.redirect(f"{self.prefix}login")


def needed_role(request: flask.Request) -> str:
    """The role an API request that may change the cluster needs."""
    if request.endpoint in ADMIN_ENDPOINTS:
        return "admin"
    if request.endpoint in DRY_RUN_ENDPOINTS and asks_dry_run(request.get_data(cache=True)):
        return "viewer"
    return "operator"


def asks_dry_run(data: bytes) -> bool:
    """Whether a body is a JSON object saying `"dry_run": true`, read as the route reads it
    (json.loads: of a key given twice, the last counts), so the two cannot disagree."""
    try:
        body = json.loads(data) if data.strip() else None
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("dry_run") is True


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


def install(app, settings: Settings, tokens: TokenStore, sessions: SessionStore) -> Gate:
    """Guard `app` (a Dash app): sessions, the before-request gate, headers, sign in/out."""
    server = app.server
    gate = Gate(settings, tokens, sessions, app.callback_map)
    dash_requests.install(server)
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
        gate.oauth = install_oauth(server, settings, gate.sign_in)
    return gate
