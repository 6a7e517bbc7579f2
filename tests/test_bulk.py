"""Bulk retry and revoke through a real `celery -A cluster_tasks scope`, real redis-server
and a real `celery worker -E`: the dry run's numbers, exactly the eligible tasks sent once
each (counted at the worker, which records the arguments it ran with), refusals with their
reason, the retry links, the result backend's exact arguments, a job revoking 100 ETA
tasks, a viewer refused, and every action in /api/audit."""
from __future__ import annotations

import ast
import sys
import time

import pytest
import redis
import requests

from celery_scope.auth.credentials import hash_password
from celery_scope.bulk.links import links_of
from celery_scope.store.history import HistoryStore

from .cluster_tasks import CALLS_KEY
from .helpers import Scope, wait_until

pytestmark = pytest.mark.integration

GOOD = [["plain", 1], [{"nested": [3]}, None], ["it is", 2.5, True]]
BAD = {"5,000 characters": ["x" * 5000], "four deep": [{"a": {"b": {"c": {"d": 1}}}}],
       "backslash": ["a\\b"]}
REASONS = {"5,000 characters": "ending in '...'", "four deep": "cut short",
           "backslash": "backslash"}
FILTER = "state=FAILURE&name=cluster.record_fail"
USERS = {"ann": "viewer", "otto": "operator"}


def _scope(tmp_path, redis_server, store=None, env=None, users=None) -> Scope:
    extra = ["--inspect-interval", "3600"]
    if users:
        path = tmp_path / "users"
        path.write_text("".join(f"{name}:{role}:{hash_password(name + '-pw')}\n"
                                for name, role in users.items()))
        extra += ["--users-file", str(path)]
    scope = Scope(tmp_path, None, *extra, store=store,
                  command=(sys.executable, "-m", "celery", "-A", "cluster_tasks", "scope"),
                  env={"SCOPE_TEST_BROKER": redis_server.url, **(env or {})})
    scope.start()
    try:
        wait_until(lambda: scope.status().get("broker_connected"), 20, "the subscription")
    except AssertionError:
        scope.stop()
        raise
    return scope


def _calls(redis_server) -> list[tuple]:
    client = redis.Redis.from_url(redis_server.url)
    return [ast.literal_eval(item.decode()) for item in client.lrange(CALLS_KEY, 0, -1)]


def _failures(scope: Scope, count: int) -> dict:
    def ready():
        tasks = requests.get(f"{scope.url}/api/tasks", timeout=10,
                             params={"state": "FAILURE", "taskname": "cluster.record_fail"})
        found = tasks.json()
        return found if len(found) >= count else None
    return wait_until(ready, 30, f"{count} failures in the store")


def _post(scope: Scope, path: str, body: dict, auth=None) -> requests.Response:
    return requests.post(scope.url + path, json=body, timeout=30, auth=auth)


@pytest.fixture
def cluster(redis_server, workers, monkeypatch):
    def start(extended: bool = False):
        if extended:
            monkeypatch.setenv("SCOPE_TEST_RESULT_EXTENDED", "1")
        workers("bulk@test")
    return start


def _send_all(cluster_app) -> dict[str, str]:
    """Send the good and the bad calls; their ids by label."""
    sent = {}
    for number, args in enumerate(GOOD):
        sent[f"good {number}"] = cluster_app.send_task(
            "cluster.record_fail", args=args, kwargs={"n": number}).id
    for label, args in BAD.items():
        sent[label] = cluster_app.send_task("cluster.record_fail", args=args).id
    return sent


def test_bulk_retry_by_filter_sends_exactly_the_eligible_once(
        tmp_path, redis_server, cluster, cluster_app, store_url):
    cluster()
    scope = _scope(tmp_path, redis_server, store=store_url)
    try:
        ids = _send_all(cluster_app)
        _failures(scope, len(ids))
        # the dry run, by POST and by GET: counts and each refusal's reason; nothing sent
        preview = _post(scope, "/api/tasks/retry", {"filter": FILTER})
        assert preview.status_code == 200, preview.text
        answer = preview.json()
        assert (answer["matched"], answer["eligible"], answer["sent"]) == (6, 3, [])
        reasons = {item["id"]: item["reason"] for item in answer["refused"]}
        assert set(reasons) == {ids[label] for label in BAD}
        for label, words in REASONS.items():
            assert words in reasons[ids[label]], (label, reasons[ids[label]])
        by_get = requests.get(f"{scope.url}/api/tasks/retry", params={"filter": FILTER},
                              timeout=30).json()
        assert (by_get["matched"], by_get["eligible"]) == (6, 3)
        assert len(_calls(redis_server)) == 6
        # the real run
        run = _post(scope, "/api/tasks/retry", {"filter": FILTER, "dry_run": False})
        assert run.status_code == 200, run.text
        sent = run.json()["sent"]
        goods = {ids[f"good {number}"] for number in range(len(GOOD))}
        assert {item["id"] for item in sent} == goods
        new_ids = {item["new_id"] for item in sent}
        assert len(new_ids) == 3 and not new_ids & set(ids.values())
        calls = wait_until(lambda: (lambda found: found if len(found) >= 9 else None)(
            _calls(redis_server)), 30, "the retries at the worker")
        time.sleep(1)  # nothing more arrives: each eligible task was sent once
        calls = _calls(redis_server)
        assert len(calls) == 9
        retried = {call[0]: call for call in calls if call[0] in new_ids}
        assert set(retried) == new_ids
        assert sorted(repr((list(args), kwargs)) for _, args, kwargs in retried.values()) == \
            sorted(repr((args, {"n": number})) for number, args in enumerate(GOOD))
        # links both ways, and a second run does not send the originals again
        store = HistoryStore(store_url)
        try:
            for item in sent:
                assert links_of(store.engine, item["new_id"]) == (item["id"], [])
                assert links_of(store.engine, item["id"]) == (None, [item["new_id"]])
        finally:
            store.close()
        _failures(scope, 9)
        again = _post(scope, "/api/tasks/retry", {"filter": FILTER}).json()
        assert (again["matched"], again["eligible"]) == (9, 3)
        assert sum("already retried as" in item["reason"] for item in again["refused"]) == 3
        entries = requests.get(f"{scope.url}/api/audit", params={"action": "tasks_retry"},
                               timeout=10).json()["entries"]
        assert [entry["outcome"] for entry in entries] == ["dry-run", "ok", "dry-run",
                                                           "dry-run"]
        assert sorted(entries[1]["targets"]) == sorted(goods)
    finally:
        scope.stop()


def test_retry_with_the_result_backends_arguments(tmp_path, redis_server, cluster,
                                                  cluster_app):
    """result_extended on: the values no repr can carry are sent again exactly."""
    cluster(extended=True)
    scope = _scope(tmp_path, redis_server, env={"SCOPE_TEST_RESULT_EXTENDED": "1"})
    try:
        ids = {label: cluster_app.send_task("cluster.record_fail", args=args).id
               for label, args in BAD.items()}
        _failures(scope, len(ids))
        run = _post(scope, "/api/tasks/retry", {"ids": list(ids.values()), "dry_run": False})
        assert run.status_code == 200, run.text
        assert run.json()["refused"] == []
        new_of = {item["id"]: item["new_id"] for item in run.json()["sent"]}
        assert set(new_of) == set(ids.values())
        wait_until(lambda: len(_calls(redis_server)) >= 6, 30, "the retries at the worker")
        ran = {call[0]: call[1] for call in _calls(redis_server)}
        for label, args in BAD.items():
            assert ran[new_of[ids[label]]] == tuple(args), label
    finally:
        scope.stop()


def test_viewer_refused_and_revoke_of_100_eta_tasks_by_filter(tmp_path, redis_server,
                                                              cluster, cluster_app):
    cluster()
    scope = _scope(tmp_path, redis_server, users=USERS)
    viewer, operator = ("ann", "ann-pw"), ("otto", "otto-pw")
    try:
        failed = cluster_app.send_task("cluster.record_fail", args=[1]).id
        ids = [cluster_app.send_task("cluster.add", args=[number, 1], countdown=8).id
               for number in range(100)]

        def received():
            answer = requests.get(f"{scope.url}/api/tasks/revoke", auth=viewer, timeout=10,
                                  params={"filter": "state=RECEIVED&name=cluster.add"})
            return answer.json()["eligible"] == 100 and answer.json()
        wait_until(received, 30, "100 ETA tasks received")
        # a viewer: dry runs yes, a real retry no (and nothing is sent)
        wait_until(lambda: requests.get(f"{scope.url}/api/tasks/retry", auth=viewer,
                                        params={"ids": failed}, timeout=10
                                        ).json()["eligible"] == 1, 30, "the failure")
        refused = _post(scope, "/api/tasks/retry", {"ids": [failed], "dry_run": False},
                        auth=viewer)
        assert refused.status_code == 403
        time.sleep(0.5)
        assert len(_calls(redis_server)) == 1
        # the operator's revoke: a job (202), its progress, all REVOKED in the end
        started = _post(scope, "/api/tasks/revoke", {
            "filter": "state=RECEIVED&name=cluster.add", "dry_run": False, "rate": 200},
            auth=operator)
        assert started.status_code == 202, started.text
        job = started.json()["job"]
        done = wait_until(lambda: (lambda state: state if state["state"] != "running"
                                   else None)(requests.get(f"{scope.url}/api/jobs/{job}",
                                                           auth=viewer, timeout=10).json()),
                          20, "the job's end")
        assert (done["state"], done["total"], done["sent_count"]) == ("done", 100, 100)
        store = HistoryStore(scope.store)
        try:
            wait_until(lambda: all(store.task(uuid)["state"] == "REVOKED" for uuid in ids),
                       30, "every ETA task REVOKED")
        finally:
            store.close()
        entries = requests.get(f"{scope.url}/api/audit", auth=viewer, timeout=10).json()
        actions = {(entry["action"], entry["user"], entry["outcome"])
                   for entry in entries["entries"]}
        assert ("tasks_revoke", "otto", "ok") in actions
        assert ("tasks_revoke", "ann", "dry-run") in actions
        assert any(entry["user"] == "ann" and entry["outcome"] == "refused"
                   for entry in entries["entries"])
    finally:
        scope.stop()


def test_a_viewers_post_dry_run_answers_and_its_real_run_is_refused(tmp_path, redis_server,
                                                                    cluster, cluster_app):
    cluster()
    scope = _scope(tmp_path, redis_server, users=USERS)
    viewer = ("ann", "ann-pw")
    try:
        failed = cluster_app.send_task("cluster.record_fail", args=[1]).id
        _failures(scope, 1)
        wait_until(lambda: len(_calls(redis_server)) == 1, 30, "the failure at the worker")
        for body in ({"ids": [failed], "dry_run": True},
                     {"filter": "state=FAILURE&name=cluster.record_fail", "dry_run": True}):
            for path in ("/api/tasks/retry", "/api/tasks/revoke"):
                answer = _post(scope, path, body, auth=viewer)
                assert answer.status_code == 200, (path, body, answer.text)
                numbers = answer.json()
                expected = (1, 1) if path.endswith("retry") else (1, 0)  # revoke: it finished
                assert (numbers["matched"], numbers["eligible"]) == expected, (path, numbers)
                assert (numbers["sent"], numbers["dry_run"]) == ([], True)
        # a real run, or a body not saying dry_run true in so many words: refused, unsent
        for body in ({"ids": [failed], "dry_run": False}, {"ids": [failed]},
                     {"ids": [failed], "dry_run": "true"}, {"ids": [failed], "dry_run": 1},
                     {"ids": [failed], "dry_run": True, "dry_run ": False}):
            for path in ("/api/tasks/retry", "/api/tasks/revoke"):
                refused = _post(scope, path, body, auth=viewer)
                assert refused.status_code in (400, 403), (path, body, refused.status_code)
                if body.get("dry_run") is not True:
                    assert refused.status_code == 403, (path, body)
                    assert "needs operator" in refused.json()["error"]
        duplicate = requests.post(f"{scope.url}/api/tasks/retry", auth=viewer, timeout=30,
                                  headers={"Content-Type": "application/json"},
                                  data=f'{{"ids": ["{failed}"], "dry_run": true, '
                                       '"dry_run": false}')
        assert duplicate.status_code == 403  # the route would read the last: a real run
        time.sleep(1)
        assert len(_calls(redis_server)) == 1  # nothing was sent again
        store = HistoryStore(scope.store)
        try:
            assert links_of(store.engine, failed) == (None, [])
        finally:
            store.close()
        entries = requests.get(f"{scope.url}/api/audit", auth=viewer, timeout=10,
                               params={"action": "tasks_retry"}).json()["entries"]
        assert {(entry["user"], entry["outcome"]) for entry in entries} == {
            ("ann", "dry-run"), ("ann", "refused")}  # the gate's refusals are recorded too
    finally:
        scope.stop()
