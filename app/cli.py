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
