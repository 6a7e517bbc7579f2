"""Sign-in sessions kept in the store, so that signing out ends a session everywhere.

The signed cookie alone cannot be taken back: a copy made before signing out would work
until it expires. So each sign-in gets a random id, carried in the cookie beside
flask-login's user id; the store keeps the id's SHA-256 with its user, when it began, when
it ends and when it was revoked. Every process sharing the store refuses a signed-out
session within CHECK_SECONDS (the process that signed it out at once).
"""
from __future__ import annotations

import hashlib
import secrets
import time

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Engine

from ..store.outage import STORE_ERRORS, is_unreachable
from ..store.schema import sessions

CHECK_SECONDS = 1.0  # how long a process trusts its last look at a session in the store
REMEMBERED = 4096  # sessions whose last look a process keeps; beyond it, it looks again


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class SessionStore:
    """Sessions by id: begun at sign-in, looked up on each request, revoked at sign-out."""

    def __init__(self, engine: Engine, lifetime: float):
        self.engine = engine
        self.lifetime = lifetime  # seconds a session lasts from signing in
        self._seen: dict[str, tuple[float, str | None]] = {}  # digest → (looked at, user)

    def begin(self, user_id: str, now: float | None = None) -> str:
        """A new session for `user_id` (flask-login's id); its id goes in the cookie."""
        now = time.time() if now is None else now
        session_id = secrets.token_urlsafe(32)
        with self.engine.begin() as connection:
            connection.execute(delete(sessions).where(sessions.c.expires < now))
            connection.execute(sessions.insert().values(
                id=_digest(session_id), user_id=user_id, created=now,
                expires=now + self.lifetime, revoked=None))
        return session_id

    def user_of(self, session_id: str, now: float | None = None) -> str | None:
        """The user of a live session; None once it is revoked, expired or unknown."""
        now = time.time() if now is None else now
        key = _digest(session_id)
        seen = self._seen.get(key)
        if seen is not None and now - seen[0] < CHECK_SECONDS:
            return seen[1]
        query = select(sessions.c.user_id).where(
            sessions.c.id == key, sessions.c.revoked.is_(None), sessions.c.expires > now)
        try:
            with self.engine.connect() as connection:
                user = connection.execute(query).scalar_one_or_none()
        except STORE_ERRORS as exc:
            if not is_unreachable(exc):
                raise
            # The store is down: keep to what was last seen of this session (a signed-in
            # user keeps the banner saying so; a revoked one stays out), else refuse.
            return seen[1] if seen is not None else None
        if len(self._seen) >= REMEMBERED:
            self._seen.clear()
        self._seen[key] = (now, user)
        return user

    def end(self, session_id: str, now: float | None = None) -> None:
        """Revoke the session: no copy of its cookie works from now on."""
        now = time.time() if now is None else now
        key = _digest(session_id)
        with self.engine.begin() as connection:
            connection.execute(update(sessions).where(
                sessions.c.id == key, sessions.c.revoked.is_(None)).values(revoked=now))
        self._seen.pop(key, None)
