"""Failure triage: fingerprints, derived states and issue groups, in SQL on both stores,
and end to end with real workers (200 failures of three kinds, some recovering)."""
import csv
import io
import json
import sqlite3
import time
import urllib.request
import uuid

import pytest
from playwright.sync_api import expect

from celery_scope.query_string import FilterError
from celery_scope.store.fingerprint import fingerprint, normalize, split_exception
from celery_scope.store.history import HistoryStore
from celery_scope.store.merge import apply_task_event, new_task_row
from celery_scope.tasks import queries as task_queries
from celery_scope.tasks.filters import parse_filter
from celery_scope.tasks.search_terms import parse_search
from celery_scope.triage.queries import issue_report
from celery_scope.triage.request import parse_request
from celery_scope.triage.view import bar_heights

from .helpers import wait_for


@pytest.mark.parametrize("exception, kind, folded", [
    pytest.param("ValueError('order 5f3a9c1b-1234-4abc-8def-0123456789ab not found')",
                 "ValueError", "order <uuid> not found", id="uuid"),
    pytest.param("ValueError('order 12 of 3.5 items')", "ValueError",
                 "order <n> of <n> items", id="numbers"),
    pytest.param("""RuntimeError("user 'bob' at 0x7fa3 id deadbeef12")""", "RuntimeError",
                 "user '<str>' at <hex> id <hex>", id="quoted-and-hex"),
    pytest.param("KeyError('customer')", "KeyError", "customer", id="lone-string-unquoted"),
    pytest.param("ValueError('a', 3, -2)", "ValueError", "'<str>', <n>, <n>", id="several-args"),
    pytest.param("worker-12 lost", "", "worker-<n> lost", id="no-call"),
    pytest.param("IOError('s3 ipv4   down')", "IOError", "s3 ipv4 down", id="words-with-digits"),
])
def test_messages_fold_what_varies(exception, kind, folded):
    found_kind, message = split_exception(exception)
    assert (found_kind, normalize(message)) == (kind, folded)


def test_fingerprints_join_varying_ids_and_part_types_names_and_messages():
    same = {fingerprint("t", f"ValueError('order {uuid.uuid4()} not found')") for _ in range(5)}
    assert len(same) == 1
    assert len({fingerprint("t", "ValueError('x')"), fingerprint("t", "KeyError('x')"),
                fingerprint("u", "ValueError('x')"), fingerprint("t", "ValueError('y')")}) == 4


def _events(uuid_, *steps, name="app.charge", exception="ValueError('order 1 not found')"):
    """Task events from worker w@h; each step (kind, time, extra fields)."""
    row = new_task_row(uuid_)
    for kind, moment, extra in steps:
        event = {"type": f"task-{kind}", "uuid": uuid_, "timestamp": moment,
                 "hostname": "w@h", **extra}
        if kind == "received":
            event.setdefault("name", name)
        if kind in ("failed", "retried"):
            event.setdefault("exception", exception)
        apply_task_event(row, event)
    return row


def test_a_failure_arriving_before_its_name_is_fingerprinted_with_it():
    row = _events("a", ("failed", 2.0, {}), ("received", 1.0, {}))
    assert row["issue"] == fingerprint("app.charge", "ValueError('order 1 not found')")


def _history(now):
    """12 tasks: 4 dead orders, 2 orders recovered after a retry, 1 retrying, 3 dead
    payments (another worker), a success never retried, one failure a day ago."""
    rows = []
    for index in range(4):
        rows.append(_events(f"dead-{index}", ("received", now - 50, {}),
                            ("failed", now - 40 + index, {}),
                            exception=f"ValueError('order {uuid.uuid4()} not found')"))
    for index in range(2):
        rows.append(_events(f"rec-{index}", ("received", now - 50, {"retries": 0}),
                            ("retried", now - 30, {}), ("received", now - 29, {"retries": 1}),
                            ("succeeded", now - 28, {"result": "1"}),
                            exception=f"ValueError('order {uuid.uuid4()} not found')"))
    rows.append(_events("retrying", ("received", now - 50, {}), ("retried", now - 20, {}),
                        exception="ValueError('order 0b8e4a4c-96f5-4a9e-9d5c-0e4bd1d0c3e7 "
                                  "not found')"))
    for index in range(3):
        row = _events(f"pay-{index}", ("received", now - 50, {}), ("failed", now - 10, {}),
                      exception="KeyError('customer')")
        row["worker"] = "w2@h"
        rows.append(row)
    rows.append(_events("fine", ("received", now - 50, {}), ("succeeded", now - 49, {})))
    rows.append(_events("old", ("received", now - 86400, {}), ("failed", now - 86000, {}),
                        exception=f"ValueError('order {uuid.uuid4()} not found')"))
    return rows


@pytest.fixture
def history(store_url):
    store = HistoryStore(store_url)
    now = time.time()
    store.write(_history(now))
    yield store, now
    store.close()


@pytest.mark.parametrize("state, expected", [
    pytest.param("RECOVERED", {"rec-0", "rec-1"}, id="recovered"),
    pytest.param("DEAD", {"dead-0", "dead-1", "dead-2", "dead-3", "pay-0", "pay-1", "pay-2",
                          "old"}, id="dead"),
    pytest.param("RETRYING", {"retrying"}, id="retrying"),
])
def test_derived_states_as_filter_search_term_and_mixed(history, state, expected):
    store, now = history
    by_param = parse_filter({"state": state.lower()}, now)
    by_search = parse_filter({"search": f"state:{state.lower()}"}, now)
    for task_filter in (by_param, by_search):
        rows = task_queries.page(store.engine, task_filter, 0, 100, now)
        assert {row["uuid"] for row in rows} == expected
    mixed = parse_filter({"state": f"{state},SUCCESS"}, now)
    assert task_queries.count(store.engine, mixed, now) == len(expected | {"fine", "rec-0",
                                                                           "rec-1"})


def test_issue_groups_count_sample_and_draw_each_issue(history):
    store, now = history
    report = issue_report(store.engine, parse_request({"range": "1h"}, now), now)
    assert (report.total_failures, report.total_issues) == (10, 2)
    assert (report.total_recovered, report.total_dead) == (2, 7)
    payments, orders = report.issues  # newest first: the payments failed last
    assert (payments.exception_type, payments.message, payments.task_name) == (
        "KeyError", "customer", "app.charge")
    assert (payments.count, payments.dead, payments.recovered, payments.workers) == (3, 3, 0, 1)
    assert (orders.count, orders.dead, orders.recovered, orders.retrying) == (7, 4, 2, 1)
    assert (orders.message, orders.first_seen) == ("order <uuid> not found", now - 40)
    assert orders.last_seen == now - 20 and orders.sample_id == "retrying"
    assert sum(orders.sparkline) == 7 and orders.sparkline[-1] == 7  # all in the last bar
    grid = parse_filter({"search": f"issue:{orders.issue}"}, now)
    assert task_queries.count(store.engine, grid, now) == 8  # the day-old one too
    whole = issue_report(store.engine, parse_request({"range": "all"}, now), now)
    assert [issue.count for issue in whole.issues] == [3, 8]
    narrowed = parse_request({"range": "all", "worker": "w2@h", "limit": "5"}, now)
    assert [issue.count for issue in issue_report(store.engine, narrowed, now).issues] == [3]


@pytest.mark.parametrize("params, problem", [
    pytest.param({"time_field": "started"}, "time_field", id="time-field"),
    pytest.param({"sort": "name"}, "sort", id="sort"),
    pytest.param({"limit": "0"}, "limit", id="limit-too-small"),
    pytest.param({"limit": "x"}, "limit", id="limit-not-a-number"),
    pytest.param({"range": "often"}, "range", id="range"),
])
def test_bad_issue_requests_name_the_parameter(params, problem):
    with pytest.raises(FilterError, match=problem):
        parse_request(params)


def test_the_search_box_reads_issue_terms():
    assert parse_search("issue:ab12,cd34 state:dead").issues == ("ab12", "cd34")


def test_bars_scale_to_the_tallest_and_a_lone_failure_shows():
    assert bar_heights([0, 1, 200, 100]) == [0, 8, 100, 50]


def test_a_store_made_before_issues_gets_them_when_it_opens(tmp_path):
    path = tmp_path / "old.db"
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE tasks (uuid VARCHAR PRIMARY KEY, name VARCHAR, state "
                       "VARCHAR(32) NOT NULL, timestamp FLOAT NOT NULL, exception TEXT)")
    connection.execute("INSERT INTO tasks VALUES ('a', 't', 'FAILURE', 1, 'KeyError(''k'')'),"
                       " ('b', 't', 'SUCCESS', 1, NULL)")
    connection.commit()
    connection.close()
    for _ in range(2):  # opening again changes nothing
        store = HistoryStore(f"sqlite:///{path}")
        with store.engine.connect() as reading:
            rows = dict(reading.exec_driver_sql("SELECT uuid, issue FROM tasks").all())
        store.close()
        assert rows == {"a": fingerprint("t", "KeyError('k')"), "b": None}


def _json(scope, path):
    with urllib.request.urlopen(scope.url + path, timeout=10) as response:
        return json.loads(response.read())


def send_failures(cluster_app, dead_orders=80, recovering=20, payments=70, customers=50):
    """Three kinds of failure (two exception types, one with varying ids in its message)
    and orders that fail once and recover after a retry."""
    send = cluster_app.send_task
    for index in range(dead_orders):
        send("cluster.triage", ("order", str(uuid.uuid4())))
    for index in range(recovering):
        send("cluster.triage", ("order", str(uuid.uuid4())), {"recover": True})
    for _ in range(payments):
        send("cluster.triage", ("payment", 0))
    for _ in range(customers):
        send("cluster.triage", ("customer", 0))


@pytest.mark.browser
def test_200_failures_of_three_kinds_make_three_issues(redis_server, workers, scope,
                                                       cluster_app, page):
    instance = scope(redis_server.url)
    workers("w1@triage", "w2@triage")
    send_failures(cluster_app)
    report = wait_for(lambda: _json(instance, "/api/issues"),
                      lambda found: found["total_failures"] == 220
                      and found["total_recovered"] == 20, 90, "220 failures, 20 recovered")
    groups = {(issue["exception_type"], issue["message"]): issue for issue in report["issues"]}
    assert set(groups) == {("ValueError", "order <uuid> not found"),
                           ("ValueError", "payment gateway refused the charge"),
                           ("KeyError", "customer")}
    assert len(report["issues"]) == report["total_issues"] == 3
    orders = groups["ValueError", "order <uuid> not found"]
    assert (orders["count"], orders["dead"], orders["recovered"]) == (100, 80, 20)
    payment = groups["ValueError", "payment gateway refused the charge"]
    customer = groups["KeyError", "customer"]
    assert [(group["count"], group["dead"], group["recovered"])
            for group in (payment, customer)] == [(70, 70, 0), (50, 50, 0)]
    assert {group["task_name"] for group in groups.values()} == {"cluster.triage"}
    assert all(group["workers"] >= 1 and sum(group["sparkline"]) == group["count"]
               for group in groups.values())
    sample = _json(instance, f"/api/task/info/{orders['sample_id']}")
    assert sample["name"] == "cluster.triage" and "not found" in sample["exception"]
    # the grid's view of the same group, and the derived states through the API
    assert _rows(instance, f"search=issue:{orders['issue']}") == 100
    assert _rows(instance, "state=RECOVERED") == 20
    assert _rows(instance, "search=state:dead%20name:cluster.triage") == 200
    # the grid counts a derived state by itself (RECOVERED tasks are stored as SUCCESS)
    page.goto(f"{instance.url}/tasks?state=RECOVERED")
    expect(page.locator("#tasks-count")).to_have_text("20 tasks match", timeout=15000)


def _rows(scope, query):
    """Tasks in the CSV export of a filter."""
    return len(list(csv.reader(io.StringIO(scope.get(f"/api/tasks.csv?{query}"))))) - 1
