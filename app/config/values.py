"""The words of settings: how a value given as text (or TOML) becomes a typed one, and the
checks that say what is wrong with it in one line."""
from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any


class ConfigError(ValueError):
    """A setting is unknown or invalid; the message is one line meant for the user."""




def parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on", "0", "false", "no", "off"):
        return lowered in ("1", "true", "yes", "on")
    raise ValueError(f"{text!r} is not true or false (say true/false, yes/no, on/off or 1/0)")


def coerce(kind: type, value: Any) -> Any:
    """A value (text, or TOML's own types) as `kind`; a ValueError says what is wrong."""
    if isinstance(value, kind) and not (kind in (int, float) and isinstance(value, bool)):
        return value
    text = str(value).strip()
    if kind is bool:
        return parse_bool(text)
    if kind is tuple:
        return parse_floats(value)
    if kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            noun = "a whole number" if kind is int else "a number"
            raise ValueError(f"{text!r} is not {noun}") from None
    return str(value)


def parse_floats(value: Any) -> tuple[float, ...]:
    """A list of numbers from TOML, or comma-separated text from the command line or env."""
    items = value if isinstance(value, (list, tuple)) else str(value).split(",")
    return tuple(coerce(float, item) for item in items if str(item).strip())


def rule(ok: Callable[[Any], bool], problem: str) -> Callable[[Any], str | None]:
    """A check: None when `ok(value)`, else the problem."""
    return lambda value: None if ok(value) else problem


def address_check(value: str) -> str | None:
    try:
        if value != "localhost":
            ipaddress.ip_address(value)
    except ValueError:
        return "must be an IP address such as 127.0.0.1 or 0.0.0.0"
    return None


OAUTH2_PROVIDERS = ("oidc", "google", "github", "gitlab", "okta")
positive = rule(lambda value: value > 0, "must be greater than 0")
not_negative = rule(lambda value: value >= 0, "must be 0 or more")
port_check = rule(lambda value: 1 <= value <= 65535, "must be a port number between 1 and 65535")
buckets = rule(lambda value: bool(value) and list(value) == sorted(set(value)),
                 "must be increasing numbers such as 0.1,1,10")
url_prefix = rule(lambda value: not set(value) & set(" ?#%\\"),
                    "must be a plain path such as /scope")
http_url = rule(lambda value: value.startswith(("http://", "https://")),
                  "must be an http(s) URL such as http://guest:guest@localhost:15672/api/")
oauth2_provider = rule(lambda value: value in OAUTH2_PROVIDERS,
                         f"must be one of {', '.join(OAUTH2_PROVIDERS)}")


