"""A small OpenID Connect provider for tests, on a free loopback port, in a thread.

It approves whoever `user` names without asking, signs id tokens RS256 with a key made at
start, and checks what a real provider checks (client secret, redirect URI, PKCE
verifier, one use per code). `tamper` bends one thing of the next answers — the state sent
back, the nonce or issuer signed, the signing key — so tests can watch each be refused."""
from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from urllib.parse import urlencode

import flask
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from werkzeug.serving import WSGIRequestHandler, make_server

from .helpers import free_port

CLIENT_ID, CLIENT_SECRET = "scope-test-client", "scope-test-secret"


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):  # keep test output to what fails
        pass


class OidcProvider:
    def __init__(self):
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.key = RSAKey.generate_key(2048, parameters={"kid": "test-key"})
        self.user = {"sub": "1", "email": "ann@example.com", "email_verified": True}
        self.tamper: dict[str, str] = {}
        self.codes: dict[str, dict] = {}
        self.authorize_requests: list[dict] = []
        self._server = make_server("127.0.0.1", self.port, self._app(), threaded=True,
                                   request_handler=_Quiet)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    def start(self) -> OidcProvider:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)

    def _app(self) -> flask.Flask:
        app = flask.Flask("oidc_provider")

        @app.get("/.well-known/openid-configuration")
        def discovery():
            return {"issuer": self.issuer, "authorization_endpoint": f"{self.issuer}/authorize",
                    "token_endpoint": f"{self.issuer}/token", "jwks_uri": f"{self.issuer}/jwks",
                    "userinfo_endpoint": f"{self.issuer}/userinfo",
                    "response_types_supported": ["code"], "subject_types_supported": ["public"],
                    "id_token_signing_alg_values_supported": ["RS256"],
                    "code_challenge_methods_supported": ["S256"]}

        @app.get("/jwks")
        def jwks():
            return KeySet([self.key]).as_dict(private=False)

        @app.get("/authorize")
        def authorize():
            args = flask.request.args.to_dict()
            self.authorize_requests.append(args)
            if args.get("client_id") != CLIENT_ID or args.get("response_type") != "code":
                return "bad request", 400
            code = secrets.token_urlsafe(16)
            self.codes[code] = {**args, "user": dict(self.user)}
            state = self.tamper.get("state", args.get("state", ""))
            query = urlencode({"code": code, "state": state})
            return flask.redirect(f"{args['redirect_uri']}?{query}")

        @app.post("/token")
        def token():
            form = flask.request.form
            request = self.codes.pop(form.get("code", ""), None)
            if request is None or not self._client_authenticated(form):
                return {"error": "invalid_grant"}, 400
            if form.get("redirect_uri") != request["redirect_uri"]:
                return {"error": "invalid_grant"}, 400
            verifier = form.get("code_verifier", "").encode()
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=")
            if challenge.decode() != request.get("code_challenge"):
                return {"error": "invalid_grant"}, 400
            access = secrets.token_urlsafe(16)
            self.codes[f"access:{access}"] = request["user"]
            return {"access_token": access, "token_type": "Bearer", "expires_in": 300,
                    "id_token": self._id_token(request)}

        @app.get("/userinfo")
        def userinfo():
            access = flask.request.headers.get("Authorization", "").removeprefix("Bearer ")
            user = self.codes.get(f"access:{access}")
            return user if user else ({"error": "invalid_token"}, 401)

        return app

    def _client_authenticated(self, form) -> bool:
        auth = flask.request.authorization
        if auth is not None:
            return (auth.username, auth.password) == (CLIENT_ID, CLIENT_SECRET)
        return (form.get("client_id"), form.get("client_secret")) == (CLIENT_ID, CLIENT_SECRET)

    def _id_token(self, request: dict) -> str:
        now = int(time.time())
        claims = {"iss": self.tamper.get("issuer", self.issuer), "aud": CLIENT_ID,
                  "iat": now, "exp": now + 300, "nonce": self.tamper.get("nonce",
                                                                         request.get("nonce")),
                  **request["user"]}
        key = RSAKey.generate_key(2048, parameters={"kid": "test-key"}) \
            if self.tamper.get("key") else self.key
        return jwt.encode({"alg": "RS256", "kid": "test-key"}, claims, key)
