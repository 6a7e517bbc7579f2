"""The command line: --version, --help with defaults, each command's own options, Flower's
spellings and options, and errors a person can read."""
import os
import subprocess
import sys
from importlib.metadata import version

import pytest
from click.testing import CliRunner

from celery_scope.cli import _settings, main
from celery_scope.config import OPTIONS


def settings_from(*arguments: str, env: dict[str, str] | None = None):
    """What `celery-scope ARGUMENTS` would run with: its line parsed, then resolved."""
    context = main.make_context("celery-scope", list(arguments))
    with pytest.MonkeyPatch.context() as patch:
        for name, value in (env or {}).items():
            patch.setenv(name, value)
        return _settings(context, dict(context.params))


def invoke(*arguments: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(main, list(arguments), env=env)


def test_version():
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.output.strip() == f"celery-scope, version {version('celery-scope')}"


def test_help_shows_every_option_with_its_default_and_variables():
    text = " ".join(invoke("--help").output.split())  # unwrapped
    for option in OPTIONS:
        assert "--" + option.name.replace("_", "-") in text
    assert "Port to listen on. [default: 5555; env CELERY_SCOPE_PORT, FLOWER_PORT]" in text
    assert "[default: 127.0.0.1; env CELERY_SCOPE_ADDRESS, FLOWER_ADDRESS]" in text
    assert "[default: on; env CELERY_SCOPE_ENABLE_EVENTS, FLOWER_ENABLE_EVENTS]" in text
    assert "[default: 0.005,0.01,0.025" in text
    assert "[default: none: the built-in demo cluster; env CELERY_SCOPE_BROKER]" in text
    assert ("--max_tasks, --max-tasks INTEGER Flower's name for --retention-tasks. [env "
            "FLOWER_MAX_TASKS]") in text


@pytest.mark.parametrize("command, present, absent", [
    pytest.param(["export"], ["--state", "--since", "--output", "--broker", "--store", "--db"],
                 ["--port", "--address", "--inspect-timeout", "--users-file", "--max_tasks"],
                 id="export"),
    pytest.param(["collect"], ["--broker", "--store", "--inspect-timeout", "--retention-days",
                               "--spool-max-mb", "--max_tasks", "--inspect_timeout"],
                 ["--port", "--url-prefix", "--users-file", "--read-only", "--xheaders"],
                 id="collect"),
    pytest.param(["token"], ["--broker", "--store"], ["--port", "--retention-days"], id="token"),
    pytest.param(["token", "create"], ["--role", "--label", "--broker", "--store"],
                 ["--port", "--inspect-timeout"], id="token-create"),
])
def test_commands_list_only_the_options_that_apply_to_them(command, present, absent):
    result = invoke(*command, "--help")
    assert result.exit_code == 0
    listed = {word.rstrip(",") for word in result.output.split() if word.startswith("--")}
    assert set(present) <= listed
    assert not set(absent) & listed


@pytest.mark.parametrize("path, own", [(["collect"], []), (["export"], ["-o", "-"]),
                                       (["token", "list"], [])])
def test_commands_accept_the_options_they_do_not_list(path, own):
    """One command line (or script) serves every command: `collect --port 5555` is no error."""
    command = main
    for name in path:
        command = command.commands[name]
    context = command.make_context(path[-1], [*own, "--port", "5555", "--max_tasks", "5"])
    assert context.params["port"] == "5555" and context.params["flower__max_tasks"] == "5"


def test_export_help_is_short_and_starts_with_its_own_options():
    lines = invoke("export", "--help").output.splitlines()
    options = [line.split()[0] for line in lines if line.startswith("  -")]
    assert options[:4] == ["--state", "--name", "--worker", "--queue"]
    assert len(lines) < 40


@pytest.mark.parametrize("arguments, expected", [
    pytest.param(["--enable_events=False"], {"enable_events": False}, id="flower-bool-false"),
    pytest.param(["--enable-events=false"], {"enable_events": False}, id="dashed-bool-false"),
    pytest.param(["--no-enable-events", "--enable_events=yes"], {"enable_events": True},
                 id="last-wins"),
    pytest.param(["--enable_events"], {"enable_events": True}, id="flower-bool"),
    pytest.param(["--read_only=True"], {"read_only": True}, id="read-only"),
    pytest.param(["--max_tasks", "500"], {"retention_tasks": 500}, id="max-tasks"),
    pytest.param(["--max-tasks=500"], {"retention_tasks": 500}, id="max-tasks-dashed"),
    pytest.param(["--xheaders"], {"trusted_proxies": 1}, id="xheaders"),
    pytest.param(["--xheaders=False"], {"trusted_proxies": 0}, id="no-xheaders"),
    pytest.param(["--persistent=True"], {"retention_tasks": 10_000_000}, id="persistent"),
    pytest.param(["--inspect_timeout=2500"], {"inspect_timeout": 2.5}, id="flower-ms"),
    pytest.param(["--inspect-timeout", "2.5"], {"inspect_timeout": 2.5}, id="our-seconds"),
    pytest.param(["--url_prefix=/flower", "--port=6000"], {"url_prefix": "/flower",
                                                            "port": 6000}, id="equals"),
    pytest.param(["--cookie_secret", "s" * 40, "--basic_auth", "ann:pw"],
                 {"secret_key": "s" * 40, "basic_auth": "ann:pw"}, id="auth"),
])
def test_flower_spellings_and_options(arguments, expected):
    settings = settings_from(*arguments)
    assert {name: getattr(settings, name) for name in expected} == expected


def test_flower_db_names_the_history_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # Flower's --db is relative to where it runs
    settings = settings_from("--db", "flower.db", "--broker", "redis://localhost:6379/0")
    assert settings.store == f"sqlite:///{tmp_path / 'flower.db'}"


def test_command_line_beats_celery_scope_variables_beats_flower_variables():
    env = {"CELERY_SCOPE_PORT": "6001", "FLOWER_PORT": "6002", "FLOWER_MAX_TASKS": "7",
           "CELERY_SCOPE_RETENTION_TASKS": "8", "FLOWER_URL_PREFIX": "/f"}
    settings = settings_from("--max_tasks", "9", env=env)
    assert (settings.port, settings.retention_tasks, settings.url_prefix) == (6001, 9, "/f")


@pytest.mark.parametrize("arguments, env, message", [
    pytest.param(["--port", "abc"], {}, "port from the command line: 'abc' is not a whole number",
                 id="port"),
    pytest.param([], {"CELERY_SCOPE_PORT": "abc"},
                 "port from CELERY_SCOPE_PORT: 'abc' is not a whole number", id="env-port"),
    pytest.param([], {"FLOWER_PORT": "abc"}, "port from FLOWER_PORT: 'abc' is not a whole number",
                 id="flower-port"),
    pytest.param(["--port", "70000"], {}, "port from the command line: must be a port number",
                 id="range"),
    pytest.param(["--inspect-timeout", "1s"], {}, "inspect_timeout from the command line: '1s' "
                 "is not a number", id="float"),
    pytest.param(["--enable_events=perhaps"], {}, "'perhaps' is not true or false", id="bool"),
    pytest.param(["--url_prefix", "a b?"], {}, "url_prefix from the command line: must be a "
                 "plain path", id="flower-spelling"),
    pytest.param(["--task_runtime_metric_buckets", "2,1"], {}, "task_runtime_metric_buckets "
                 "from the command line: must be increasing", id="buckets"),
    pytest.param(["--db", "a.db", "--store", "sqlite:///b.db"], {}, "store is given twice on "
                 "the command line, once in Flower's spelling", id="db-and-store"),
    pytest.param(["--address", "0.0.0.0"], {}, "refusing to listen on 0.0.0.0", id="unsafe"),
])
def test_errors_are_one_plain_line_and_exit_2(arguments, env, message):
    result = invoke(*arguments, env={**env, "XDG_DATA_HOME": "/nonexistent"})
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output and "invalid literal" not in result.output


def test_a_bad_variable_stops_the_real_command_with_one_line(tmp_path):
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith(("CELERY_SCOPE_", "FLOWER_"))}
    result = subprocess.run(["celery-scope", "--store", f"sqlite:///{tmp_path / 'h.db'}"],
                            env={**environment, "CELERY_SCOPE_PORT": "abc"}, cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr == ("celery-scope: error: port from CELERY_SCOPE_PORT: 'abc' is not a "
                             "whole number\n")


def test_token_options_go_before_or_after_the_subcommand(tmp_path):
    store = f"sqlite:///{tmp_path / 'history.db'}"
    runs = [["token", "--store", store, "create", "--role", "viewer", "--label", "one"],
            ["token", "create", "--role", "admin", "--store", store, "--label", "two"],
            ["--store", store, "token", "create", "--label", "three", "--role", "operator"]]
    for arguments in runs:
        result = invoke(*arguments)
        assert result.exit_code == 0, result.output
        assert result.output.startswith("cst_")
    listed = invoke("token", "list", "--store", store)
    assert sorted(line.split("\t")[1:] for line in listed.output.splitlines()) == [
        ["admin", "active", "two"], ["operator", "active", "three"], ["viewer", "active", "one"]]


def test_flower_variables_without_a_counterpart_are_named_and_ignored(tmp_path):
    result = invoke("token", "list", "--store", f"sqlite:///{tmp_path / 'history.db'}",
                    env={"FLOWER_CERTFILE": "/etc/ssl/flower.pem"})
    assert result.exit_code == 0
    assert ("FLOWER_CERTFILE is a Flower setting celery-scope does not have; ignored"
            in result.output)


@pytest.mark.parametrize("preset, applied", [(None, "True"), ("4", "False")])
def test_the_process_limits_malloc_arenas_unless_the_operator_chose(preset, applied):
    """celery-scope asks glibc for two malloc arenas (its threads each kept one, and their
    freed memory, otherwise); MALLOC_ARENA_MAX set by the operator is left to glibc."""
    environment = {key: value for key, value in os.environ.items() if key != "MALLOC_ARENA_MAX"}
    if preset:
        environment["MALLOC_ARENA_MAX"] = preset
    found = subprocess.run(
        [sys.executable, "-c", "from celery_scope.runtime import limit_malloc_arenas as limit; "
                               "print(limit())"],
        env=environment, capture_output=True, text=True, timeout=60, check=True)
    assert found.stdout.strip() == applied
