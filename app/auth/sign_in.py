"""What the sign-in page says, and where it may send a browser back to (never off site)."""
from __future__ import annotations

from urllib.parse import urlsplit

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
    return text.format(wait=int(wait) if wait and wait.isdigit() else 0)


def safe_next(target: str, prefix: str) -> str:
    """Only a path inside this app: never another site."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith(prefix):
        return prefix
    return target
