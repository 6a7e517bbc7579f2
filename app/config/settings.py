"""Settings: every option declared once, as a field with its type, default, help text and
the part it applies to; OPTIONS, which the CLI, environment and config-file readers are
built from, is read off those fields."""
from __future__ import annotations

import dataclasses
import ipaddress
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..auth.email_rules import role_map_problem
from .values import (
    ConfigError,
    address_check,
    buckets,
    coerce,
    http_url,
    not_negative,
    oauth2_provider,
    port_check,
    positive,
    url_prefix,
)

# What an option applies to: every command (which store), the collector, the web server.
STORE, COLLECT, WEB = "store", "collect", "web"
# Flower's runtime buckets (prometheus_client's default), seconds; +Inf is always added.
DEFAULT_RUNTIME_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0,
                           7.5, 10.0)


def _setting(help: str, default: Any = None, check: Callable[[Any], str | None] | None = None,
             part: str = WEB, shown: str | None = None) -> Any:
    """A field of Settings: `check` returns what is wrong with a value, or None; `part` is
    what it applies to; `shown` is the default as --help says it, when it is worked out."""
    return dataclasses.field(default=default, metadata={
        "help": help, "check": check, "part": part, "shown": shown})


def _file_tables(help: str) -> Any:
    """A field read from the config file's arrays of tables alone (no flag, no variable)."""
    return dataclasses.field(default=(), metadata={"help": help, "file_only": True})


FILE_TABLES = ("alerts", "notifiers")  # config-file-only fields, each an array of tables


@dataclass(frozen=True)
class Option:
    """A setting as the readers see it, made from its field of Settings."""
    name: str
    kind: type
    help: str
    default: Any
    check: Callable[[Any], str | None] | None
    part: str
    shown: str | None

    def parse(self, value: Any, source: str) -> Any:
        """Coerce a value from any source to the option's type, or raise ConfigError."""
        try:
            parsed = None if value is None else coerce(self.kind, value)
        except ValueError as exc:
            raise ConfigError(f"{self.name} from {source}: {exc}") from None
        if parsed is not None and self.check is not None:
            problem = self.check(parsed)
            if problem:
                raise ConfigError(f"{self.name} from {source}: {problem} (got {parsed!r})")
        return parsed


@dataclass(frozen=True)
class Settings:
    broker: str | None = _setting("Broker URL of the cluster to watch.", part=STORE,
                                  shown="none: the built-in demo cluster")
    store: str = _setting("History store: an SQLAlchemy URL (sqlite:///file.db, postgresql://...).",
                          "", part=STORE, shown="~/.local/share/celery-scope/history-<hash of "
                          "--broker>.db (demo.db for the demo)")
    address: str = _setting("Address to listen on.", "127.0.0.1", address_check)
    port: int = _setting("Port to listen on.", 5555, port_check)
    url_prefix: str = _setting("Serve the dashboard under this path (behind a proxy).", "",
                               url_prefix)
    cache_dir: str = _setting("Diskcache directory: Inspector snapshots, collector status.", "",
                              part=COLLECT, shown="~/.cache/celery-scope/cluster-<hash> (demo)")
    inspect_timeout: float = _setting("Seconds to wait for workers' replies to inspect calls.",
                                      1.0, positive, COLLECT)
    inspect_interval: float = _setting("Seconds between two Inspector rounds.", 10.0, positive,
                                       COLLECT)
    refresh_interval: float = _setting("Seconds between two refreshes of an open page.", 2.0,
                                       positive)
    retention_days: float = _setting("Keep tasks received within this many days.", 30.0,
                                     positive, COLLECT)
    retention_tasks: int = _setting("Keep at most this many tasks (the newest).", 10_000_000,
                                    positive, COLLECT)
    task_runtime_metric_buckets: tuple[float, ...] = _setting(
        "Upper bounds in seconds, comma-separated, of the /metrics task runtime histogram's "
        "buckets (as Flower's).", DEFAULT_RUNTIME_BUCKETS, buckets, COLLECT)
    purge_offline_workers: float = _setting(
        "Drop an offline worker's /metrics series this many seconds after it went offline; 0 "
        "keeps them (as Flower).", 0.0, not_negative, COLLECT)
    metrics_max_task_names: int = _setting(
        "Distinct task names /metrics keeps series for; events of further names are counted "
        "under the task label 'other'.", 1000, positive, COLLECT)
    spool_max_mb: float = _setting(
        "Megabytes of raw events the collector keeps on disk while the store is unreachable "
        "or the writer is behind; beyond it the oldest are dropped and counted.", 1024.0,
        positive, COLLECT)
    search_index: bool = _setting(
        "Index free-text search (SQLite FTS5 trigrams, PostgreSQL pg_trgm), built in the "
        "background: a rare word is found in milliseconds among millions of tasks instead of "
        "seconds, at the cost of about a third of the collector's write rate.", False)
    max_grid_rows: int = _setting("Rows the task grid fetches in one request at most.", 500,
                                  positive)
    enable_events: bool = _setting("Ask workers to send events at start (like Flower).", True,
                                   part=COLLECT)
    broker_api: str | None = _setting(
        "RabbitMQ management API URL for queue lengths, as Flower's (http://user:password@"
        "host:15672/api/); without it queues are asked by passive declare.", None, http_url,
        COLLECT)
    queue_sample_interval: float = _setting("Seconds between two samples of every queue's "
                                            "depth.", 10.0, positive, COLLECT)
    users_file: str | None = _setting(
        "File of users, one name:role:password-hash per line (roles viewer, operator, admin; "
        "hashes from `celery-scope hash-password`).")
    basic_auth: str | None = _setting("Users as Flower's --basic-auth: user:password[,user:"
                                      "password], each an admin.")
    secret_key: str | None = _setting("Key that signs session cookies.",
                                      shown="made once, kept in the cache directory")
    session_hours: float = _setting("Hours a sign-in lasts.", 12.0, positive)
    secure_cookies: bool = _setting("Send the session cookie over HTTPS only (behind TLS).",
                                    False)
    auth_metrics: bool = _setting("Require credentials for /metrics and /healthcheck too (open "
                                  "by default, as Flower).", False)
    trusted_proxies: int = _setting("Reverse proxies in front of celery-scope whose "
                                    "X-Forwarded-For/-Proto/-Host/-Prefix headers to believe.",
                                    0, not_negative)
    oauth2_provider: str | None = _setting(
        "Sign in through OAuth2/OpenID Connect: oidc (with --oidc-discovery-url), google, "
        "github, gitlab or okta (with --oauth2-base-url).", None, oauth2_provider)
    oauth2_key: str | None = _setting("OAuth2 client id registered with the provider.")
    oauth2_secret: str | None = _setting("OAuth2 client secret registered with the provider.")
    oauth2_redirect_uri: str | None = _setting(
        "Callback URL registered with the provider.", None, http_url,
        shown="built from the request: <scheme>://<host><url-prefix>/auth/oauth/callback")
    oidc_discovery_url: str | None = _setting(
        "OpenID Connect discovery document of the oidc provider (https://.../.well-known/"
        "openid-configuration).", None, http_url)
    oauth2_base_url: str | None = _setting(
        "Okta domain (https://example.okta.com/oauth2/default), or a GitLab server other than "
        "https://gitlab.com.", None, http_url)
    auth: str | None = _setting(
        "Emails allowed to sign in through OAuth, as Flower's --auth: an address_check, several "
        "separated by |, or a pattern such as .*@example.com.")
    oauth2_roles: str | None = _setting(
        "Roles of OAuth users, first match wins: ops@example.com=operator|.*@example.com="
        "viewer; others allowed are viewers.", None, role_map_problem)
    insecure_no_auth: bool = _setting("Allow listening beyond loopback without "
                                      "authentication.", False)
    read_only: bool = _setting("Refuse every action that changes the cluster (worker and task "
                               "control, sending tasks) in the API and the pages; watching "
                               "stays as it is.", False)
    app: str | None = _setting("Celery app whose beat_schedule the /beat page reads (proj.celery:"
                               "app); `celery -A proj scope` reads the app it was given.")
    beat_db: str | None = _setting("SQLAlchemy URL of django-celery-beat's database, to list its "
                                   "periodic tasks (read only, but for enable/disable).")
    redbeat_redis_url: str | None = _setting("Redis URL of RedBeat's schedule entries, to list "
                                             "them.")
    redbeat_key_prefix: str = _setting("RedBeat's key prefix (as its redbeat_key_prefix).",
                                       "redbeat")
    beat_tolerance: float = _setting("Seconds a periodic task may start after its due time "
                                     "before it counts as late; with no run by then, missed.",
                                     60.0, positive)
    beat_refresh: float = _setting("Seconds between two reads of the beat schedule sources.",
                                   30.0, positive)
    alert_interval: float = _setting("Seconds between two evaluations of the alert rules.", 5.0,
                                     positive, COLLECT)
    public_url: str | None = _setting(
        "URL the dashboard is reached at, which links in alert notifications start with.", None,
        http_url, shown="http://<address>:<port><url-prefix>/")
    alerts: tuple[dict[str, Any], ...] = _file_tables("Alert rules: the config file's "
                                                      "[[alerts]] tables.")
    notifiers: tuple[dict[str, Any], ...] = _file_tables("Where alerts are sent: the config "
                                                         "file's [[notifiers]] tables.")

    @property
    def public_base_url(self) -> str:
        """The dashboard's own URL, ending with /, for links sent out of it."""
        if self.public_url:
            return self.public_url.rstrip("/") + "/"
        host = "127.0.0.1" if self.address in ("0.0.0.0", "::") else self.address
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}{self.pathname_prefix}"

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
        return self.address != "localhost" and not ipaddress.ip_address(self.address).is_loopback



def oauth2_problem(settings: Settings) -> str | None:
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




def _kind(hint: Any) -> type:
    """int, float, bool, str or tuple, from a field's type (`str | None`: str)."""
    arguments = [argument for argument in typing.get_args(hint) if argument is not type(None)]
    if typing.get_origin(hint) is not tuple and arguments:
        hint = arguments[0]
    return typing.get_origin(hint) or hint


_HINTS = typing.get_type_hints(Settings)
OPTIONS: tuple[Option, ...] = tuple(
    Option(field.name, _kind(_HINTS[field.name]), default=field.default, **field.metadata)
    for field in dataclasses.fields(Settings) if not field.metadata.get("file_only"))
OPTIONS_BY_NAME = {option.name: option for option in OPTIONS}


