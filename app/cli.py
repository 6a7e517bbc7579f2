"""The `celery-scope` command and the `celery scope` subcommand.

Options come from the one table in config.py; both spellings are accepted for the ones
Flower users know (`--url-prefix` and Flower's `--url_prefix`).
"""
from __future__ import annotations

import sys

import click

from .config import OPTIONS, ConfigError, resolve
from .runtime import StartupError, collect, configure_logging, serve
from .store.history import StoreError


def settings_options(command):
    """Decorate a click command with one option per setting (default None = not given)."""
    for option in reversed(OPTIONS):
        dashed = "--" + option.name.replace("_", "-")
        names = [dashed] if "_" not in option.name else [dashed, "--" + option.name]
        if option.kind is bool:
            flag = f"{dashed}/--no-{dashed[2:]}"
            command = click.option(flag, option.name, default=None, help=option.help)(command)
        else:
            kind = {int: int, float: float}.get(option.kind, str)
            command = click.option(*names, option.name, type=kind, default=None,
                                   help=f"{option.help} [env {option.env_name}]")(command)
    return click.option("--config", "config_file", type=click.Path(dir_okay=False),
                        help="TOML config file (also CELERY_SCOPE_CONFIG).")(command)


def _run(action, cli: dict, celery_app=None) -> None:
    config_file = cli.pop("config_file", None)
    try:
        settings = resolve(cli, config_file=config_file)
        configure_logging()
        action(settings, celery_app)
    except (ConfigError, StoreError, StartupError) as exc:
        click.echo(f"celery-scope: error: {exc}", err=True)
        sys.exit(2)


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@settings_options
@click.pass_context
def main(ctx: click.Context, **cli) -> None:
    """Monitor and administer a Celery cluster. With no --broker, watch a built-in demo cluster."""
    if ctx.invoked_subcommand is None:
        _run(serve, cli)
    else:
        ctx.obj = cli


@main.command("collect")
@settings_options
@click.pass_context
def collect_command(ctx: click.Context, **cli) -> None:
    """Run only the collector, for a WSGI server (gunicorn app.wsgi:server) to serve the pages."""
    merged = {**(ctx.obj or {}), **{key: value for key, value in cli.items() if value is not None}}
    _run(collect, merged)


@click.command("scope", context_settings={"help_option_names": ["-h", "--help"]})
@settings_options
@click.pass_context
def scope(ctx: click.Context, **cli) -> None:
    """`celery -A proj scope`: the dashboard for the app's own broker and settings."""
    celery_app = ctx.obj.app
    cli["broker"] = cli.get("broker") or celery_app.conf.broker_url
    _run(serve, cli, celery_app)


@main.command("export")
@settings_options
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
@click.pass_context
def export_command(ctx: click.Context, states, names, worker, queue, since, until, time_field,
                   search, sort, output, **cli) -> None:
    """Export task history as CSV, e.g. `celery-scope export --since 24h --state FAILURE -o f.csv`."""
    from .export import export_to_file
    from .task_filters import FilterError, parse_filter

    merged = {**(ctx.obj or {}), **{key: value for key, value in cli.items() if value is not None}}
    params = {"state": list(states), "name": list(names), "worker": worker, "queue": queue,
              "since": since, "until": until, "time_field": time_field, "search": search,
              "sort": sort}
    try:
        task_filter = parse_filter({key: value for key, value in params.items() if value})
        settings = resolve(merged, config_file=merged.pop("config_file", None))
        export_to_file(settings, task_filter, output)
    except (ConfigError, StoreError, FilterError) as exc:
        click.echo(f"celery-scope: error: {exc}", err=True)
        sys.exit(2)


@main.command("hash-password")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="The password (asked for when not given; read from standard input too).")
def hash_password_command(password: str) -> None:
    """Print a scrypt hash of a password for a users file line `name:role:<hash>`."""
    from .credentials import hash_password
    if len(password) < 8:
        click.echo("celery-scope: error: use a password of at least 8 characters", err=True)
        sys.exit(2)
    click.echo(hash_password(password))


@main.group("token")
@settings_options
@click.pass_context
def token_group(ctx: click.Context, **cli) -> None:
    """API tokens, sent as `Authorization: Bearer <token>`; kept hashed in the store."""
    merged = {**(ctx.obj or {}), **{key: value for key, value in cli.items() if value is not None}}
    try:
        settings = resolve(merged, config_file=merged.pop("config_file", None))
        from .credentials import TokenStore
        from .store.history import HistoryStore
        store = HistoryStore(settings.store)
    except (ConfigError, StoreError) as exc:
        click.echo(f"celery-scope: error: {exc}", err=True)
        sys.exit(2)
    ctx.obj = TokenStore(store.engine)
    ctx.call_on_close(store.close)


@token_group.command("create")
@click.option("--role", type=click.Choice(["viewer", "operator", "admin"]), required=True)
@click.option("--label", default="", help="What the token is for (shown by `token list`).")
@click.pass_obj
def token_create(tokens, role: str, label: str) -> None:
    """Make a token and print it once: it cannot be shown again."""
    click.echo(tokens.create(role, label))


@token_group.command("list")
@click.pass_obj
def token_list(tokens) -> None:
    """Every token's id, role, label, and whether it was revoked."""
    for row in tokens.list():
        state = "revoked" if row["revoked"] is not None else "active"
        click.echo(f"{row['id']}\t{row['role']}\t{state}\t{row['label']}")


@token_group.command("revoke")
@click.argument("token_id")
@click.pass_obj
def token_revoke(tokens, token_id: str) -> None:
    """Revoke a token by its id (the part after `cst_`, before the next `_`)."""
    if not tokens.revoke(token_id):
        click.echo(f"celery-scope: error: no active token {token_id}", err=True)
        sys.exit(2)
    click.echo(f"revoked {token_id}")
