"""Frames and status text: input rows → expected table."""
import math

import pandas as pd
import pytest

from app.components.status_banner import describe_status
from app.frames import dashboard_summary, grid_records, is_online, worker_frame

NOW = 1_000.0


def worker(hostname, status="online", last=NOW - 1, freq=2.0, active=0, **extra):
    return {"hostname": hostname, "status": status, "last_heartbeat": last, "freq": freq,
            "active": active, **extra}


@pytest.mark.parametrize("row, online", [
    pytest.param(worker("a"), True, id="fresh-heartbeat"),
    pytest.param(worker("a", last=NOW - 4.0), True, id="two-intervals-is-the-edge"),
    pytest.param(worker("a", last=NOW - 4.1), False, id="heartbeats-stopped"),
    pytest.param(worker("a", freq=None, last=NOW - 3), True, id="default-frequency"),
    pytest.param(worker("a", status="offline"), False, id="said-goodbye"),
    pytest.param(worker("a", last=None), False, id="never-heard"),
])
def test_is_online(row, online):
    assert is_online(row, NOW) is online


def test_worker_frame_orders_online_first_and_fills_counters():
    frame = worker_frame([worker("b", status="offline"), worker("c"), worker("a", last=NOW - 60),
                          worker("d", sw_ident="py-celery", sw_ver="5.4.0", succeeded=3)], NOW)
    assert list(frame["hostname"]) == ["c", "d", "a", "b"]
    assert list(frame["status"]) == ["online", "online", "offline", "offline"]
    assert frame.loc[1, "software"] == "py-celery 5.4.0" and frame.loc[1, "succeeded"] == 3
    assert frame.loc[0, "failed"] == 0
    assert frame.loc[2, "heartbeat_age"] == 60


def test_empty_worker_frame_has_the_columns():
    frame = worker_frame([], NOW)
    assert frame.empty and "status" in frame.columns
    assert dashboard_summary(frame, {}) == {"workers_online": 0, "workers_offline": 0,
                                            "tasks_active": 0, "succeeded_recent": 0,
                                            "failed_recent": 0}


def test_summary_counts_only_online_workers_active_tasks():
    frame = worker_frame([worker("a", active=3), worker("b", active=None),
                          worker("c", status="offline", active=7)], NOW)
    summary = dashboard_summary(frame, {"SUCCESS": 10, "FAILURE": 2})
    assert summary == {"workers_online": 2, "workers_offline": 1, "tasks_active": 3,
                       "succeeded_recent": 10, "failed_recent": 2}


def test_grid_records_turn_nan_into_null():
    records = grid_records(pd.DataFrame({"a": [1.0, math.nan], "b": ["x", None]}))
    assert records == [{"a": 1.0, "b": "x"}, {"a": None, "b": None}]


@pytest.mark.parametrize("status, level, text", [
    pytest.param(None, "wait", "Waiting for the collector", id="no-status"),
    pytest.param({"updated_at": NOW - 30, "broker_connected": True}, "warn", "not reported for 30 s",
                 id="stale"),
    pytest.param({"updated_at": NOW, "broker_connected": False, "broker": "redis://h//",
                  "broker_error": "ConnectionError: refused"}, "error",
                 "redis://h// unreachable (ConnectionError: refused)", id="broker-down"),
    pytest.param({"updated_at": NOW, "broker_connected": True, "store_error": "disk full"},
                 "error", "cannot be written (disk full)", id="store-down"),
    pytest.param({"updated_at": NOW, "broker_connected": True, "broker": "redis://h//",
                  "events": 1234, "malformed": 2, "last_malformed": "no uuid"}, "warn",
                 "2 malformed events skipped (last: no uuid)", id="malformed"),
    pytest.param({"updated_at": NOW, "broker_connected": True, "broker": "redis://h//",
                  "events": 1234}, "ok", "Connected to redis://h// · 1,234 events", id="ok"),
])
def test_describe_status(status, level, text):
    message, got_level = describe_status(status, NOW)
    assert got_level == level and text in message
