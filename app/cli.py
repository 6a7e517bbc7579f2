"""The `celery-scope` command and the `celery scope` subcommand.

Options come from the one table in config.py, and each command lists those that apply to
it. What Flower users type works too: Flower's underscore spellings (`--url_prefix`), its
booleans with a value (`--enable_events=False`) and its own options (FLOWER_ONLY below).
"""
from __future__ import annotations

import os
import sys
from typing import Any

import click

from .config import (
    COLLECT,
    ENV_PREFIX,
    FLOWER_OPTIONS,
    FLOWER_PREFIX,
    OPTIONS,
    STORE,
    WEB,
    ConfigError,
    Option,
    flower_values,
    parse_bool,
    resolve,
)
from .runtime import StartupError, collect, configure_logging, serve
from .store.engine import StoreError

SERVE, COLLECTOR, ANY = (STORE, COLLECT, WEB), (STORE, COLLECT), (STORE,)
FLOWER = "flower__"  # how Flower's own options are told apart among a command's values
# Flower's options that are not ours under the same spelling: what each does here.
FLOWER_ONLY = {
    "inspect_timeout": "Flower's, in milliseconds (--inspect-timeout is in seconds).",
    "max_tasks": "Flower's name for --retention-tasks.",
    "db": "Flower's: the SQLite file of the history (--store sqlite:///FILE).",
    "persistent": "Flower's; accepted: the history always persists.",
    "xheaders": "Flower's: believe one reverse proxy's X-Forwarded-* (--trusted-proxies 1).",
    "cookie_secret": "Flower's name for --secret-key.",
    "auth_provider": "Flower's handler class (flower.views.auth.GithubLoginHandler) as "
                     "--oauth2-provider.",
}
# Flower's options with no counterpart here: a FLOWER_* variable naming one is ignored, said.
FLOWER_UNSUPPORTED = ("unix_socket", "debug", "ca_certs", "certfile", "keyfile", "max_workers",
                      "state_save_interval", "auto_refresh", "conf", "format_task",
                      "natural_time", "tasks_columns")
METAVARS = {int: "INTEGER", float: "NUMBER", tuple: "NUMBERS", str: "TEXT"}


def _booleans_with_values(command: click.Command, ctx: click.Context,
                          args: list[str]) -> list[str]:
    """Flower takes `--enable_events=False`; a click flag takes no value: make it the flag
    that says so (`--no_enable_events`)."""
    flags = {}
    for param in command.params:
        if isinstance(param, click.Option) and param.is_flag and param.secondary_opts:
            flags.update({on: (on, param.secondary_opts[0]) for on in param.opts})
    rewritten = []
    for arg in args:
        name, equals, value = arg.partition("=")
        if equals and name in flags:
            try:
                arg = flags[name][0 if parse_bool(value) else 1]
            except ValueError as exc:
                raise click.UsageError(f"{name}: {exc}", ctx) from None
        rewritten.append(arg)
    return rewritten


class Command(click.Command):
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, _booleans_with_values(self, ctx, args))


class Group(click.Group):
    command_class = Command
    group_class = type  # subgroups are of this class too

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, _booleans_with_values(self, ctx, args))


def _spellings(name: str) -> list[str]:
    """`--url-prefix` and Flower's `--url_prefix`, unless that is an option of Flower's own
    (`--inspect_timeout`, in milliseconds)."""
    dashed = "--" + name.replace("_", "-")
    return [dashed] if "_" not in name or name in FLOWER_ONLY else [dashed, "--" + name]


def _flags(names: list[str]) -> list[str]:
    """A boolean's spellings and its negation: --read-only/--no-read-only, --read_only."""
    return [f"{names[0]}/--no-{names[0][2:]}", *names[1:]]


def _click_option(option: Option, hidden: bool) -> Any:
    names = _spellings(option.name)
    env = ENV_PREFIX + option.name.upper()
    if option.name in FLOWER_OPTIONS and FLOWER_OPTIONS[option.name][1] == option.name \
            and option.name not in FLOWER_ONLY:
        env += ", " + FLOWER_PREFIX + option.name.upper()
    shown = _shown(option)
    help_text = f"{option.help} [{f'default: {shown}; ' if shown else ''}env {env}]"
    if option.kind is bool:  # Flower's underscore spelling only for a boolean of Flower's
        names = names if option.name in FLOWER_OPTIONS else names[:1]
        return click.option(*_flags(names), option.name, default=None, help=help_text,
                            hidden=hidden)
    return click.option(*names, option.name, default=None, metavar=METAVARS[option.kind],
                        help=help_text, hidden=hidden)


def _flower_option(name: str, hidden: bool) -> Any:
    kind, setting, _ = FLOWER_OPTIONS[name]
    names = ["--" + name] + ([] if setting == name or "_" not in name
                             else ["--" + name.replace("_", "-")])
    help_text = f"{FLOWER_ONLY[name]} [env {FLOWER_PREFIX}{name.upper()}]"
    if kind is bool:
        return click.option(*_flags(names), FLOWER + name, default=None, help=help_text,
                            hidden=hidden)
    return click.option(*names, FLOWER + name, default=None, metavar=METAVARS[kind],
                        help=help_text, hidden=hidden)


def _shown(option: Option) -> str | None:
    """The default as --help shows it."""
    if option.shown or option.default in (None, ""):
        return option.shown
    if option.kind is bool:
        return "on" if option.default else "off"
    if option.kind is tuple:
        return ",".join(f"{bound:g}" for bound in option.default)
    return f"{option.default:g}" if option.kind is float else str(option.default)


def settings_options(parts: tuple[str, ...]):
    """Decorate a command with an option per setting (default None: not given), Flower's own
    spellings, and --config. Its help lists the settings that apply to it (`parts`); the
    others are accepted all the same, so one command line serves every command."""
    def decorate(command):
        for name in reversed(list(FLOWER_ONLY)):
            setting = FLOWER_OPTIONS[name][1]
            part = COLLECT if setting is None else next(
                option.part for option in OPTIONS if option.name == setting)
            command = _flower_option(name, hidden=part not in parts)(command)
        for option in reversed(OPTIONS):
            command = _click_option(option, hidden=option.part not in parts)(command)
        return click.option("--config", "config_file", type=click.Path(dir_okay=False),
                            help="TOML config file (also CELERY_SCOPE_CONFIG).")(command)
    return decorate


def _given(ctx: click.Context, cli: dict[str, Any]) -> dict[str, Any]:
    """Settings given on the command line so far: the parent commands' and this one's, with
    Flower's own options made into the settings they set."""
    ours = {key: value for key, value in cli.items()
            if value is not None and not key.startswith(FLOWER)}
    flower = flower_values({key[len(FLOWER):]: (value, "the command line")
                            for key, value in cli.items()
                            if value is not None and key.startswith(FLOWER)})
    for setting in sorted(set(ours) & set(flower)):
        raise ConfigError(f"{setting} is given twice on the command line, once in Flower's "
                          "spelling; give it once")
    return {**(ctx.obj or {}), **ours, **{key: value for key, (value, _) in flower.items()}}


def _fail(exc: Exception) -> None:
    click.echo(f"celery-scope: error: {exc}", err=True)
    sys.exit(2)


def _settings(ctx: click.Context, cli: dict[str, Any]):
    given = _given(ctx, cli)
    config_file = given.pop("config_file", None)
    settings = resolve(given, config_file=config_file)
    for name in FLOWER_UNSUPPORTED:
        if FLOWER_PREFIX + name.upper() in os.environ:
            click.echo(f"celery-scope: warning: {FLOWER_PREFIX}{name.upper()} is a Flower "
                       "setting celery-scope does not have; ignored", err=True)
    return settings


def _run(action, ctx: click.Context, cli: dict[str, Any], celery_app=None) -> None:
    try:
        settings = _settings(ctx, cli)
        configure_logging()
        action(settings, celery_app)
    except (ConfigError, StoreError, StartupError) as exc:
        _fail(exc)


CONTEXT = {"help_option_names": ["-h", "--help"]}


@click.group(cls=Group, invoke_without_command=True, context_settings=CONTEXT)
@click.version_option(package_name="celery-scope", prog_name="celery-scope")
@settings_options(SERVE)
@click.pass_context
def main(ctx: click.Context, **cli) -> None:
    """Monitor and administer a Celery cluster. With no --broker, watch a built-in demo cluster."""
    if ctx.invoked_subcommand is None:
        _run(serve, ctx, cli)
    else:
        try:
            ctx.obj = _given(ctx, cli)
        except ConfigError as exc:
            _fail(exc)


@main.command("collect")
@settings_options(COLLECTOR)
@click.pass_context
def collect_command(ctx: click.Context, **cli) -> None:
    """Run only the collector, for a WSGI server (gunicorn celery_scope.wsgi:server) to serve
    the pages."""
    _run(collect, ctx, cli)


@click.command("scope", cls=Command, context_settings=CONTEXT)
@settings_options(SERVE)
@click.pass_context
def scope(ctx: click.Context, **cli) -> None:
    """`celery -A proj scope`: the dashboard for the app's own broker and settings."""
    celery_app = ctx.obj.app
    ctx.obj = None  # celery's own context object holds no settings
    cli["broker"] = cli.get("broker") or celery_app.conf.broker_url
    _run(serve, ctx, cli, celery_app)


@main.command("export")
@click.option("--state", "states", multiple=True, help="Task state (repeat for several).")
@click.option("--name", "names", multiple=True, help="Task name (repeat for several).")
@click.option("--worker", help="Worker hostname.")
@click.option("--queue", help="Queue or routing key.")
@click.option("--since", help="Start: epoch seconds, ISO-8601 (UTC), or a duration ago (24h).")
@click.option("--until", help="End: epoch seconds or ISO-8601 (UTC).")
@click.option("--time-field", default="received", show_default=True,
              help="Which lifecycle time --since/--until apply to.")
@click.option("--search", help="Text to find in args, kwargs, result or exception.")
@click.option("--sort", default="-received", show_default=True, help="Column; '-' for descending.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), required=True,
              help="CSV file to write ('-' for standard output).")
@settings_options(ANY)
@click.pass_context
def export_command(ctx: click.Context, states, names, worker, queue, since, until, time_field,
                   search, sort, output, **cli) -> None:
    """Export task history as CSV, e.g.
    `celery-scope export --since 24h --state FAILURE -o f.csv`."""
    from .query_string import FilterError
    from .tasks.export import export_to_file
    from .tasks.filters import parse_filter

    params = {"state": list(states), "name": list(names), "worker": worker, "queue": queue,
              "since": since, "until": until, "time_field": time_field, "search": search,
              "sort": sort}
    try:
        task_filter = parse_filter({key: value for key, value in params.items() if value})
        export_to_file(_settings(ctx, cli), task_filter, output)
    except (ConfigError, StoreError, FilterError) as exc:
        _fail(exc)


@main.command("hash-password")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="The password (asked for when not given; read from standard input too).")
def hash_password_command(password: str) -> None:
    """Print a scrypt hash of a password for a users file line `name:role:<hash>`."""
    from .auth.credentials import hash_password
    if len(password) < 8:
        click.echo("celery-scope: error: use a password of at least 8 characters", err=True)
        sys.exit(2)
    click.echo(hash_password(password))


@main.group("token")
@settings_options(ANY)
@click.pass_context
def token_group(ctx: click.Context, **cli) -> None:
    """API tokens, sent as `Authorization: Bearer <token>`; kept hashed in the store. Give
    --broker or --store here or after the token command, as the dashboard has them."""
    try:
        ctx.obj = _given(ctx, cli)
    except ConfigError as exc:
        _fail(exc)


def _tokens(ctx: click.Context, cli: dict[str, Any]):
    """The store's tokens, the store closed when the command ends."""
    from .auth.credentials import TokenStore
    from .store.history import HistoryStore
    try:
        store = HistoryStore(_settings(ctx, cli).store)
    except (ConfigError, StoreError) as exc:
        _fail(exc)
    ctx.call_on_close(store.close)
    return TokenStore(store.engine)


@token_group.command("create")
@click.option("--role", type=click.Choice(["viewer", "operator", "admin"]), required=True)
@click.option("--label", default="", help="What the token is for (shown by `token list`).")
@settings_options(ANY)
@click.pass_context
def token_create(ctx: click.Context, role: str, label: str, **cli) -> None:
    """Make a token and print it once: it cannot be shown again."""
    click.echo(_tokens(ctx, cli).create(role, label))


@token_group.command("list")
@settings_options(ANY)
@click.pass_context
def token_list(ctx: click.Context, **cli) -> None:
    """Every token's id, role, label, and whether it was revoked."""
    for row in _tokens(ctx, cli).list():
        state = "revoked" if row["revoked"] is not None else "active"
        click.echo(f"{row['id']}\t{row['role']}\t{state}\t{row['label']}")


@token_group.command("revoke")
@click.argument("token_id")
@settings_options(ANY)
@click.pass_context
def token_revoke(ctx: click.Context, token_id: str, **cli) -> None:
    """Revoke a token by its id (the part after `cst_`, before the next `_`)."""
    if not _tokens(ctx, cli).revoke(token_id):
        click.echo(f"celery-scope: error: no active token {token_id}", err=True)
        sys.exit(2)
    click.echo(f"revoked {token_id}")


@main.group("alerts")
def alerts_group() -> None:
    """Alert rules: the config file's [[alerts]] and those made on the /alerts page."""


@alerts_group.command("export")
@click.option("--format", "output_format", type=click.Choice(["prometheus"]),
              default="prometheus", show_default=True, help="What to write the rules as.")
@click.option("--file-only", is_flag=True,
              help="Only the config file's rules: the store (and its page rules) is not opened.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), default="-",
              show_default=True, help="File to write ('-' for standard output).")
@settings_options(ANY)
@click.pass_context
def alerts_export(ctx: click.Context, output_format: str, file_only: bool, output: str,
                  **cli) -> None:
    """Write the alert rules as a Prometheus rule file over the series of /metrics, e.g.
    `celery-scope alerts export --config scope.toml > celery-scope.rules.yml`."""
    from .alerts.prometheus_rules import prometheus_rules
    from .alerts.rules import RuleError, parse_rules
    from .alerts.state_store import AlertStore, notifier_names
    from .store.history import HistoryStore

    try:
        settings = _settings(ctx, cli)
        if file_only:
            rules = list(parse_rules(settings.alerts, known_notifiers=notifier_names(settings)))
        else:
            store = HistoryStore(settings.store)
            try:
                rules = AlertStore(store.engine).rules(settings)
            finally:
                store.close()
    except (ConfigError, StoreError, RuleError) as exc:
        _fail(exc)
    text = prometheus_rules(rules)
    if output == "-":
        click.echo(text, nl=False)
    else:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text)
