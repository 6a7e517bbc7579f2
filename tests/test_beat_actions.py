"""Acting on periodic tasks against real parts: a worker running beat_apps' tasks, celery-scope
reading its beat_schedule (`--app beat_apps:app`) and RedBeat's keys in redis-server, and a
real RedBeat `celery beat`. Run now sends the entry's task once (the worker counts it in
Redis) and leaves an audit record; a viewer, an operator switching entries, read-only mode
and an unknown entry are refused with nothing sent; disabling a RedBeat entry stops its
runs and enabling it starts them again."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
import requests

from celery_scope.auth.credentials import hash_password
from celery_scope.beat.actions import change_mark, run_options, switched_definition
from celery_scope.beat.entries import BeatEntry

from .beat_apps import INTERVAL_ENTRY, MINUTE_ENTRY, counter_key
from .helpers import TESTS_DIR, Scope, stop_process, wait_for, wait_until

USERS = {"ann": "viewer", "otto": "operator", "ada": "admin"}
VIEWER, OPERATOR, ADMIN = (("ann", "ann-pw"), ("otto", "otto-pw"), ("ada", "ada-pw"))


def _entry(**overrides) -> BeatEntry:
    fields = dict(name="nightly", task="proj.report", schedule=None, schedule_text="",
                  args=(1,), kwargs={"a": 2}, options={}, enabled=True, source="django",
                  last_run_at=None, total_run_count=None, key="7")
    return BeatEntry(**{**fields, **overrides})


@pytest.mark.parametrize("options, expected", [
    pytest.param({}, {"headers": {"periodic_task_name": "nightly"}}, id="none"),
    pytest.param({"queue": "reports", "exchange": "ex", "routing_key": "rk", "priority": 3,
                  "expires": 60, "headers": {"trace": "t1"}},
                 {"queue": "reports", "exchange": "ex", "routing_key": "rk", "priority": 3,
                  "headers": {"trace": "t1", "periodic_task_name": "nightly"}}, id="all"),
])
def test_run_options_keep_the_entrys_routing_and_name_it(options, expected):
    assert run_options(_entry(options=options)) == expected


def test_change_mark_always_moves_past_the_stored_change():
    now = datetime(2026, 1, 1, 12, 0, 0)
    assert change_mark(None, now) == now
    assert change_mark(datetime(2026, 1, 1, 11), now) == now
    ahead = datetime(2026, 1, 1, 13)  # a scheduler writing local time ahead of UTC
    assert change_mark(ahead, now) > ahead


def test_switched_definition_keeps_every_other_field():
    stored = json.dumps({"name": "n", "task": "t", "schedule": {"__type__": "interval",
                                                                "every": 2.0}})
    text, changed = switched_definition(stored, False)
    assert changed and json.loads(text) == {**json.loads(stored), "enabled": False}
    assert switched_definition(text, False)[1] is False


# -- against real processes ------------------------------------------------------------

def _environment(redis_url: str) -> dict[str, str]:
    return {"SCOPE_TEST_BROKER": redis_url,
            "PYTHONPATH": str(TESTS_DIR) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def _celery(redis_url: str, log: Path, *arguments: str) -> subprocess.Popen:
    with open(log, "ab") as output:
        return subprocess.Popen([sys.executable, "-m", "celery", *arguments, "-l", "INFO"],
                                env={**os.environ, **_environment(redis_url)}, cwd=TESTS_DIR,
                                stdout=output, stderr=subprocess.STDOUT,
                                start_new_session=True)


@pytest.fixture
def worker(redis_server, tmp_path):
    process = _celery(redis_server.url, tmp_path / "worker.log", "-A", "beat_apps:app",
                      "worker", "-E", "-n", "beat-worker@test", "-c", "2", "--without-gossip",
                      "--without-mingle")
    yield process
    stop_process(process)


def _users(tmp_path: Path) -> Path:
    path = tmp_path / "users"
    path.write_text("".join(f"{name}:{role}:{hash_password(name + '-pw')}\n"
                            for name, role in USERS.items()))
    return path


def _scope(tmp_path: Path, redis_url: str, *extra: str, store: str | None = None) -> Scope:
    return Scope(tmp_path, redis_url, "--app", "beat_apps:app", "--users-file",
                 str(_users(tmp_path)), "--beat-refresh", "1", "--inspect-interval", "3600",
                 *extra, store=store, env=_environment(redis_url)).start()


def _post(scope: Scope, entry: str, action: str, auth) -> requests.Response:
    return requests.post(f"{scope.url}/api/beat/{quote(entry, safe='')}/{action}", auth=auth,
                         timeout=20)


def _audit(scope: Scope, action: str) -> list[dict]:
    answer = requests.get(f"{scope.url}/api/audit", params={"action": action}, auth=ADMIN,
                          timeout=10)
    return answer.json()["entries"]


def _count(redis_url: str, label: str) -> int:
    client = redis.Redis.from_url(redis_url)
    try:
        return int(client.get(counter_key(label)) or 0)
    finally:
        client.close()


@pytest.mark.integration
def test_run_now_sends_the_task_once_and_every_refusal_is_recorded(
        redis_server, worker, tmp_path, store_url):
    scope = _scope(tmp_path, redis_server.url, store=store_url)
    try:
        listed = wait_for(lambda: requests.get(f"{scope.url}/api/beat", auth=VIEWER,
                                               timeout=10).json(),
                          lambda body: INTERVAL_ENTRY in json.dumps(body), 30, "the entries")
        assert MINUTE_ENTRY in json.dumps(listed)

        refused = _post(scope, INTERVAL_ENTRY, "run", VIEWER)
        assert refused.status_code == 403 and "needs operator" in refused.json()["error"]
        missing = _post(scope, "no such entry", "run", OPERATOR)
        assert missing.status_code == 404 and "no such entry" in missing.json()["error"]

        answer = _post(scope, INTERVAL_ENTRY, "run", OPERATOR)
        assert answer.status_code == 200, answer.text
        task_id = answer.json()["task-id"]
        wait_until(lambda: _count(redis_server.url, "tick") == 1, 60, "the worker's one run")

        def stored():
            response = requests.get(f"{scope.url}/api/task/info/{task_id}", auth=VIEWER,
                                    timeout=10)
            return response.json() if response.status_code == 200 else {}

        task = wait_for(stored, lambda found: found.get("state") == "SUCCESS", 60,
                        "the run in the store")
        assert task["name"] == "beat_apps.count" and task["args"] == "['tick']"  # as beat's

        records = wait_for(lambda: _audit(scope, "beat_run"), lambda found: len(found) == 3,
                           20, "three beat_run records")
        outcomes = {(record["user"], record["outcome"]) for record in records}
        assert outcomes == {("ann", "refused"), ("otto", "refused"), ("otto", "ok")}
        ok = next(record for record in records if record["outcome"] == "ok")
        assert ok["targets"] == [INTERVAL_ENTRY] and task_id in ok["detail"]
        assert ok["params"] == {"task": "beat_apps.count", "source": "app"}

        # An app entry cannot be switched off: an operator is refused for the role, an
        # admin for the entry (409), and each refusal is recorded.
        assert _post(scope, INTERVAL_ENTRY, "disable", OPERATOR).status_code == 403
        conflict = _post(scope, INTERVAL_ENTRY, "disable", ADMIN)
        assert conflict.status_code == 409 and "beat_schedule" in conflict.json()["error"]
        switched = wait_for(lambda: _audit(scope, "beat_disable"), lambda found: len(found) == 2,
                            20, "two beat_disable records")
        assert {record["outcome"] for record in switched} == {"refused"}
        assert _count(redis_server.url, "tick") == 1  # nothing else was sent
    finally:
        scope.stop()


@pytest.mark.integration
def test_read_only_refuses_run_now_and_records_it(redis_server, worker, tmp_path):
    scope = _scope(tmp_path, redis_server.url, "--read-only")
    try:
        wait_for(lambda: requests.get(f"{scope.url}/api/beat", auth=VIEWER, timeout=10).json(),
                 lambda body: INTERVAL_ENTRY in json.dumps(body), 30, "the entries")
        answer = _post(scope, INTERVAL_ENTRY, "run", ADMIN)
        assert answer.status_code == 403 and "read-only" in answer.json()["error"]
        records = wait_for(lambda: _audit(scope, "beat_run"), lambda found: len(found) == 1,
                           20, "the refusal's record")
        assert records[0]["outcome"] == "refused" and records[0]["targets"] == [INTERVAL_ENTRY]
        client = redis.Redis.from_url(redis_server.url)
        assert client.llen("celery") == 0 and _count(redis_server.url, "tick") == 0
        client.close()
    finally:
        scope.stop()


def _definition(redis_url: str, key: str) -> dict:
    client = redis.Redis.from_url(redis_url)
    try:
        raw = client.hget(key, "definition")
        return json.loads(raw) if raw else {}
    finally:
        client.close()


def _runs_during(redis_url: str, seconds: float) -> int:
    """How many more runs the worker counts in `seconds`: absence is watched for a span."""
    before = _count(redis_url, "redbeat")
    deadline = time.monotonic() + seconds
    wait_until(lambda: time.monotonic() >= deadline, seconds + 5, "the span to pass")
    return _count(redis_url, "redbeat") - before


@pytest.mark.integration
def test_disabling_a_redbeat_entry_stops_its_runs_and_enabling_resumes_them(
        redis_server, worker, tmp_path):
    beat = _celery(redis_server.url, tmp_path / "beat.log", "-A", "beat_apps:redbeat_app",
                   "beat", "-S", "redbeat.RedBeatScheduler", "--max-interval", "1")
    scope = _scope(tmp_path, redis_server.url, "--redbeat-redis-url", redis_server.url)
    try:
        wait_until(lambda: _count(redis_server.url, "redbeat") >= 2, 60, "RedBeat's runs")
        listed = wait_for(lambda: requests.get(f"{scope.url}/api/beat", auth=VIEWER,
                                               timeout=10).json(),
                          lambda body: "redbeat tick" in json.dumps(body), 30,
                          "the RedBeat entry listed")
        assert "redbeat" in json.dumps(listed)

        assert _post(scope, "redbeat tick", "disable", OPERATOR).status_code == 403
        answer = _post(scope, "redbeat tick", "disable", ADMIN)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"entry": "redbeat tick", "source": "redbeat",
                                 "enabled": False, "changed": True}
        assert _definition(redis_server.url, "redbeat:redbeat tick")["enabled"] is False
        _runs_during(redis_server.url, 3)  # a send already under way may still run
        assert _runs_during(redis_server.url, 8) == 0  # four periods: RedBeat skips it

        again = _post(scope, "redbeat tick", "disable", ADMIN).json()
        assert again["changed"] is False  # as the store says, whatever the listing's age
        assert _post(scope, "redbeat tick", "enable", ADMIN).json()["changed"] is True
        before = _count(redis_server.url, "redbeat")
        wait_until(lambda: _count(redis_server.url, "redbeat") >= before + 2, 60,
                   "runs again once enabled")

        records = wait_for(lambda: _audit(scope, "beat_disable") + _audit(scope, "beat_enable"),
                           lambda found: len(found) == 4, 20, "four records")
        assert sorted((record["action"], record["outcome"], record["detail"])
                      for record in records if record["outcome"] == "ok") == [
            ("beat_disable", "ok", "already disabled"),
            ("beat_disable", "ok", "disabled in redbeat"),
            ("beat_enable", "ok", "enabled in redbeat")]
        assert [record["user"] for record in records if record["outcome"] == "refused"] == \
            ["otto"]
    finally:
        scope.stop()
        stop_process(beat)
