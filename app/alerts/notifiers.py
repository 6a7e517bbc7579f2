"""Notifiers: where alert messages go, parsed from the config file's `[[notifiers]]` tables.

A notifier is a webhook (a documented JSON body), a Slack incoming webhook (Slack's format)
or an e-mail route over SMTP. Parsing is strict and fails on the first problem with one line
that names the notifier, so a typo in the config file stops the start instead of silencing
alerts. Secrets (a webhook URL's path often holds a token; the SMTP password) stay out of
`repr` and are shown nowhere but as `Notifier.host`.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.utils import parseaddr
from typing import Any
from urllib.parse import urlsplit

KINDS = ("webhook", "slack", "email")
SMTP_PORT_STARTTLS = 587  # submission port, the default when STARTTLS is on
SMTP_PORT_PLAIN = 25

_COMMON_KEYS = frozenset({"name", "kind", "timeout", "tls_verify"})
_KEYS_BY_KIND = {
    "webhook": _COMMON_KEYS | {"url"},
    "slack": _COMMON_KEYS | {"url"},
    "email": _COMMON_KEYS | {"smtp_host", "smtp_port", "starttls", "username", "password",
                             "from", "to"},
}


@dataclass(frozen=True)
class Notifier:
    name: str
    kind: str  # "webhook" | "slack" | "email"
    url: str | None = field(default=None, repr=False)  # webhook / slack; may hold a token
    smtp_host: str | None = None
    smtp_port: int | None = None  # None: 587 with STARTTLS, 25 without
    starttls: bool = True
    tls_verify: bool = True  # false only for servers with a self-signed certificate
    username: str | None = None  # login only when given
    password: str | None = field(default=None, repr=False)
    sender: str | None = None  # "from" in the config file
    to: tuple[str, ...] = ()
    timeout: float = 10.0  # seconds, for one connection attempt and its reply

    def __post_init__(self) -> None:
        if self.kind == "email" and self.smtp_port is None:
            port = SMTP_PORT_STARTTLS if self.starttls else SMTP_PORT_PLAIN
            object.__setattr__(self, "smtp_port", port)

    @property
    def host(self) -> str:
        """The host deliveries go to: the one part of the destination logs and errors show."""
        if self.kind == "email":
            return self.smtp_host or ""
        return urlsplit(self.url or "").hostname or ""


def parse_notifiers(tables: Sequence[Mapping[str, Any]]) -> tuple[Notifier, ...]:
    """The config file's `[[notifiers]]` tables as notifiers; a ValueError with one line
    naming the notifier and its problem on the first one found."""
    notifiers: list[Notifier] = []
    seen: set[str] = set()
    for number, table in enumerate(tables, start=1):
        notifier = _parse_one(number, table)
        if notifier.name in seen:
            raise ValueError(f"notifier {notifier.name!r}: the name is used twice")
        seen.add(notifier.name)
        notifiers.append(notifier)
    return tuple(notifiers)


def _parse_one(number: int, table: Mapping[str, Any]) -> Notifier:
    if not isinstance(table, Mapping):
        raise ValueError(f"notifier #{number}: expected a table, got {type(table).__name__}")
    name = table.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"notifier #{number}: name is missing (a non-empty string)")
    where = f"notifier {name!r}"
    kind = table.get("kind")
    if kind not in KINDS:
        raise ValueError(f"{where}: unknown kind {kind!r} (expected one of {', '.join(KINDS)})")
    for key in table:
        if key not in _KEYS_BY_KIND[kind]:
            raise ValueError(f"{where}: unknown key {key!r} for a {kind} notifier")
    common: dict[str, Any] = {
        "name": name, "kind": kind,
        "timeout": _timeout(where, table.get("timeout", 10.0)),
        "tls_verify": _flag(where, table, "tls_verify", True),
    }
    if kind == "email":
        return _parse_email(where, table, common)
    return Notifier(url=_url(where, table.get("url")), **common)


def _parse_email(where: str, table: Mapping[str, Any], common: dict[str, Any]) -> Notifier:
    host = table.get("smtp_host")
    if not isinstance(host, str) or not host.strip() or any(c.isspace() for c in host):
        raise ValueError(f"{where}: smtp_host is missing (a host name)")
    port = table.get("smtp_port")
    if port is not None and (isinstance(port, bool) or not isinstance(port, int)
                             or not 0 < port < 65536):
        raise ValueError(f"{where}: smtp_port must be a port number, got {port!r}")
    username = _optional_text(where, table, "username")
    password = _optional_text(where, table, "password")
    if (username is None) != (password is None):
        raise ValueError(f"{where}: username and password go together (login needs both)")
    if "from" not in table:
        raise ValueError(f"{where}: from is missing (the sender's address)")
    sender = _address(where, "from", table["from"])
    recipients = table.get("to")
    if isinstance(recipients, str):
        recipients = [recipients]
    if not isinstance(recipients, (list, tuple)) or not recipients:
        raise ValueError(f"{where}: to is missing (an address or a list of addresses)")
    return Notifier(smtp_host=host, smtp_port=port, starttls=_flag(where, table, "starttls", True),
                    username=username, password=password, sender=sender,
                    to=tuple(_address(where, "to", value) for value in recipients), **common)


def _url(where: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{where}: url is missing")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        # the value itself may hold a token: name only what is wrong with it
        raise ValueError(f"{where}: url must be an http:// or https:// URL with a host")
    if any(c.isspace() or ord(c) < 32 for c in value):
        raise ValueError(f"{where}: url must not contain spaces or control characters")
    return value


def _address(where: str, key: str, value: Any) -> str:
    """An e-mail address, with or without a display name ("Ops <ops@example.com>")."""
    if not isinstance(value, str) or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError(f"{where}: bad address {value!r} in {key}")
    _, address = parseaddr(value)
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain or any(c.isspace() for c in address):
        raise ValueError(f"{where}: bad address {value!r} in {key}")
    return value


def _timeout(where: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{where}: timeout must be a positive number of seconds, got {value!r}")
    return float(value)


def _flag(where: str, table: Mapping[str, Any], key: str, default: bool) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise ValueError(f"{where}: {key} must be true or false, got {value!r}")
    return value


def _optional_text(where: str, table: Mapping[str, Any], key: str) -> str | None:
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ValueError(f"{where}: {key} must be a non-empty string")
    return value
