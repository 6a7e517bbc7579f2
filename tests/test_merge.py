"""Merge rules, replayed: every order of a task's events gives the same row."""
import itertools
import random

import pytest

from celery_scope.store.merge import (
    apply_task_event,
    apply_worker_event,
    new_task_row,
    new_worker_row,
    takes_state,
)

UUID = "6f1c2a8e-0000-4000-8000-000000000001"


def task_event(kind, ts, **fields):
    return {"type": kind, "uuid": UUID, "timestamp": ts, "hostname": "w1@host", **fields}


SUCCESS_RUN = [
    task_event("task-sent", 1.0, hostname="client@host", name="proj.add", args="(1, 2)",
               kwargs="{}", queue="celery", routing_key="celery", retries=0),
    task_event("task-received", 2.0, name="proj.add", args="(1, 2)", kwargs="{}", retries=0),
    task_event("task-started", 3.0),
    task_event("task-succeeded", 4.5, result="3", runtime=1.5),
]
FAILURE_RUN = [
    task_event("task-received", 2.0, name="proj.fail", args="()", kwargs="{}"),
    task_event("task-started", 3.0),
    task_event("task-failed", 4.0, exception="ValueError('x')", traceback="Traceback ..."),
]
RETRY_RUN = [
    task_event("task-received", 1.0, name="proj.flaky", args="()", kwargs="{}", retries=0),
    task_event("task-started", 2.0),
    task_event("task-retried", 3.0, exception="RuntimeError('again')", traceback="tb"),
    task_event("task-received", 4.0, name="proj.flaky", args="()", kwargs="{}", retries=1,
               hostname="w2@host"),
    task_event("task-started", 5.0, hostname="w2@host"),
    task_event("task-succeeded", 6.0, result="'ok'", runtime=1.0, hostname="w2@host"),
]


def replay(events):
    row = new_task_row(UUID)
    counters = [apply_task_event(row, dict(event)) for event in events]
    return row, [counter for counter in counters if counter]


def orders(events, limit=200):
    """Every permutation for short runs, a seeded sample of them for long ones."""
    permutations = list(itertools.permutations(events))
    random.Random(7).shuffle(permutations)
    return permutations[:limit]


@pytest.mark.parametrize("run", [pytest.param(SUCCESS_RUN, id="success"),
                                 pytest.param(FAILURE_RUN, id="failure"),
                                 pytest.param(RETRY_RUN, id="retry-then-success")])
def test_any_arrival_order_gives_the_in_order_row(run):
    expected, _ = replay(run)
    for order in orders(run):
        row, _ = replay(order)
        assert row == expected, [event["type"] for event in order]


def test_success_row_holds_every_field_and_step_time():
    row, counters = replay(SUCCESS_RUN)
    assert row["state"] == "SUCCESS" and row["timestamp"] == 4.5
    assert (row["name"], row["args"], row["kwargs"], row["result"]) == (
        "proj.add", "(1, 2)", "{}", "3")
    assert (row["sent"], row["received"], row["started"], row["succeeded"]) == (1.0, 2.0, 3.0, 4.5)
    assert row["worker"] == "w1@host" and row["client"] == "client@host"
    assert row["queue"] == "celery" and row["runtime"] == 1.5
    assert counters == ["succeeded"]


def test_retried_task_ends_on_the_worker_that_finished_it():
    row, counters = replay(RETRY_RUN)
    assert row["state"] == "SUCCESS"
    assert row["worker"] == "w2@host"
    assert row["retries"] == 1
    assert row["retried"] == 3.0 and row["received"] == 4.0
    assert row["exception"] == "RuntimeError('again')"
    assert counters == ["retried", "succeeded"]


def test_a_late_earlier_event_never_moves_the_state_back():
    row, _ = replay([SUCCESS_RUN[3], SUCCESS_RUN[2], SUCCESS_RUN[1]])
    assert row["state"] == "SUCCESS"
    assert row["name"] == "proj.add"  # filled in by the late received event


def test_known_fields_are_never_erased_by_none():
    row, _ = replay([SUCCESS_RUN[1], task_event("task-received", 2.5, name=None, args=None)])
    assert row["name"] == "proj.add" and row["args"] == "(1, 2)"


def test_state_between_retries_follows_time():
    row, _ = replay(RETRY_RUN[:3])
    assert row["state"] == "RETRY"
    row, _ = replay(RETRY_RUN[:4])
    assert row["state"] == "RECEIVED"


def test_duplicate_final_event_is_counted_once():
    _, counters = replay(SUCCESS_RUN + [SUCCESS_RUN[3]])
    assert counters == ["succeeded"]


def test_custom_task_state_from_custom_event():
    row, _ = replay([SUCCESS_RUN[1], task_event("task-progress", 2.5)])
    assert row["state"] == "PROGRESS"


def test_non_text_values_are_stored_as_text():
    row, _ = replay([task_event("task-succeeded", 1.0, result={"a": 1}, runtime=0.1)])
    assert row["result"] == "{'a': 1}"


@pytest.mark.parametrize("current, new, expected", [
    pytest.param(None, "PENDING", True, id="first-event"),
    pytest.param("STARTED", "RECEIVED", False, id="earlier-state"),
    pytest.param("RECEIVED", "STARTED", True, id="later-state"),
    pytest.param("SUCCESS", "RETRY", False, id="retry-after-ready"),
    pytest.param("RETRY", "RECEIVED", True, id="re-received-after-retry"),
])
def test_takes_state(current, new, expected):
    assert takes_state(current, 1.0, new, 2.0) is expected


def test_retry_from_the_past_does_not_override_a_newer_attempt():
    assert takes_state("STARTED", 5.0, "RETRY", 3.0) is False


def worker_event(kind, ts, **fields):
    return {"type": kind, "hostname": "w1@host", "timestamp": ts, **fields}


def test_worker_heartbeat_then_late_offline_keeps_latest():
    row = new_worker_row("w1@host")
    assert apply_worker_event(row, worker_event("worker-heartbeat", 10.0, active=2, processed=5,
                                                loadavg=[0.5, 0.4, 0.3], freq=2.0))
    assert not apply_worker_event(row, worker_event("worker-offline", 9.0))
    assert row["status"] == "online" and row["active"] == 2 and row["load1"] == 0.5
    apply_worker_event(row, worker_event("worker-offline", 11.0))
    assert row["status"] == "offline" and row["last_heartbeat"] == 11.0
    assert row["first_seen"] == 9.0
