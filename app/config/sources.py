"""Where settings come from and how they merge: command line > CELERY_SCOPE_* environment >
FLOWER_* environment > config file > defaults, resolved once into one Settings."""
from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..alerts.demo_rules import DEMO_ALERTS
from ..alerts.notifiers import parse_notifiers
from ..alerts.rules import parse_rules
from .flower import FLOWER_OPTIONS, Layer, flower_values
from .settings import FILE_TABLES, OPTIONS, OPTIONS_BY_NAME, Settings, oauth2_problem
from .values import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ENV_PREFIX = "CELERY_SCOPE_"
CONFIG_ENV = ENV_PREFIX + "CONFIG"
FLOWER_PREFIX = "FLOWER_"


def _user_dir(variable: str, fallback: str) -> Path:
    """celery-scope's folder in an XDG base directory (XDG_DATA_HOME, XDG_CACHE_HOME)."""
    return Path(os.environ.get(variable) or Path.home() / fallback) / "celery-scope"




def cluster_key(broker: str) -> str:
    """A short name for a broker URL, stable across password changes (it is left out)."""
    from kombu.utils.url import maybe_sanitize_url
    return hashlib.sha256(maybe_sanitize_url(broker).encode()).hexdigest()[:10]


def default_store(broker: str | None) -> str:
    """One SQLite file per cluster, so two clusters never share a history."""
    name = f"history-{cluster_key(broker)}.db" if broker else "demo.db"
    return f"sqlite:///{_user_dir('XDG_DATA_HOME', '.local/share') / name}"


def default_cache_dir(broker: str | None) -> str:
    name = f"cluster-{cluster_key(broker)}" if broker else "demo"
    return str(_user_dir("XDG_CACHE_HOME", ".cache") / name)


def _read_config_file(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    section = dict(data.get("celery-scope", data))
    for name in FILE_TABLES:  # [[alerts]] may sit beside a [celery-scope] table or in it
        tables = section.get(name, data.get(name, []))
        if not (isinstance(tables, list) and all(isinstance(table, dict) for table in tables)):
            raise ConfigError(f"config file {path}: {name} must be [[{name}]] tables")
        section[name] = tables
    unknown = sorted(set(section) - set(OPTIONS_BY_NAME) - set(FILE_TABLES))
    if unknown:
        raise ConfigError(f"config file {path}: unknown setting {unknown[0]!r}")
    return section


def _read_environment(environ: Mapping[str, str]) -> tuple[Layer, Layer]:
    """CELERY_SCOPE_* and, below them, FLOWER_* variables (those of Flower's that apply)."""
    ours: Layer = {}
    for key, value in environ.items():
        if key.startswith(ENV_PREFIX) and key != CONFIG_ENV:
            if key[len(ENV_PREFIX):].lower() not in OPTIONS_BY_NAME:
                raise ConfigError(f"unknown setting in the environment: {key}")
            ours[key[len(ENV_PREFIX):].lower()] = (value, key)
    return ours, flower_values({key[len(FLOWER_PREFIX):].lower(): (value, key)
                                for key, value in environ.items() if key.startswith(FLOWER_PREFIX)
                                and key[len(FLOWER_PREFIX):].lower() in FLOWER_OPTIONS})


def resolve(
    cli: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    config_file: str | None = None,
) -> Settings:
    """Merge every source into one validated Settings; raise ConfigError on the first problem.

    `cli` holds only the options given on the command line (None means not given).
    """
    cli = {key: value for key, value in (cli or {}).items() if value is not None}
    environ = os.environ if environ is None else environ
    unknown = sorted(set(cli) - set(OPTIONS_BY_NAME))
    if unknown:
        raise ConfigError(f"unknown setting {unknown[0]!r}")
    config_file = config_file or environ.get(CONFIG_ENV)
    source = f"config file {config_file}"
    from_file = _read_config_file(config_file) if config_file else {}
    layers = [{name: (value, "the command line") for name, value in cli.items()},
              *_read_environment(environ),
              {name: (value, source) for name, value in from_file.items()}]
    values: dict[str, Any] = {}
    for option in OPTIONS:
        layer = next((layer for layer in layers if option.name in layer), None)
        values[option.name] = (option.default if layer is None
                               else option.parse(*layer[option.name]))
    for name in FILE_TABLES:
        values[name] = tuple(from_file.get(name, ()))
    if not values["broker"] and not values["alerts"]:  # the demo shows rules at work
        values["alerts"] = DEMO_ALERTS
    values["store"] = values["store"] or default_store(values["broker"])
    values["cache_dir"] = values["cache_dir"] or default_cache_dir(values["broker"])
    settings = Settings(**values)
    try:  # a typo in a rule stops the start, rather than silently watching nothing
        notifiers = parse_notifiers(settings.notifiers)
        parse_rules(settings.alerts, known_notifiers=[notifier.name for notifier in notifiers])
    except ValueError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    problem = oauth2_problem(settings)
    if problem:
        raise ConfigError(problem)
    if (settings.listens_beyond_loopback and not settings.auth_configured
            and not settings.insecure_no_auth):
        raise ConfigError(f"refusing to listen on {settings.address} without authentication; "
                          "configure users (--users-file, --basic-auth or --oauth2-provider), "
                          "listen on 127.0.0.1, or pass --insecure-no-auth explicitly")
    return settings

