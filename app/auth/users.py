"""Who is acting: the user of this request (signed in, by credentials, or everyone when
authentication is off), or the operator at the command line. Read by the role checks and
by the audit trail alike."""
from __future__ import annotations

from dataclasses import dataclass

import flask
import flask_login


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
