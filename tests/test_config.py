"""Settings: precedence of sources, validation, and how the command line reports errors."""
import pytest
from click.testing import CliRunner

from app.cli import main
from app.config import ConfigError, resolve


def test_defaults_are_safe_and_local(tmp_path):
    settings = resolve({}, environ={"XDG_DATA_HOME": str(tmp_path)})
    assert settings.address == "127.0.0.1" and settings.port == 5555
    assert settings.inspect_timeout == 1.0 and settings.enable_events is True
    assert settings.demo and settings.store.startswith("sqlite:///")


def test_command_line_beats_environment_beats_config_file(tmp_path):
    config = tmp_path / "scope.toml"
    config.write_text('port = 7000\ninspect_timeout = 3\nrefresh_interval = 9\n')
    environ = {"CELERY_SCOPE_PORT": "7100", "CELERY_SCOPE_INSPECT_TIMEOUT": "2.5"}
    settings = resolve({"port": 7200}, environ=environ, config_file=str(config))
    assert settings.port == 7200
    assert settings.inspect_timeout == 2.5
    assert settings.refresh_interval == 9.0


def test_config_file_path_from_environment(tmp_path):
    config = tmp_path / "scope.toml"
    config.write_text('[celery-scope]\nbroker = "redis://example:6379/0"\n')
    settings = resolve({}, environ={"CELERY_SCOPE_CONFIG": str(config)})
    assert settings.broker == "redis://example:6379/0" and not settings.demo


@pytest.mark.parametrize("cli, environ, message", [
    pytest.param({"port": 0}, {}, "port from the command line: must be a port number", id="port"),
    pytest.param({}, {"CELERY_SCOPE_PORT": "many"}, "port from the environment", id="env-type"),
    pytest.param({}, {"CELERY_SCOPE_COLOUR": "blue"}, "unknown setting in the environment",
                 id="env-unknown"),
    pytest.param({"inspect_timeout": -1.0}, {}, "must be greater than 0", id="timeout"),
    pytest.param({}, {"CELERY_SCOPE_ENABLE_EVENTS": "maybe"}, "expected true or false", id="bool"),
    pytest.param({"address": "0.0.0.0"}, {}, "without authentication", id="open-address"),
    pytest.param({"address": "example.com"}, {}, "must be an IP address", id="hostname"),
])
def test_invalid_settings_are_one_clear_error(cli, environ, message):
    with pytest.raises(ConfigError, match=message):
        resolve(cli, environ=environ)


def test_unknown_key_in_config_file(tmp_path):
    config = tmp_path / "scope.toml"
    config.write_text("prot = 5555\n")
    with pytest.raises(ConfigError, match="unknown setting 'prot'"):
        resolve({}, environ={}, config_file=str(config))


def test_open_address_allowed_when_explicitly_insecure():
    settings = resolve({"address": "0.0.0.0", "insecure_no_auth": True}, environ={})
    assert settings.listens_beyond_loopback


@pytest.mark.parametrize("arguments", [
    pytest.param(["--port", "70000"], id="range"),
    pytest.param(["--port", "abc"], id="type"),
    pytest.param(["--address", "0.0.0.0"], id="unsafe"),
])
def test_cli_exits_2_with_one_line(arguments):
    result = CliRunner().invoke(main, arguments)
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "error" in result.output.lower()


def test_cli_accepts_flower_spelling_of_options():
    result = CliRunner().invoke(main, ["--url_prefix", "a b?"])
    assert result.exit_code == 2
    assert "url_prefix from the command line: must be a plain path" in result.output


@pytest.mark.parametrize("cli, environ, config, expected", [
    pytest.param({}, {}, "", (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5,
                              5.0, 7.5, 10.0), id="flower-default"),
    pytest.param({"task_runtime_metric_buckets": "1,10,inf"}, {}, "", (1.0, 10.0, float("inf")),
                 id="cli-as-flower"),
    pytest.param({}, {"CELERY_SCOPE_TASK_RUNTIME_METRIC_BUCKETS": " 0.5, 2 "}, "", (0.5, 2.0),
                 id="env"),
    pytest.param({}, {}, "task_runtime_metric_buckets = [1, 2.5]\n", (1.0, 2.5), id="toml-list"),
])
def test_runtime_metric_buckets_from_every_source(tmp_path, cli, environ, config, expected):
    path = tmp_path / "scope.toml"
    path.write_text(config)
    settings = resolve(cli, environ=environ, config_file=str(path))
    assert settings.task_runtime_metric_buckets == expected


@pytest.mark.parametrize("cli, message", [
    pytest.param({"task_runtime_metric_buckets": "5,1"}, "must be increasing", id="unsorted"),
    pytest.param({"task_runtime_metric_buckets": "1,x"}, "could not convert", id="not-a-number"),
    pytest.param({"task_runtime_metric_buckets": ","}, "must be increasing", id="empty"),
    pytest.param({"purge_offline_workers": -1}, "must be 0 or more", id="negative-purge"),
])
def test_invalid_metric_options(cli, message):
    with pytest.raises(ConfigError, match=message):
        resolve(cli, environ={})


def test_metric_options_on_the_command_line_in_flowers_spelling():
    result = CliRunner().invoke(main, ["--task_runtime_metric_buckets", "2,1"])
    assert result.exit_code == 2
    assert "task_runtime_metric_buckets from the command line: must be increasing" in result.output
