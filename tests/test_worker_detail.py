"""Worker page data from Inspector snapshots: input snapshot → expected rows."""
import pytest

from app.formatting import display_value, human_bytes, human_seconds
from app.worker_detail import (
    broker_facts,
    conf_rows,
    inspected_at,
    mask_secrets,
    pool_facts,
    process_count,
    queue_rows,
    registered_names,
    system_facts,
    task_rows,
    task_totals,
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
    assert task_totals(SNAPSHOT) == [("a.fail", 7), ("a.add", 3)]


def test_queue_and_task_rows():
    assert queue_rows(SNAPSHOT) == [{"name": "celery", "exchange": "celery",
                                     "exchange_type": "direct", "routing_key": "celery",
                                     "durable": "yes", "auto_delete": "no", "exclusive": "no"}]
    (active,) = task_rows(SNAPSHOT, "active")
    assert active == {"id": "t1", "name": "a.add", "args": "1, 2", "kwargs": "{}", "when": 99.0,
                      "pid": 11}
    (scheduled,) = task_rows(SNAPSHOT, "scheduled")
    assert scheduled["id"] == "t2" and scheduled["when"] == "2026-01-01T00:00:00+00:00"
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
