"""Signing in through an OAuth2 / OpenID Connect provider (authlib does the protocol).

`/auth/oauth/start` sends the browser to the provider with a state, a nonce and a PKCE
challenge, all kept in the signed session cookie so that any process may take the
callback. `/auth/oauth/callback` exchanges the code, has authlib check the id token
(signature against the provider's JWKS, issuer, audience, nonce), takes the verified email,
applies the allow-list and signs the user in with flask-login. The role is worked out from
the configuration on every request, never stored: every process holds the same rules, and
taking someone off the list ends their session at once.

What went wrong is logged for the operator; the browser sees only a fixed message.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import flask
import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.flask_client import FlaskOAuth2App, OAuth
from joserfc.errors import JoseError

from ..config import Settings
from .email_rules import AllowList, RoleMap
from .sign_in import safe_next
from .users import User

log = logging.getLogger(__name__)

ID_PREFIX = "oauth:"  # flask-login ids of OAuth users; local user names hold no ':'
HTTP_TIMEOUT = 10.0  # seconds for each call to the provider
_NEXT_KEY = "scope_oauth_next"
LABELS = {"oidc": "OpenID Connect", "google": "Google", "github": "GitHub",
          "gitlab": "GitLab", "okta": "Okta"}
GITLAB = "https://gitlab.com"


def _provider(settings: Settings) -> str:
    """The configured provider (OAuth sign-in is installed only when there is one)."""
    if settings.oauth2_provider is None:
        raise ValueError("no oauth2_provider is configured")
    return settings.oauth2_provider


class Refused(Exception):
    """The provider vouched for someone we do not let in; `reason` is a LOGIN_MESSAGES key."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason


def provider_options(settings: Settings) -> dict:
    """authlib's registration for the configured provider: discovery for the OIDC ones,
    GitHub's plain OAuth2 endpoints and its API (it has no OpenID Connect)."""
    provider = _provider(settings)
    base = (settings.oauth2_base_url or "").rstrip("/")
    client_kwargs = {"code_challenge_method": "S256", "default_timeout": HTTP_TIMEOUT}
    if provider == "github":
        return {"authorize_url": "https://github.com/login/oauth/authorize",
                "access_token_url": "https://github.com/login/oauth/access_token",
                "api_base_url": "https://api.github.com/",
                "client_kwargs": {**client_kwargs, "scope": "read:user user:email"}}
    discovery = {
        "oidc": settings.oidc_discovery_url,
        "google": "https://accounts.google.com/.well-known/openid-configuration",
        "gitlab": f"{base or GITLAB}/.well-known/openid-configuration",
        "okta": f"{base}/.well-known/openid-configuration",
    }[provider]
    return {"server_metadata_url": discovery,
            "client_kwargs": {**client_kwargs, "scope": "openid email profile"}}


class OAuthUser(User):
    """A user the provider signed in: flask-login keeps `oauth:<email>` as the id."""

    def get_id(self) -> str:
        return ID_PREFIX + self.name


@dataclass
class OAuthSignIn:
    settings: Settings
    client: FlaskOAuth2App
    allowed: AllowList
    roles: RoleMap
    sign_in: Callable[[User], None]  # the gate's: a new session in the store and the cookie

    @property
    def label(self) -> str:
        return LABELS[_provider(self.settings)]

    @staticmethod
    def owns(user_id: str) -> bool:
        return user_id.startswith(ID_PREFIX)

    def load_user(self, user_id: str) -> OAuthUser | None:
        """The user behind a session id `oauth:<email>`, with today's role; None once the
        address is no longer allowed."""
        email = user_id[len(ID_PREFIX):]
        if not self.allowed.allows(email):
            return None
        return OAuthUser(email, self.roles.role_for(email), "session")

    def redirect_uri(self) -> str:
        """Where the provider sends the browser back: configured, or this app's callback as
        the browser sees it (scheme, host and prefix from trusted proxy headers included)."""
        return (self.settings.oauth2_redirect_uri
                or flask.url_for("auth_oauth_callback", _external=True))

    def start(self):
        prefix = self.settings.pathname_prefix
        flask.session[_NEXT_KEY] = safe_next(flask.request.args.get("next", ""), prefix)
        try:
            return self.client.authorize_redirect(self.redirect_uri())
        except (AuthlibBaseError, requests.RequestException, RuntimeError) as exc:
            log.warning("OAuth sign-in could not start: %r", exc)
            return self._back_to_login("oauth_failed")

    def callback(self):
        try:
            email = self._verified_email()
            if not self.allowed.allows(email):
                raise Refused("oauth_denied", f"{email} is not in the allow-list (auth)")
        except Refused as exc:
            log.warning("OAuth sign-in refused: %s", exc)
            return self._back_to_login(exc.reason)
        except (AuthlibBaseError, JoseError, requests.RequestException, KeyError,
                ValueError) as exc:
            log.warning("OAuth sign-in failed: %r", exc)
            return self._back_to_login("oauth_failed")
        target = flask.session.pop(_NEXT_KEY, None) or self.settings.pathname_prefix
        self.sign_in(OAuthUser(email, self.roles.role_for(email), "session"))
        return flask.redirect(target)

    def _verified_email(self) -> str:
        token = self.client.authorize_access_token()  # checks state, nonce and the id token
        if self.settings.oauth2_provider == "github":
            return self._github_email(token)
        claims = token.get("userinfo")
        if claims is None:
            raise Refused("oauth_failed", "the provider sent no id token")
        if "email" not in claims:  # some providers keep it for the userinfo endpoint
            extra = self.client.userinfo(token=token)
            if extra.get("sub") != claims.get("sub"):
                raise Refused("oauth_failed", "userinfo is about someone else")
            claims = {**extra, **claims}
        email, verified = claims.get("email"), claims.get("email_verified")
        if not email or verified not in (True, "true"):
            raise Refused("oauth_unverified", f"email {email!r} verified={verified!r}")
        return email

    def _github_email(self, token: dict) -> str:
        response = self.client.get("user/emails", token=token)
        response.raise_for_status()
        primary: dict[str, Any] = next(
            (entry for entry in response.json() if entry.get("primary")), {})
        if not primary.get("email") or not primary.get("verified"):
            raise Refused("oauth_unverified", "GitHub has no verified primary email")
        return primary["email"]

    def _back_to_login(self, error: str):
        query = {"error": error}
        target = flask.session.pop(_NEXT_KEY, None)
        if target:
            query["next"] = target
        return flask.redirect(f"{self.settings.pathname_prefix}login?{urlencode(query)}")


def install_oauth(server: flask.Flask, settings: Settings,
                  sign_in: Callable[[User], None]) -> OAuthSignIn:
    """Register the provider and the two routes under the URL prefix."""
    registry = OAuth(server)
    client = registry.register("scope", client_id=settings.oauth2_key,
                               client_secret=settings.oauth2_secret,
                               **provider_options(settings))
    oauth = OAuthSignIn(settings, client, AllowList.parse(settings.auth or ""),
                        RoleMap.parse(settings.oauth2_roles or ""), sign_in)
    prefix = settings.pathname_prefix
    server.add_url_rule(f"{prefix}auth/oauth/start", "auth_oauth_start", oauth.start)
    server.add_url_rule(f"{prefix}auth/oauth/callback", "auth_oauth_callback",
                        oauth.callback)
    return oauth
