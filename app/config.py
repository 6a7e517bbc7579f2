"""One Settings object, resolved once: command line > CELERY_SCOPE_* environment > config file > defaults.

Each option is declared once below, with its type, default and help text; the CLI, the
environment reader and the config-file reader are all built from that one table.
"""
from __future__ import annotations

import ipaddress
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .email_rules import role_map_problem

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ENV_PREFIX = "CELERY_SCOPE_"
CONFIG_ENV = ENV_PREFIX + "CONFIG"
# Flower's default runtime buckets (prometheus_client's Histogram.DEFAULT_BUCKETS), seconds;
# the +Inf bucket is always added.
DEFAULT_RUNTIME_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0,
                           7.5, 10.0)


class ConfigError(ValueError):
    """A setting is unknown or invalid; the message is one line meant for the user."""


def _data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "celery-scope"


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "celery-scope"


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected true or false, got {text!r}")


@dataclass(frozen=True)
class Option:
    name: str
    kind: type
    help: str
    default: Any = None
    check: Callable[[Any], str | None] | None = None  # returns an error message or None

    @property
    def env_name(self) -> str:
        return ENV_PREFIX + self.name.upper()

    def parse(self, value: Any, source: str) -> Any:
        """Coerce a value from any source to the option's type, or raise ConfigError."""
        try:
            if value is None or isinstance(value, self.kind) and not (
                self.kind is int and isinstance(value, bool)
            ):
                parsed = value
            elif self.kind is bool:
                parsed = _parse_bool(str(value))
            elif self.kind in (int, float):
                parsed = self.kind(str(value).strip())
            elif self.kind is tuple:
                parsed = _parse_floats(value)
            else:
                parsed = str(value)
        except ValueError as exc:
            raise ConfigError(f"{self.name} from {source}: {exc}") from None
        if parsed is not None and self.check is not None:
            problem = self.check(parsed)
            if problem:
                raise ConfigError(f"{self.name} from {source}: {problem} (got {parsed!r})")
        return parsed


def _parse_floats(value: Any) -> tuple[float, ...]:
    """A list of numbers from TOML, or comma-separated text from the command line or env."""
    items = value if isinstance(value, (list, tuple)) else str(value).split(",")
    return tuple(float(str(item).strip()) for item in items if str(item).strip())


def _positive(value: float) -> str | None:
    return None if value > 0 else "must be greater than 0"


def _not_negative(value: float) -> str | None:
    return None if value >= 0 else "must be 0 or more"


def _buckets(value: tuple[float, ...]) -> str | None:
    if not value or list(value) != sorted(set(value)):
        return "must be increasing numbers such as 0.1,1,10"
    return None


def _port(value: int) -> str | None:
    return None if 1 <= value <= 65535 else "must be a port number between 1 and 65535"


def _address(value: str) -> str | None:
    if value == "localhost":
        return None
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return "must be an IP address such as 127.0.0.1 or 0.0.0.0"
    return None


def _url_prefix(value: str) -> str | None:
    if any(character in value for character in " ?#%\\"):
        return "must be a plain path such as /scope"
    return None


def _http_url(value: str) -> str | None:
    if not value.startswith(("http://", "https://")):
        return "must be an http(s) URL such as http://guest:guest@localhost:15672/api/"
    return None


OAUTH2_PROVIDERS = ("oidc", "google", "github", "gitlab", "okta")


def _oauth2_provider(value: str) -> str | None:
    return None if value in OAUTH2_PROVIDERS else f"must be one of {', '.join(OAUTH2_PROVIDERS)}"


def _oauth2_problem(settings: Settings) -> str | None:
    """What an OAuth sign-in lacks to work, checked at start rather than at first sign-in."""
    if not settings.oauth2_provider:
        return None
    if not (settings.oauth2_key and settings.oauth2_secret):
        return "oauth2_provider needs oauth2_key and oauth2_secret (the client's id and secret)"
    if not settings.auth:
        return "oauth2_provider needs auth: the emails allowed to sign in (.*@example.com)"
    if settings.oauth2_provider == "oidc" and not settings.oidc_discovery_url:
        return "oauth2_provider oidc needs oidc_discovery_url"
    if settings.oauth2_provider == "okta" and not settings.oauth2_base_url:
        return "oauth2_provider okta needs oauth2_base_url (https://example.okta.com/oauth2/default)"
    return None


OPTIONS: tuple[Option, ...] = (
    Option("broker", str, "Broker URL of the cluster to watch; none starts the built-in demo cluster."),
    Option("address", str, "Address to listen on.", "127.0.0.1", _address),
    Option("port", int, "Port to listen on.", 5555, _port),
    Option("url_prefix", str, "Serve the dashboard under this path (behind a proxy).", "", _url_prefix),
    Option("store", str, "History store: SQLAlchemy URL (sqlite:///file.db or postgresql://...)."),
    Option("cache_dir", str, "Directory of the diskcache holding Inspector snapshots."),
    Option("inspect_timeout", float, "Seconds to wait for workers' replies to inspect calls.", 1.0, _positive),
    Option("inspect_interval", float, "Seconds between two Inspector rounds.", 10.0, _positive),
    Option("refresh_interval", float, "Seconds between two refreshes of an open page.", 2.0, _positive),
    Option("retention_days", float, "Keep tasks received within this many days.", 30.0,
           _positive),
    Option("retention_tasks", int, "Keep at most this many tasks (the newest).", 10_000_000,
           _positive),
    Option("task_runtime_metric_buckets", tuple, "Upper bounds in seconds, comma-separated, of "
           "the /metrics task runtime histogram's buckets (as Flower's).",
           DEFAULT_RUNTIME_BUCKETS, _buckets),
    Option("purge_offline_workers", float, "Drop an offline worker's /metrics series this many "
           "seconds after it went offline; 0 keeps them (as Flower).", 0.0, _not_negative),
    Option("enable_events", bool, "Ask workers to send events at start (like Flower).", True),
    Option("broker_api", str, "RabbitMQ management API URL for queue lengths, as Flower's "
           "(http://user:password@host:15672/api/); without it queues are asked by passive "
           "declare.", None, _http_url),
    Option("queue_sample_interval", float, "Seconds between two samples of every queue's "
           "depth.", 10.0, _positive),
    Option("users_file", str, "File of users, one name:role:password-hash per line (roles "
           "viewer, operator, admin; hashes from `celery-scope hash-password`)."),
    Option("basic_auth", str, "Users as Flower's --basic-auth: user:password[,user:password], "
           "each an admin."),
    Option("secret_key", str, "Key that signs session cookies; made and kept in the cache "
           "directory when not given."),
    Option("session_hours", float, "Hours a sign-in lasts.", 12.0, _positive),
    Option("secure_cookies", bool, "Send the session cookie over HTTPS only (behind TLS).",
           False),
    Option("auth_metrics", bool, "Require credentials for /metrics and /healthcheck too "
           "(open by default, as Flower).", False),
    Option("trusted_proxies", int, "Reverse proxies in front of celery-scope whose "
           "X-Forwarded-For/-Proto/-Host/-Prefix headers to believe.", 0, _not_negative),
    Option("oauth2_provider", str, "Sign in through OAuth2/OpenID Connect: oidc (with "
           "--oidc-discovery-url), google, github, gitlab or okta (with --oauth2-base-url).",
           None, _oauth2_provider),
    Option("oauth2_key", str, "OAuth2 client id registered with the provider."),
    Option("oauth2_secret", str, "OAuth2 client secret registered with the provider."),
    Option("oauth2_redirect_uri", str, "Callback URL registered with the provider; built "
           "from the request and --url-prefix when not given (…/auth/oauth/callback).", None,
           _http_url),
    Option("oidc_discovery_url", str, "OpenID Connect discovery document of the oidc "
           "provider (https://.../.well-known/openid-configuration).", None, _http_url),
    Option("oauth2_base_url", str, "Okta domain (https://example.okta.com/oauth2/default), "
           "or a GitLab server other than https://gitlab.com.", None, _http_url),
    Option("auth", str, "Emails allowed to sign in through OAuth, as Flower's --auth: an "
           "address, several separated by |, or a pattern such as .*@example.com."),
    Option("oauth2_roles", str, "Roles of OAuth users, first match wins: "
           "ops@example.com=operator|.*@example.com=viewer; others allowed are viewers.",
           None, role_map_problem),
    Option("insecure_no_auth", bool, "Allow listening beyond loopback without authentication.", False),
    Option("read_only", bool, "Refuse every action that changes the cluster (worker and task "
           "control, sending tasks) in the API and the pages; watching stays as it is.", False),
)
OPTIONS_BY_NAME = {option.name: option for option in OPTIONS}


@dataclass(frozen=True)
class Settings:
    broker: str | None = None
    address: str = "127.0.0.1"
    port: int = 5555
    url_prefix: str = ""
    store: str = ""
    cache_dir: str = ""
    inspect_timeout: float = 1.0
    inspect_interval: float = 10.0
    refresh_interval: float = 2.0
    retention_days: float = 30.0
    retention_tasks: int = 10_000_000
    task_runtime_metric_buckets: tuple[float, ...] = DEFAULT_RUNTIME_BUCKETS
    purge_offline_workers: float = 0.0
    enable_events: bool = True
    broker_api: str | None = None
    queue_sample_interval: float = 10.0
    users_file: str | None = None
    basic_auth: str | None = None
    secret_key: str | None = None
    session_hours: float = 12.0
    secure_cookies: bool = False
    auth_metrics: bool = False
    trusted_proxies: int = 0
    oauth2_provider: str | None = None
    oauth2_key: str | None = None
    oauth2_secret: str | None = None
    oauth2_redirect_uri: str | None = None
    oidc_discovery_url: str | None = None
    oauth2_base_url: str | None = None
    auth: str | None = None
    oauth2_roles: str | None = None
    insecure_no_auth: bool = False
    read_only: bool = False

    @property
    def auth_configured(self) -> bool:
        return bool(self.users_file or self.basic_auth or self.oauth2_provider)

    @property
    def demo(self) -> bool:
        """No broker given: the built-in demo cluster is what we watch."""
        return not self.broker

    @property
    def pathname_prefix(self) -> str:
        """The URL prefix as Dash wants it: '/' or '/scope/'."""
        stripped = self.url_prefix.strip("/")
        return f"/{stripped}/" if stripped else "/"

    @property
    def listens_beyond_loopback(self) -> bool:
        if self.address == "localhost":
            return False
        return not ipaddress.ip_address(self.address).is_loopback


def _read_config_file(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    section = data.get("celery-scope", data)
    unknown = sorted(set(section) - set(OPTIONS_BY_NAME))
    if unknown:
        raise ConfigError(f"config file {path}: unknown setting {unknown[0]!r}")
    return section


def _read_environment(environ: Mapping[str, str]) -> dict[str, str]:
    values = {}
    for key, value in environ.items():
        if not key.startswith(ENV_PREFIX) or key == CONFIG_ENV:
            continue
        name = key[len(ENV_PREFIX):].lower()
        if name not in OPTIONS_BY_NAME:
            raise ConfigError(f"unknown setting in the environment: {key}")
        values[name] = value
    return values


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
    layers = [
        ("the command line", cli),
        ("the environment", _read_environment(environ)),
        (f"config file {config_file}", _read_config_file(config_file) if config_file else {}),
    ]
    values: dict[str, Any] = {}
    for option in OPTIONS:
        for source, layer in layers:
            if option.name in layer:
                values[option.name] = option.parse(layer[option.name], source)
                break
        else:
            values[option.name] = option.default
    if not values["store"]:
        name = "demo.db" if not values["broker"] else "history.db"
        values["store"] = f"sqlite:///{_data_dir() / name}"
    if not values["cache_dir"]:
        values["cache_dir"] = str(_cache_dir() / ("demo" if not values["broker"] else "cluster"))
    settings = Settings(**values)
    problem = _oauth2_problem(settings)
    if problem:
        raise ConfigError(problem)
    if (settings.listens_beyond_loopback and not settings.auth_configured
            and not settings.insecure_no_auth):
        raise ConfigError(
            f"refusing to listen on {settings.address} without authentication; configure "
            "users (--users-file, --basic-auth or --oauth2-provider), listen on 127.0.0.1, or pass "
            "--insecure-no-auth explicitly"
        )
    return settings

