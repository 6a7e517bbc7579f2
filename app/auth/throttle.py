"""Sign-in attempts: the throttle (bounded, expiring) and a password check that takes as
long for a name nobody has as for a real one."""
from __future__ import annotations

import hashlib
import secrets
import threading
from collections import OrderedDict, deque
from collections.abc import Mapping

from werkzeug.security import generate_password_hash

from .credentials import Account, check_password

LOGIN_ATTEMPTS, LOGIN_WINDOW = 5, 300.0  # failures allowed per user and address, seconds

THROTTLE_ENTRIES = 10_000  # (user, address) pairs the throttle tracks at most


class LoginThrottle:
    """At most LOGIN_ATTEMPTS failed sign-ins per (user, address) within LOGIN_WINDOW.

    Anyone may try any name, of any size, from many addresses: an entry is keyed by a short
    digest of the pair, holds its last LOGIN_ATTEMPTS failures, is dropped once they have
    all left the window, and there are never more than `capacity` (past it, the pair that
    failed longest ago is forgotten first)."""

    def __init__(self, capacity: int = THROTTLE_ENTRIES):
        self.capacity = capacity
        self._failures: OrderedDict[bytes, deque] = OrderedDict()  # by last failure, oldest first
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._failures)

    @staticmethod
    def _key(name: str, address: str) -> bytes:
        return hashlib.sha256(f"{name}\0{address}".encode("utf-8", "surrogatepass")).digest()[:16]

    def wait_seconds(self, name: str, address: str, now: float) -> float:
        with self._lock:
            failures = self._failures.get(self._key(name, address), ())
            recent = [moment for moment in failures if now - moment <= LOGIN_WINDOW]
        if len(recent) < LOGIN_ATTEMPTS:
            return 0.0
        return LOGIN_WINDOW - (now - recent[0])

    def failed(self, name: str, address: str, now: float) -> None:
        key = self._key(name, address)
        with self._lock:
            failures = self._failures.pop(key, None) or deque(maxlen=LOGIN_ATTEMPTS)
            failures.append(now)
            self._failures[key] = failures
            self._forget(now)

    def succeeded(self, name: str, address: str) -> None:
        with self._lock:
            self._failures.pop(self._key(name, address), None)

    def _forget(self, now: float) -> None:
        """Drop pairs whose last failure left the window, then the oldest beyond capacity."""
        while self._failures:
            key, failures = next(iter(self._failures.items()))
            if now - failures[-1] <= LOGIN_WINDOW and len(self._failures) <= self.capacity:
                return
            del self._failures[key]


def decoy_account(accounts: Mapping[str, Account]) -> Account:
    """An account no password opens, hashed at the cost of the configured ones."""
    method = next((account.password_hash.split("$", 1)[0] for account in accounts.values()
                   if account.password_hash), "scrypt")
    return Account("", "", generate_password_hash(secrets.token_urlsafe(16), method=method))


def verify_password(accounts: Mapping[str, Account], name: str, password: str,
                    decoy: Account) -> Account | None:
    """The named account if `password` is its own. A name nobody has is checked against
    `decoy`, a hash of the same cost, so the time taken does not tell which names exist."""
    account = accounts.get(name)
    if check_password(account or decoy, password) and account is not None:
        return account
    return None


class Throttled(Exception):
    """Too many failed sign-ins for this user and address; `wait` seconds remain."""

    def __init__(self, wait: float):
        super().__init__(wait)
        self.wait = wait
