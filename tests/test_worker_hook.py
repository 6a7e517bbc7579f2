"""The worker hook (beat/worker_hook.py): its task-scope-headers event is decoded, names the
task's periodic task in the store and leaves the task's state as Celery's precedence makes
it, in any arrival order; a malformed one is quarantined; and a real worker started with
the hook reports the header a periodic task's message carries."""
from __future__ import annotations

import itertools

import pytest

from celery_scope.beat.worker_hook import EVENT, header_fields
from celery_scope.collector.decode import MalformedEvent, iter_events, normalize_event
from celery_scope.store.history import HistoryStore
from celery_scope.store.merge import apply_task_event, new_task_row

from .helpers import message, start_worker, stop_process, task, wait_for

HOOK = "celery_scope.beat.worker_hook"


def headers_event(uuid: str, ts: float, **fields) -> dict:
    return normalize_event(task(EVENT, uuid, ts, **fields))


def lifecycle(uuid: str) -> list[dict]:
    return [normalize_event(task("task-received", uuid, 10.0, name="proj.tick", args="()",
                                 kwargs="{}")),
            normalize_event(task("task-started", uuid, 11.0)),
            normalize_event(task("task-succeeded", uuid, 12.0, result="1", runtime=0.5))]


def test_header_fields_forwards_only_the_headers_present():
    assert header_fields({"periodic_task_name": "nightly", "group": None, "lang": "py",
                          "group_index": 0}) == {"periodic_task_name": "nightly",
                                                 "group_index": 0}
    assert header_fields({"id": "x"}) == {}
    assert header_fields(None) == {}


def test_the_event_is_decoded_with_its_headers():
    event = headers_event("t1", 10.5, periodic_task_name="nightly <b>report</b>",
                          group="g-1", group_index=2)
    assert event["periodic_task_name"] == "nightly <b>report</b>"
    assert (event["group"], event["group_index"]) == ("g-1", 2)


@pytest.mark.parametrize("fields, reason", [
    pytest.param({"periodic_task_name": ["a"]}, "not text", id="name-not-text"),
    pytest.param({"group_index": "two"}, "non-numeric", id="index-not-a-number"),
    pytest.param({"group_index": 1.5}, "fractional", id="index-fractional"),
])
def test_a_malformed_headers_event_is_refused_with_its_reason(fields, reason):
    (problem,) = iter_events(message(task(EVENT, "t1", 10.0, **fields)))
    assert isinstance(problem, MalformedEvent) and reason in problem.reason


def test_the_headers_event_names_the_entry_and_never_moves_the_state():
    events = [*lifecycle("t1"), headers_event("t1", 10.2, periodic_task_name="nightly")]
    expected = new_task_row("t1")
    for event in events[:3]:
        apply_task_event(expected, event)
    for order in itertools.permutations(events):
        row = new_task_row("t1")
        counters = [apply_task_event(row, event) for event in order]
        assert row["periodic_task"] == "nightly", order
        assert {key: value for key, value in row.items() if key != "periodic_task"} == \
            {key: value for key, value in expected.items() if key != "periodic_task"}, order
        assert counters.count("succeeded") == 1


def test_a_headers_event_first_makes_a_pending_row_that_any_real_event_replaces():
    row = new_task_row("t1")
    assert apply_task_event(row, headers_event("t1", 10.0, periodic_task_name="n")) is None
    assert (row["state"], row["timestamp"], row["received"]) == ("PENDING", 10.0, None)
    apply_task_event(row, normalize_event(task("task-received", "t1", 10.1, name="proj.x")))
    assert (row["state"], row["name"]) == ("RECEIVED", "proj.x")


def test_a_replayed_headers_event_changes_nothing_and_the_first_name_stays():
    row = new_task_row("t1")
    for event in lifecycle("t1"):
        apply_task_event(row, event)
    apply_task_event(row, headers_event("t1", 10.2, periodic_task_name="first"))
    before = dict(row)
    apply_task_event(row, headers_event("t1", 10.2, periodic_task_name="first"))
    apply_task_event(row, headers_event("t1", 10.3, periodic_task_name="second"))
    assert row == before


def periodic_of(store: HistoryStore, uuid: str) -> dict:
    rows = store.load_tasks([uuid])
    return rows.get(uuid) or {}


@pytest.mark.integration
def test_a_worker_with_the_hook_names_the_periodic_task_in_the_store(
        redis_server, scope, cluster_app, tmp_path, store_url):
    worker = start_worker(redis_server.url, "hooked@test", tmp_path, options=("-I", HOOK))
    try:
        dashboard = scope(redis_server.url, store=store_url)
        store = HistoryStore(dashboard.store)
        wait_for(lambda: [row["hostname"] for row in store.workers()],
                 lambda names: "hooked@test" in names, 60, "the hooked worker's heartbeat")
        periodic = cluster_app.send_task("cluster.add", args=(1, 2),
                                         headers={"periodic_task_name": "every <2> seconds"})
        plain = cluster_app.send_task("cluster.add", args=(3, 4))
        row = wait_for(lambda: periodic_of(store, periodic.id),
                       lambda found: found.get("state") == "SUCCESS"
                       and found.get("periodic_task"), 60, "the periodic task's row")
        assert row["periodic_task"] == "every <2> seconds"
        assert row["name"] == "cluster.add" and row["args"] == "(1, 2)"
        other = wait_for(lambda: periodic_of(store, plain.id),
                         lambda found: found.get("state") == "SUCCESS", 60, "the plain task")
        assert other["periodic_task"] is None
        assert dashboard.status()["malformed"] == 0
        store.close()
    finally:
        stop_process(worker)
