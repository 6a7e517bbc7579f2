"""Accounts and API tokens: who may sign in, with which role, and how that is checked.

Users come from configuration (a users file of `name:role:password-hash` lines, or
Flower's `--basic-auth user:password,...`); API tokens live hashed in the store so every
process sharing it accepts or refuses the same tokens, and a revoked one at once.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from werkzeug.security import check_password_hash, generate_password_hash

from ..store.schema import api_tokens

ROLES = ("viewer", "operator", "admin")
TOKEN_PREFIX = "cst_"


class CredentialError(ValueError):
    """A users file or --basic-auth value that cannot be used; says where and why."""


@dataclass(frozen=True)
class Account:
    name: str
    role: str
    password_hash: str = ""


def rank(role: str) -> int:
    return ROLES.index(role) if role in ROLES else -1


def hash_password(password: str) -> str:
    """A salted scrypt hash (werkzeug's format), for the users file."""
    return generate_password_hash(password, method="scrypt")


# Checks that passed, keyed by (hash, SHA-256 of the password): scrypt costs tens of
# milliseconds by design, which an API client sending Basic auth would pay on every call.
_PASSED: set[tuple[str, str]] = set()
_REMEMBERED = 1024


def check_password(account: Account, password: str) -> bool:
    if not account.password_hash:
        return False
    key = (account.password_hash, hashlib.sha256(password.encode()).hexdigest())
    if key in _PASSED:
        return True
    if not check_password_hash(account.password_hash, password):
        return False
    if len(_PASSED) >= _REMEMBERED:
        _PASSED.clear()
    _PASSED.add(key)
    return True


def parse_users_file(text: str, source: str = "users file") -> dict[str, Account]:
    """`name:role:hash` per line; blank lines and `#` comments are skipped."""
    accounts: dict[str, Account] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(":", 2)
        if len(parts) != 3 or not all(parts):
            raise CredentialError(f"{source} line {number}: expected name:role:password-hash")
        name, role, password_hash = parts
        if role not in ROLES:
            raise CredentialError(f"{source} line {number}: role {role!r} is not one of "
                                  f"{', '.join(ROLES)}")
        if "$" not in password_hash:
            raise CredentialError(f"{source} line {number}: the password must be a hash made "
                                  "by `celery-scope hash-password`, not the password itself")
        accounts[name] = Account(name, role, password_hash)
    return accounts


def parse_basic_auth(text: str) -> dict[str, Account]:
    """Flower's `user:password[,user:password...]`: each an admin, as in Flower."""
    accounts = {}
    for pair in filter(None, (part.strip() for part in text.split(","))):
        name, _, password = pair.partition(":")
        if not name or not password:
            raise CredentialError("basic auth: expected user:password[,user:password...]")
        accounts[name] = Account(name, "admin", hash_password(password))
    return accounts


def load_accounts(users_file: str | None, basic_auth: str | None) -> dict[str, Account]:
    accounts: dict[str, Account] = {}
    if users_file:
        path = Path(users_file).expanduser()
        try:
            text = path.read_text()
        except OSError as exc:
            raise CredentialError(f"cannot read the users file {path}: {exc.strerror}") from None
        accounts.update(parse_users_file(text, str(path)))
    if basic_auth:
        accounts.update(parse_basic_auth(basic_auth))
    return accounts


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class TokenStore:
    """API tokens `cst_<id>_<secret>`: only the secret's SHA-256 is stored."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def create(self, role: str, label: str = "", now: float | None = None) -> str:
        if role not in ROLES:
            raise CredentialError(f"role {role!r} is not one of {', '.join(ROLES)}")
        token_id, secret = secrets.token_hex(4), secrets.token_urlsafe(32)
        with self.engine.begin() as connection:
            connection.execute(api_tokens.insert().values(
                id=token_id, label=label, role=role, digest=_digest(secret),
                created=time.time() if now is None else now, revoked=None))
        return f"{TOKEN_PREFIX}{token_id}_{secret}"

    def verify(self, token: str) -> Account | None:
        """The token's account (named `token:<id>`), or None: unknown, wrong or revoked."""
        if not token.startswith(TOKEN_PREFIX):
            return None
        token_id, _, secret = token[len(TOKEN_PREFIX):].partition("_")
        with self.engine.connect() as connection:
            row = connection.execute(select(api_tokens).where(api_tokens.c.id == token_id)).first()
        if row is None or row.revoked is not None:
            return None
        if not hmac.compare_digest(row.digest, _digest(secret)):
            return None
        return Account(f"token:{row.id}", row.role)

    def revoke(self, token_id: str, now: float | None = None) -> bool:
        with self.engine.begin() as connection:
            result = connection.execute(
                update(api_tokens)
                .where(api_tokens.c.id == token_id, api_tokens.c.revoked.is_(None))
                .values(revoked=time.time() if now is None else now))
        return result.rowcount == 1

    def list(self) -> list[dict[str, Any]]:
        with self.engine.connect() as connection:
            return [row._asdict() for row in connection.execute(
                select(api_tokens.c.id, api_tokens.c.label, api_tokens.c.role,
                       api_tokens.c.created, api_tokens.c.revoked)
                .order_by(api_tokens.c.created))]
