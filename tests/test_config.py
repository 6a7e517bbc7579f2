"""Settings: precedence of sources (Flower's variables among them), validation, defaults."""
import re

import pytest

from celery_scope.config import ConfigError, cluster_key, resolve
from celery_scope.runtime import store_location


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
    pytest.param({}, {"CELERY_SCOPE_PORT": "many"},
                 "port from CELERY_SCOPE_PORT: 'many' is not a whole number", id="env-type"),
    pytest.param({}, {"CELERY_SCOPE_COLOUR": "blue"}, "unknown setting in the environment",
                 id="env-unknown"),
    pytest.param({"inspect_timeout": -1.0}, {}, "must be greater than 0", id="timeout"),
    pytest.param({}, {"CELERY_SCOPE_ENABLE_EVENTS": "maybe"}, "'maybe' is not true or false",
                 id="bool"),
    pytest.param({"inspect_timeout": "soon"}, {}, "inspect_timeout from the command line: "
                 "'soon' is not a number", id="float"),
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
    pytest.param({"task_runtime_metric_buckets": "1,x"}, "'x' is not a number", id="not-a-number"),
    pytest.param({"task_runtime_metric_buckets": ","}, "must be increasing", id="empty"),
    pytest.param({"purge_offline_workers": -1}, "must be 0 or more", id="negative-purge"),
])
def test_invalid_metric_options(cli, message):
    with pytest.raises(ConfigError, match=message):
        resolve(cli, environ={})


@pytest.mark.parametrize("environ, expected", [
    pytest.param({"FLOWER_PORT": "7000"}, {"port": 7000}, id="same-name"),
    pytest.param({"FLOWER_PORT": "7000", "CELERY_SCOPE_PORT": "7100"}, {"port": 7100},
                 id="ours-first"),
    pytest.param({"FLOWER_ADDRESS": "127.0.0.2", "FLOWER_URL_PREFIX": "/flower",
                  "FLOWER_BROKER_API": "http://guest:guest@localhost:15672/api/"},
                 {"address": "127.0.0.2", "url_prefix": "/flower",
                  "broker_api": "http://guest:guest@localhost:15672/api/"}, id="strings"),
    pytest.param({"FLOWER_INSPECT_TIMEOUT": "2500"}, {"inspect_timeout": 2.5},
                 id="milliseconds"),
    pytest.param({"FLOWER_MAX_TASKS": "5000"}, {"retention_tasks": 5000}, id="max-tasks"),
    pytest.param({"FLOWER_XHEADERS": "true"}, {"trusted_proxies": 1}, id="xheaders"),
    pytest.param({"FLOWER_ENABLE_EVENTS": "False"}, {"enable_events": False}, id="events"),
    pytest.param({"FLOWER_BASIC_AUTH": "ann:pw1,bo:pw2", "FLOWER_PERSISTENT": "True"},
                 {"basic_auth": "ann:pw1,bo:pw2"}, id="basic-auth"),
    pytest.param({"FLOWER_AUTH_PROVIDER": "flower.views.auth.GithubLoginHandler",
                  "FLOWER_OAUTH2_KEY": "id", "FLOWER_OAUTH2_SECRET": "secret",
                  "FLOWER_AUTH": ".*@example.com", "FLOWER_COOKIE_SECRET": "k" * 40},
                 {"oauth2_provider": "github", "oauth2_key": "id", "secret_key": "k" * 40},
                 id="oauth"),
])
def test_flower_environment_variables(environ, expected):
    settings = resolve({}, environ=environ)
    assert {name: getattr(settings, name) for name in expected} == expected


def test_flower_db_names_the_sqlite_file_and_the_config_file_comes_last(tmp_path):
    config = tmp_path / "scope.toml"
    config.write_text("port = 7000\nretention_tasks = 10\n")
    settings = resolve({}, environ={"FLOWER_DB": str(tmp_path / "flower.db"),
                                    "FLOWER_MAX_TASKS": "20"}, config_file=str(config))
    assert settings.store == f"sqlite:///{tmp_path / 'flower.db'}"
    assert settings.retention_tasks == 20 and settings.port == 7000


@pytest.mark.parametrize("environ, message", [
    pytest.param({"FLOWER_PORT": "abc"}, "port from FLOWER_PORT: 'abc' is not a whole number",
                 id="port"),
    pytest.param({"FLOWER_MAX_TASKS": "many"}, "max_tasks from FLOWER_MAX_TASKS: 'many' is not",
                 id="max-tasks"),
    pytest.param({"FLOWER_AUTH_PROVIDER": "my.Handler"}, "is none of Flower's", id="provider"),
])
def test_bad_flower_variables_say_which(environ, message):
    with pytest.raises(ConfigError, match=message):
        resolve({}, environ=environ)


def test_flower_variables_celery_scope_lacks_are_left_alone():
    settings = resolve({}, environ={"FLOWER_UNIX_SOCKET": "/run/flower.sock", "FLOWER_": "x"})
    assert settings.port == 5555


def test_each_broker_has_its_own_default_store_and_cache(tmp_path):
    environ = {"XDG_DATA_HOME": str(tmp_path / "data"), "XDG_CACHE_HOME": str(tmp_path / "c")}
    with pytest.MonkeyPatch.context() as patch:  # the default folders are read from os.environ
        for name, value in environ.items():
            patch.setenv(name, value)
        one = resolve({"broker": "redis://:secret@one:6379/0"}, environ=environ)
        same = resolve({"broker": "redis://:rotated@one:6379/0"}, environ=environ)
        other = resolve({"broker": "redis://two:6379/0"}, environ=environ)
        demo = resolve({}, environ=environ)
    assert one.store == f"sqlite:///{tmp_path / 'data' / 'celery-scope' / 'history-'}" \
        f"{cluster_key('redis://:secret@one:6379/0')}.db"
    assert re.fullmatch(r"history-[0-9a-f]{10}\.db", one.store.rpartition("/")[2])
    assert one.store == same.store and one.cache_dir == same.cache_dir  # password left out
    assert len({one.store, other.store, demo.store}) == 3
    assert len({one.cache_dir, other.cache_dir, demo.cache_dir}) == 3
    assert demo.store.endswith("/celery-scope/demo.db")
    assert "secret" not in one.store + one.cache_dir


def test_cluster_key_leaves_the_password_out():
    assert cluster_key("amqp://guest:a@rabbit//") == cluster_key("amqp://guest:b@rabbit//")
    assert cluster_key("amqp://guest:a@rabbit//") != cluster_key("amqp://ann:a@rabbit//")


@pytest.mark.parametrize("url, shown", [
    ("sqlite:////var/lib/scope/history.db", "/var/lib/scope/history.db"),
    ("postgresql://scope:secret@db:5432/scope", "postgresql://scope:***@db:5432/scope"),
])
def test_store_location_says_where_without_password(url, shown):
    assert store_location(url) == shown
