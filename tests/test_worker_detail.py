"""Worker page data from Inspector snapshots: input snapshot → expected rows."""
from zoneinfo import ZoneInfo

import pytest

from celery_scope.formatting import display_value, human_bytes, human_seconds, moment_text
from celery_scope.workers.detail import (
    broker_facts,
    conf_rows,
    inspected_at,
    limit_rows,
    mask_secrets,
    pool_facts,
    pool_restarts_off,
    process_count,
    queue_rows,
    registered_names,
    system_facts,
    task_rows,
)

STATS = {
    "pid": 4242, "uptime": 3725, "clock": "88", "prefetch_count": 8,
    "total": {"a.add": 3, "a.fail": 7},
    "pool": {"implementation": "celery.concurrency.prefork:TaskPool", "max-concurrency": 2,
             "processes": [11, 12], "max-tasks-per-child": "N/A", "timeouts": [30, 60]},
    "broker": {"hostname": "rabbit", "port": 5672, "password": "hunter2", "transport": "amqp"},
    "rusage": {"utime": 1.5, "stime": 0.25, "maxrss": 51200, "minflt": 10, "majflt": 0},
}
SNAPSHOT = {
    "stats": {"reply": STATS, "at": 100.0},
    "active_queues": {"reply": [{"name": "celery", "exchange": {"name": "celery", "type": "direct"},
                                 "routing_key": "celery", "durable": True, "auto_delete": False,
                                 "exclusive": False}], "at": 101.0},
    "active": {"reply": [{"id": "t1", "name": "a.add", "args": [1, 2], "kwargs": {},
                          "time_start": 99.0, "worker_pid": 11}], "at": 100.5},
    "scheduled": {"reply": [{"eta": "2026-01-01T00:00:00+00:00", "priority": 6,
                             "request": {"id": "t2", "name": "a.add", "args": [3], "kwargs": {}}}],
                  "at": 100.0},
    "revoked": {"reply": ["t3"], "at": 100.0},
    "registered": {"reply": ["a.add", "a.fail [rate_limit=10/m]"], "at": 100.0},
    "conf": {"reply": {"broker_url": "amqp://guest:secret@rabbit//", "result_backend_password": "x",
                       "worker_concurrency": 2}, "at": 100.0},
}


def test_pool_facts():
    facts = dict(pool_facts(SNAPSHOT))
    assert facts["Max concurrency"] == "2" and facts["Processes"] == "11, 12"
    assert facts["Process count"] == "2" and facts["Prefetch count"] == "8"
    assert facts["Soft time limit"] == "30 s" and facts["Hard time limit"] == "1 min 0 s"
    assert process_count(SNAPSHOT) == 2


def test_broker_facts_hide_the_password():
    facts = dict(broker_facts(SNAPSHOT))
    assert facts["Password"] == "••••••" and facts["Hostname"] == "rabbit"


def test_system_facts_are_readable():
    facts = dict(system_facts(SNAPSHOT))
    assert facts["Uptime"] == "1 h 2 min" and facts["Max resident memory"] == "50.0 MiB"
    assert facts["User CPU time"] == "1.5 s"
    assert {row["name"]: row["processed"] for row in limit_rows(SNAPSHOT)} == {
        "a.add": 3, "a.fail": 7}


def test_queue_and_task_rows():
    assert queue_rows(SNAPSHOT) == [{"name": "celery", "exchange": "celery",
                                     "exchange_type": "direct", "routing_key": "celery",
                                     "durable": "yes", "auto_delete": "no", "exclusive": "no"}]
    (active,) = task_rows(SNAPSHOT, "active")
    assert active == {"id": "t1", "name": "a.add", "args": "1, 2", "kwargs": "{}", "when": 99.0,
                      "pid": 11}
    (scheduled,) = task_rows(SNAPSHOT, "scheduled")
    # one unit for started times and ETAs: epoch seconds, formatted by the grid
    assert scheduled["id"] == "t2" and scheduled["when"] == 1767225600.0
    assert task_rows(SNAPSHOT, "revoked")[0]["id"] == "t3"
    assert task_rows(SNAPSHOT, "reserved") == []


def test_registered_and_conf():
    assert registered_names(SNAPSHOT) == ["a.add", "a.fail"]
    conf = dict(conf_rows(SNAPSHOT))
    assert conf["broker_url"] == "amqp://guest:••••••@rabbit//"
    assert conf["result_backend_password"] == "••••••" and conf["worker_concurrency"] == "2"
    assert inspected_at(SNAPSHOT) == 101.0


def test_never_inspected_worker_gives_empty_sections():
    assert pool_facts({}) == [] and broker_facts({}) == [] and system_facts({}) == []
    assert queue_rows({}) == [] and task_rows({}, "active") == [] and registered_names({}) == []
    assert inspected_at({}) is None


@pytest.mark.parametrize("value, text", [(None, "–"), (0, "0 B"), (1536, "1.5 KiB"),
                                         (5 * 1024 ** 3, "5.0 GiB")])
def test_human_bytes(value, text):
    assert human_bytes(value) == text


@pytest.mark.parametrize("value, text", [(0.25, "0.25 s"), (42, "42 s"), (250, "4 min 10 s"),
                                         (7500, "2 h 5 min"), (273600, "3 d 4 h")])
def test_human_seconds(value, text):
    assert human_seconds(value) == text


def test_display_and_masking():
    assert display_value(True) == "yes" and display_value([]) == "–"
    assert display_value({"b": 1, "a": 2}) == '{"a": 2, "b": 1}'
    assert mask_secrets("api_key", "abc") == "••••••" and mask_secrets("keys", "abc") == "abc"


def test_registered_names_are_parsed_once_for_pages_and_api_alike():
    from celery_scope.workers.detail import cluster_registered_names
    snapshots = [{"registered": {"reply": ["a.add [rate_limit=10/m]", "b.with space <i>x</i>"]}},
                 {"registered": {"reply": ["a.add", "c.other [time_limit=5]"]}}, {}]
    assert cluster_registered_names(snapshots) == {"a.add", "b.with space <i>x</i>", "c.other"}


@pytest.mark.parametrize("snapshot, rows", [
    pytest.param(SNAPSHOT, [
        {"name": "a.add", "rate": "none", "soft": "30 s", "hard": "60 s", "processed": 3},
        {"name": "a.fail", "rate": "10/m", "soft": "30 s", "hard": "60 s", "processed": 7}],
        id="rate from registered, time limits from the pool's defaults"),
    pytest.param({"registered": {"reply": ["b.x [rate_limit=1/s time_limit=9 soft_time_limit=4]"]},
                  "stats": {"reply": {"pool": {"timeouts": [0, 0]}}},
                  "conf": {"reply": {"task_default_rate_limit": "5/m"}}},
                 [{"name": "b.x", "rate": "1/s", "soft": "4 s", "hard": "9 s", "processed": 0}],
                 id="a task's own limits win"),
    pytest.param({"registered": {"reply": ["c.y"]}, "stats": {"reply": {}},
                  "conf": {"reply": {"task_default_rate_limit": "5/m", "task_time_limit": 120}}},
                 [{"name": "c.y", "rate": "5/m", "soft": "none", "hard": "120 s",
                   "processed": 0}], id="configured defaults"),
    pytest.param({}, [], id="never inspected"),
])
def test_limit_rows(snapshot, rows):
    assert limit_rows(snapshot) == rows


@pytest.mark.parametrize("snapshot, off", [
    pytest.param(SNAPSHOT, True, id="conf without the setting: Celery's default, off"),
    pytest.param({"conf": {"reply": {"worker_pool_restarts": True}}}, False, id="on"),
    pytest.param({}, False, id="conf not known yet: not judged"),
])
def test_pool_restarts_off(snapshot, off):
    assert pool_restarts_off(snapshot) is off


def test_started_and_eta_share_one_unit():
    snapshot = {"scheduled": {"reply": [{"eta": "2026-01-01T00:00:00.250000", "request": {}},
                                        {"eta": "not a date", "request": {}}]}}
    assert [row["when"] for row in task_rows(snapshot, "scheduled")] == [1767225600.25, None]


@pytest.mark.parametrize("action, params, arguments, confirm", [
    pytest.param("grow", {"n": 2}, {"n": 2}, ("Grow pool", "Adds 2 pool process(es).", False),
                 id="grow"),
    pytest.param("grow", {"n": None}, {"n": 1}, ("Grow pool", "Adds 1 pool process(es).", False),
                 id="grow by one by default"),
    pytest.param("autoscale", {"min": 0, "max": 3}, {"min": 0, "max": 3},
                 ("Autoscale", "The pool keeps between 0 and 3 processes.", False), id="autoscale"),
    pytest.param("time_limit", {"task": "a.add", "soft": 5, "hard": None},
                 {"task": "a.add", "soft": 5.0, "hard": None},
                 ("Set time limits", "a.add: soft limit 5 s, hard limit none.", False),
                 id="time limits"),
    pytest.param("shutdown", {}, {}, ("Shut down", "It stops taking tasks, finishes the ones "
                                      "running and exits; something outside celery-scope must "
                                      "start it again.", True), id="shutdown is dangerous"),
])
def test_actions_are_checked_and_explained_before_they_run(action, params, arguments, confirm):
    from celery_scope.workers.actions import check_action, confirmation
    assert check_action(action, params) == arguments
    assert confirmation(action, arguments) == confirm


@pytest.mark.parametrize("action, params, error", [
    pytest.param("grow", {"n": 0}, "number of processes must be at least 1", id="grow by 0"),
    pytest.param("autoscale", {"min": 4, "max": 2}, "must not exceed", id="min above max"),
    pytest.param("rate_limit", {"task": "a.add", "rate": " "}, "choose a rate", id="no rate"),
    pytest.param("time_limit", {"task": None, "soft": 1}, "choose a task", id="no task"),
    pytest.param("time_limit", {"task": "a", "soft": 9, "hard": 3}, "soft limit must not",
                 id="soft above hard"),
    pytest.param("add_consumer", {"queue": ""}, "queue is required", id="no queue"),
])
def test_bad_input_is_refused_before_asking(action, params, error):
    from celery_scope.broker.gate import ControlError
    from celery_scope.workers.actions import check_action
    with pytest.raises(ControlError, match=error):
        check_action(action, params)


def test_a_moment_is_shown_on_the_browser_s_wall_clock():
    assert moment_text(1_800_000_000, ZoneInfo("Asia/Kolkata")) == "2027-01-15 13:30:00"
    assert moment_text(1_800_000_000, ZoneInfo("UTC")) == "2027-01-15 08:00:00"
    assert moment_text(float("nan"), ZoneInfo("UTC")) == "–"
