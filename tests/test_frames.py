"""Frames and status text: input rows → expected table."""
from zoneinfo import ZoneInfo

import orjson
import pytest
from dash import html
from dash._utils import to_json

from celery_scope.collector import metric_state
from celery_scope.components.json_tree import plain
from celery_scope.components.status_banner import describe_status
from celery_scope.workers.frames import (
    dashboard_summary,
    online_hostnames,
    worker_records,
    worker_totals,
)
from celery_scope.workers.liveness import is_online

NOW = 1_000.0


def worker(hostname, status="online", last=NOW - 1, freq=2.0, active=0, **extra):
    return {"hostname": hostname, "status": status, "last_heartbeat": last, "freq": freq,
            "active": active, **extra}


@pytest.mark.parametrize("row, online", [
    pytest.param(worker("a"), True, id="fresh-heartbeat"),
    pytest.param(worker("a", last=NOW - 5.0), True, id="two-intervals-and-the-slack-is-the-edge"),
    pytest.param(worker("a", last=NOW - 5.1), False, id="heartbeats-stopped"),
    pytest.param(worker("a", freq=None, last=NOW - 3), True, id="default-frequency"),
    pytest.param(worker("a", status="offline"), False, id="said-goodbye"),
    pytest.param(worker("a", last=None), False, id="never-heard"),
])
def test_is_online(row, online):
    assert is_online(row, NOW) is online


@pytest.mark.parametrize("age", [0.0, 3.9, 4.0, 4.5, 5.0, 5.1, 9.0])
def test_the_pages_and_metrics_agree_on_who_is_online(age):
    """One rule (workers/liveness.py): /api/workers and /metrics never disagree."""
    row = worker("a", last=NOW - age)
    metric_worker = {"last": row["last_heartbeat"], "freq": row["freq"], "offline": False}
    assert is_online(row, NOW) is metric_state.is_online(metric_worker, NOW)


def test_worker_records_order_online_first_and_fill_counters():
    records = worker_records([worker("b", status="offline"), worker("c"),
                              worker("a", last=NOW - 60),
                              worker("d", sw_ident="py-celery", sw_ver="5.4.0", succeeded=3)],
                             NOW)
    assert [record["hostname"] for record in records] == ["c", "d", "a", "b"]
    assert [record["status"] for record in records] == ["online", "online", "offline",
                                                        "offline"]
    assert records[1]["software"] == "py-celery 5.4.0" and records[1]["succeeded"] == 3
    assert records[0]["failed"] == 0
    assert records[2]["heartbeat_age"] == 60
    assert online_hostnames(records) == ["c", "d"]


def test_worker_records_are_plain_values_orjson_takes_in_one_call():
    records = worker_records([worker("a", load1=0.5, active=2, processed=9)], NOW)
    assert orjson.loads(orjson.dumps(records)) == records


def test_no_workers_summarise_to_zero():
    records = worker_records([], NOW)
    assert records == []
    assert dashboard_summary(records, {}) == {"workers_online": 0, "workers_offline": 0,
                                              "tasks_active": 0, "succeeded_recent": 0,
                                              "failed_recent": 0}


def test_summary_counts_only_online_workers_active_tasks():
    records = worker_records([worker("a", active=3), worker("b", active=None),
                              worker("c", status="offline", active=7)], NOW)
    summary = dashboard_summary(records, {"SUCCESS": 10, "FAILURE": 2})
    assert summary == {"workers_online": 2, "workers_offline": 1, "tasks_active": 3,
                       "succeeded_recent": 10, "failed_recent": 2}


@pytest.mark.parametrize("loads, text", [
    pytest.param((0.8, 0.654, 0.335), "0.80 / 0.65 / 0.34", id="flower-s-three-averages"),
    pytest.param((12.5, None, 3.0), "12.50 / – / 3.00", id="one-missing"),
    pytest.param((None, None, None), None, id="no-heartbeat-yet"),
])
def test_one_load_column_shows_1m_5m_15m(loads, text):
    row = worker("a", load1=loads[0], load5=loads[1], load15=loads[2])
    (record,) = worker_records([row], NOW)
    assert (record["load"], record["load1"]) == (text, loads[0])


def test_the_total_row_sums_the_counters_and_counts_the_workers():
    records = worker_records([
        worker("a", active=2, processed=8, succeeded=1235, failed=3, retried=1),
        worker("b", status="offline", active=None, processed=None, failed=4),
        worker("c", active=1, processed=5, retried=2)], NOW)
    assert worker_totals(records) == {"hostname": "Total", "status": "3 workers", "active": 3,
                                      "processed": 13, "succeeded": 1235, "failed": 7,
                                      "retried": 3}
    assert worker_totals(records[:1])["status"] == "1 worker"
    assert worker_totals([]) == {
        "hostname": "Total", "status": "0 workers", "active": 0, "processed": 0,
        "succeeded": 0, "failed": 0, "retried": 0}


def test_components_become_the_tree_dash_sends_and_plain_values_stay():
    card = html.Div([html.Span("3", className="n"), "workers"], id="c")
    tree = plain([card, {"rows": [{"a": 1}]}, ("x", None)])
    assert tree == [{"type": "Div", "namespace": "dash_html_components",
                     "props": {"id": "c", "children": [
                         {"type": "Span", "namespace": "dash_html_components",
                          "props": {"children": "3", "className": "n"}}, "workers"]}},
                    {"rows": [{"a": 1}]}, ["x", None]]
    assert orjson.loads(orjson.dumps(tree)) == tree
    assert to_json(tree) == to_json([card, {"rows": [{"a": 1}]}, ("x", None)])


@pytest.mark.parametrize("status, level, text", [
    pytest.param(None, "wait", "Waiting for the collector", id="no-status"),
    pytest.param({"updated_at": NOW - 30, "broker_connected": True}, "warn",
                 "not reported for 30 s", id="stale"),
    pytest.param({"updated_at": NOW, "broker_connected": False, "broker": "redis://h//",
                  "broker_error": "ConnectionError: refused"}, "error",
                 "redis://h// unreachable (ConnectionError: refused)", id="broker-down"),
    pytest.param({"updated_at": NOW, "broker_connected": True, "store_error": "disk full"},
                 "error", "History store unreachable (disk full)", id="store-down"),
    pytest.param({"updated_at": NOW, "broker_connected": False, "store_error": "disk full",
                  "store_down_since": NOW - 90}, "error",
                 "History store unreachable since 00:15:10 (disk full)",
                 id="store-down-says-first-and-since-when"),
    pytest.param({"updated_at": NOW, "broker_connected": True,
                  "store_error": "OperationalError: refused", "store_down_since": NOW - 90,
                  "spooled": 1234, "spool_bytes": 5 * 2**20, "spool_dropped": 7}, "error",
                 "1,234 messages wait in the spool (5.0 MiB), 7 dropped when it was full",
                 id="store-down-with-spool"),
    pytest.param({"updated_at": NOW, "broker_connected": True, "store_error": "refused",
                  "store_down_since": NOW - 2 * 86400}, "error",
                 "unreachable since 1969-12-30 00:16:40 (refused)", id="store-down-for-days"),
    pytest.param({"updated_at": NOW, "broker_connected": True, "broker": "redis://h//",
                  "events": 5, "quarantined": 3, "last_quarantined": "name is a number"}, "warn",
                 "3 events quarantined (last: name is a number)", id="quarantined"),
    pytest.param({"updated_at": NOW, "broker_connected": True, "broker": "redis://h//",
                  "events": 5, "spooled": 10, "spool_bytes": 2048}, "warn",
                 "10 messages wait in the spool (2.0 KiB)", id="writer-behind"),
    pytest.param({"updated_at": NOW, "broker_connected": True, "broker": "redis://h//",
                  "events": 1234, "malformed": 2, "last_malformed": "no uuid"}, "warn",
                 "2 malformed events skipped (last: no uuid)", id="malformed"),
    pytest.param({"updated_at": NOW, "broker_connected": True, "broker": "redis://h//",
                  "events": 1234}, "ok", "Connected to redis://h// · 1,234 events", id="ok"),
])
def test_describe_status(status, level, text):
    message, got_level = describe_status(status, NOW)
    assert got_level == level and text in message


def test_the_outage_starts_in_the_browsers_zone():
    status = {"updated_at": NOW, "store_error": "refused", "store_down_since": NOW - 90}
    message, _ = describe_status(status, NOW, ZoneInfo("Asia/Kolkata"))  # UTC+05:30
    assert "since 05:45:10 (refused)" in message
