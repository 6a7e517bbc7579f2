"""The audit trail: every action that changes the cluster, from the API or a page, leaves
a record with its user, role, targets, parameters and outcome; /api/audit, its CSV and the
/audit page read them back; a store that is away never fails the action; retention."""
import base64
import csv
import io
import json
import logging
import time
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import expect
from sqlalchemy import create_engine, select

from celery_scope.audit import queries
from celery_scope.audit.retention import PRUNE_EVERY
from celery_scope.audit.trail import Actor, record_action
from celery_scope.auth.credentials import hash_password
from celery_scope.query_string import FilterError
from celery_scope.store.history import HistoryStore
from celery_scope.store.schema import audit

from .helpers import wait_until

PASSWORDS = {"vera": "vera-password", "olga": "olga-password", "adam": "adam-password"}
ROLES = {"vera": "viewer", "olga": "operator", "adam": "admin"}
WORKER = "audit@host"


def call(url, method="GET", user=None, body=None):
    """(status, parsed JSON or text) of one request, as `user` by basic auth."""
    request = urllib.request.Request(url, method=method, data=body)
    if user:
        secret = base64.b64encode(f"{user}:{PASSWORDS[user]}".encode()).decode()
        request.add_header("Authorization", f"Basic {secret}")
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read().decode()
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


@pytest.fixture
def users_file(tmp_path):
    path = tmp_path / "users"
    path.write_text("".join(f"{name}:{ROLES[name]}:{hash_password(password)}\n"
                            for name, password in PASSWORDS.items()))
    return path


def _actor(engine, **keep) -> Actor:
    return Actor("tester", "admin", "cli", engine, **keep)


@pytest.mark.integration
def test_api_actions_are_recorded_with_their_user(redis_server, workers, scope, users_file):
    workers(WORKER, concurrency=1)
    instance = scope(redis_server.url, "--users-file", str(users_file))
    url = instance.url
    wait_until(lambda: WORKER in call(f"{url}/api/workers?status=1", user="vera")[1], 30,
               "the worker known to the dashboard")

    assert call(f"{url}/api/worker/pool/grow/{WORKER}?n=1", "POST", user="olga")[0] == 200
    assert call(f"{url}/api/worker/pool/grow/{WORKER}?n=1", "POST", user="vera")[0] == 403
    assert call(f"{url}/api/worker/shutdown/{WORKER}", "POST", user="olga")[0] == 403
    assert call(f"{url}/api/worker/pool/shrink/nobody@host", "POST", user="adam")[0] == 404
    assert call(f"{url}/api/task/revoke/some-task-id?terminate=1", "POST", user="olga")[0] == 200
    status, sent = call(f"{url}/api/task/send-task/cluster.add", "POST", user="olga",
                        body=json.dumps({"args": [1, 2]}).encode())
    assert status == 200

    status, trail = call(f"{url}/api/audit", user="vera")  # a viewer may read the trail
    assert status == 200 and trail["total"] == 6
    seen = [(entry["user"], entry["role"], entry["action"], entry["targets"], entry["outcome"])
            for entry in reversed(trail["entries"])]
    assert seen == [
        ("olga", "operator", "worker_pool_grow", [WORKER], "ok"),
        ("vera", "viewer", "worker_pool_grow", [WORKER], "refused"),
        ("olga", "operator", "worker_shutdown", [WORKER], "refused"),
        ("adam", "admin", "worker_pool_shrink", ["nobody@host"], "refused"),
        ("olga", "operator", "task_revoke", ["some-task-id"], "ok"),
        ("olga", "operator", "task_send", ["cluster.add"], "ok"),
    ]
    grow, refused, _, _, revoke, send = reversed(trail["entries"])
    assert grow["params"] == {"n": 1} and grow["via"] == "basic"
    assert WORKER in grow["detail"] and "ok" in grow["detail"]
    assert "viewer" in refused["detail"] and refused["detail"].startswith("HTTP 403")
    assert revoke["params"] == {"terminate": True, "signal": "SIGTERM"}
    assert send["params"]["body"] == {"args": [1, 2]}
    assert sent["task-id"] in send["detail"]

    only_vera = call(f"{url}/api/audit?user=vera", user="vera")[1]
    assert [entry["user"] for entry in only_vera["entries"]] == ["vera"]
    refusals = call(f"{url}/api/audit?outcome=refused&action=worker_pool_grow,"
                    "worker_shutdown", user="vera")[1]
    assert refusals["total"] == 2
    assert call(f"{url}/api/audit?since=2999-01-01", user="vera")[1]["total"] == 0
    assert call(f"{url}/api/audit?outcome=maybe", user="vera")[0] == 400
    assert call(f"{url}/api/audit?colour=red", user="vera")[0] == 400
    page = call(f"{url}/api/audit?limit=2", user="vera")[1]["entries"]
    after = call(f"{url}/api/audit?limit=10&before={page[-1]['id']}", user="vera")[1]
    assert len(page) == 2 and len(after["entries"]) == 4

    status, text = call(f"{url}/api/audit.csv?user=olga", user="vera")
    lines = text.strip().splitlines()
    assert status == 200 and lines[0].startswith("id,at_utc,at,user,role,via,action")
    assert len(lines) == 1 + 4 and all(",olga,operator," in line for line in lines[1:])
    assert call(f"{url}/api/audit", user=None)[0] == 401  # reading it needs a user too
    assert call(f"{url}/api/audit")[1] == call(f"{url}/api/audit")[1]  # 401s are not recorded
    assert call(f"{url}/api/audit", user="vera")[1]["total"] == 6


@pytest.mark.integration
def test_read_only_refusals_are_recorded(scope):
    instance = scope(None, "--read-only")
    assert call(f"{instance.url}/api/task/revoke/t-1", "POST")[0] == 403
    entries = call(f"{instance.url}/api/audit")[1]["entries"]
    assert [(entry["action"], entry["outcome"], entry["user"], entry["targets"])
            for entry in entries] == [("task_revoke", "refused", "local", ["t-1"])]
    assert "read-only" in entries[0]["detail"]


def test_a_store_that_is_away_never_fails_the_action(caplog):
    """Nothing listens on port 1: the record goes to the log, whole, and nothing raises."""
    engine = create_engine("postgresql://scope@127.0.0.1:1/none",
                           connect_args={"connect_timeout": 2})
    with caplog.at_level(logging.ERROR, logger="celery_scope.audit.trail"):
        record_action("queue_purge", targets=["orders"], params={"x": 1}, outcome="ok",
                      detail="12 messages removed", actor=_actor(engine))
    logged = [record.getMessage() for record in caplog.records]
    assert len(logged) == 1 and "audit record not stored" in logged[0]
    assert '"targets": "[\\"orders\\"]"' in logged[0] and "12 messages removed" in logged[0]
    with pytest.raises(ValueError, match="unknown outcome"):
        record_action("x", outcome="fine", actor=_actor(engine))


@pytest.mark.parametrize("dangerous", ["=HYPERLINK(\"http://x\")", "+1", "@sum"])
def test_filters_keyset_and_csv(store_url, dangerous):
    store = HistoryStore(store_url)
    try:
        actor = _actor(store.engine)
        for number in range(7):
            record_action("worker_pool_grow" if number % 2 else "task_revoke",
                          targets=[f"t{number}", 42], params={"n": number},
                          outcome="ok" if number < 5 else "error", detail=dangerous,
                          actor=actor)
        record_action("queue_purge", filter="state=FAILURE", count=3, outcome="dry-run",
                      actor=Actor(dangerous, "operator", "token", store.engine))
        where = queries.parse_audit_filter({"action": ["task_revoke,queue_purge"]})
        assert queries.count(store.engine, where) == 5
        assert [entry["targets"] for entry in queries.entries(store.engine, where, 3)] == [
            [], ["t6", "42"], ["t4", "42"]]  # newest first; every target is text
        mine = queries.parse_audit_filter({"user": [dangerous], "outcome": "dry-run"})
        (entry,) = queries.entries(store.engine, mine, 10)
        assert (entry["filter"], entry["count"], entry["via"]) == ("state=FAILURE", 3, "token")
        first = queries.entries(store.engine, queries.AuditFilter(), 4)
        rest = queries.entries(store.engine, queries.AuditFilter(), 10, first[-1]["id"])
        assert len(first) == 4 and len(rest) == 4 and first[-1]["id"] > rest[0]["id"]
        text = "".join(queries.csv_rows(store.engine, queries.AuditFilter()))
        header, *rows = list(csv.reader(io.StringIO(text)))
        assert header == list(queries.CSV_COLUMNS) and len(rows) == 8
        cells = [dict(zip(header, row)) for row in rows]
        assert cells[0]["user"] == f"'{dangerous}"  # a spreadsheet shows it as text
        assert {cell["detail"] for cell in cells[1:]} == {f"'{dangerous}"}
        assert queries.known_values(store.engine, "action") == [
            "queue_purge", "task_revoke", "worker_pool_grow"]
        future = queries.parse_audit_filter({"since": "1h", "until": str(time.time() - 7200)})
        assert queries.count(store.engine, future) == 0
        with pytest.raises(FilterError):
            queries.parse_audit_filter({"since": "yesterday"})
    finally:
        store.close()


def test_retention_keeps_the_trail_within_age_and_rows(store_url):
    store = HistoryStore(store_url)
    try:
        with store.engine.begin() as connection:  # two records from 40 days ago
            connection.execute(audit.insert(), [
                {"at": time.time() - 40 * 86400, "username": "old", "role": "admin",
                 "via": "cli", "action": "x", "targets": "[]", "params": "{}",
                 "outcome": "ok", "detail": ""} for _ in range(2)])
        actor = _actor(store.engine, keep_seconds=30 * 86400, keep_rows=50)
        for number in range(PRUNE_EVERY - 3):  # the trail's 99th record: no prune yet
            record_action("x", targets=[str(number)], outcome="ok", actor=actor)
        with store.engine.connect() as connection:
            assert len(connection.execute(select(audit.c.id)).all()) == PRUNE_EVERY - 1
        record_action("x", targets=["last"], outcome="ok", actor=actor)  # id 100: prunes
        with store.engine.connect() as connection:
            kept = connection.execute(select(audit.c.username, audit.c.targets)
                                      .order_by(audit.c.id)).all()
        assert len(kept) == 50 and {row.username for row in kept} == {"tester"}
        assert kept[-1].targets == '["last"]' and kept[0].targets == '["48"]'
    finally:
        store.close()


@pytest.mark.browser
@pytest.mark.integration
def test_audit_page_lists_and_filters(scope, page):
    instance = scope(None)  # the demo cluster
    for task_id in ("alpha-1", "beta-2"):
        assert call(f"{instance.url}/api/task/revoke/{task_id}", "POST")[0] == 200
    assert call(f"{instance.url}/api/worker/pool/grow/w@h", "POST")[0] == 404
    page.goto(f"{instance.url}/audit")
    grid = page.locator("#audit-grid")
    expect(grid.locator(".ag-row")).to_have_count(3, timeout=15000)
    expect(page.locator("#audit-count")).to_have_text("3 records")
    expect(grid.locator(".ag-row", has_text="alpha-1")).to_contain_text("ok")
    page.locator("#audit-action").click()
    page.get_by_role("option", name="worker_pool_grow", exact=True).click()
    page.keyboard.press("Escape")
    expect(grid.locator(".ag-row")).to_have_count(1, timeout=10000)
    expect(grid.locator(".ag-row")).to_contain_text("refused")
    expect(page.locator("#audit-csv")).to_have_attribute("href", "/api/audit.csv?action="
                                                         "worker_pool_grow&since=7d")
    assert page.problems == []
