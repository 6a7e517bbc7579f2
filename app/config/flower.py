"""Flower's options (its --name spellings and FLOWER_NAME variables): which setting each
sets and how its value becomes ours, so a Flower command line works unchanged."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .settings import OPTIONS_BY_NAME
from .values import ConfigError, coerce


def _flower_provider(path: str) -> str:
    """Flower's --auth_provider is a handler class: flower.views.auth.GithubLoginHandler."""
    handlers = {"GoogleAuth2LoginHandler": "google", "GithubLoginHandler": "github",
                "GitLabLoginHandler": "gitlab", "OktaLoginHandler": "okta"}
    if path.rpartition(".")[2] not in handlers:
        raise ValueError(f"{path!r} is none of Flower's {', '.join(handlers)}")
    return handlers[path.rpartition(".")[2]]


# Flower's options (its --name spellings and FLOWER_NAME variables): the type Flower gives
# each, the setting it sets (None: accepted, nothing to do) and how its value becomes ours.
FLOWER_OPTIONS: dict[str, tuple[type, str | None, Callable[[Any], Any] | None]] = {
    **{name: (OPTIONS_BY_NAME[name].kind, name, None) for name in (
        "port", "address", "url_prefix", "broker_api", "basic_auth", "auth", "oauth2_key",
        "oauth2_secret", "oauth2_redirect_uri", "purge_offline_workers",
        "task_runtime_metric_buckets", "enable_events", "read_only")},
    "inspect_timeout": (float, "inspect_timeout", lambda milliseconds: milliseconds / 1000),
    "max_tasks": (int, "retention_tasks", None),
    "db": (str, "store", lambda path: f"sqlite:///{Path(path).expanduser().resolve()}"),
    "persistent": (bool, None, None),  # the history always persists
    "xheaders": (bool, "trusted_proxies", int),  # on: one proxy
    "cookie_secret": (str, "secret_key", None),
    "auth_provider": (str, "oauth2_provider", _flower_provider),
}
Layer = dict[str, tuple[Any, str]]  # setting name: (value, where it was given)


def flower_values(given: Mapping[str, tuple[Any, str]]) -> Layer:
    """Flower's options, by Flower's name, as the settings they set."""
    values: Layer = {}
    for name, (value, source) in given.items():
        kind, setting, convert = FLOWER_OPTIONS[name]
        try:
            converted = coerce(kind, value)
            converted = converted if convert is None else convert(converted)
        except ValueError as exc:
            raise ConfigError(f"{name} from {source}: {exc}") from None
        if setting is not None:
            values[setting] = (converted, source)
    return values


