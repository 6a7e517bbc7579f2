"""The Flower-compatible REST API against real `celery worker -E` processes on a real
redis-server, through a real celery-scope process: shapes, defaults, status codes, every
error path, and a script written for Flower's API running unchanged.

One redis-server, one worker and two dashboards serve the whole module: `scope` is
`celery -A cluster_tasks scope` (tasks registered, a result backend), `dead` is
`celery-scope --broker` pointed at a closed port, with a store seeded beforehand.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest
import redis
import requests
from celery import Celery
from celery.contrib.abortable import AbortableAsyncResult
from celery.events.state import Task as EventTask

from celery_scope.store.history import HistoryStore
from celery_scope.store.merge import new_task_row, new_worker_row

from .helpers import (
    RedisServer,
    Scope,
    broadcasts,
    free_port,
    start_worker,
    stop_process,
    wait_until,
)

pytestmark = pytest.mark.integration

WORKER = "api@test"
PARKED = "parked@test"
FLOWER_TASK_KEYS = [*EventTask._fields, "queue"]
INSPECT_METHODS = {"stats", "active_queues", "registered", "scheduled", "active", "reserved",
                   "revoked", "conf"}


def ping(app: Celery, name: str) -> bool:
    return bool(app.control.ping(destination=[name], timeout=0.5))


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def cluster_app(redis_server):
    app = Celery("client", broker=redis_server.url, backend=redis_server.url,
                 set_as_current=False)
    app.conf.task_send_sent_event = True
    yield app
    app.close()


@pytest.fixture(scope="module")
def worker(redis_server, cluster_app, tmp_path_factory):
    process = start_worker(redis_server.url, WORKER, tmp_path_factory.mktemp("worker"))
    yield process
    stop_process(process)


def seed_dead_store(scope: Scope) -> None:
    """What a dashboard remembers from before its broker went away."""
    store = HistoryStore(scope.store)
    now = time.time()
    worker = new_worker_row("gone@test")
    worker.update(last_heartbeat=now - 60, first_seen=now - 120, freq=2.0)
    task = new_task_row("seeded-task")
    task.update(name="cluster.add", state="SUCCESS", timestamp=now, received=now - 1,
                started=now - 1, succeeded=now, worker="gone@test", args="(1, 2)", kwargs="{}",
                result="3", runtime=0.01)
    store.write([task], [worker])
    store.close()


@pytest.fixture(scope="module")
def dashboards(redis_server, worker, cluster_app, tmp_path_factory):
    """(scope, dead): started side by side while the worker boots."""
    live = Scope(tmp_path_factory.mktemp("scope"), None, "--inspect-interval", "3600",
                 command=(sys.executable, "-m", "celery", "-A", "cluster_tasks", "scope"),
                 env={"SCOPE_TEST_BROKER": redis_server.url})
    dead = Scope(tmp_path_factory.mktemp("dead"), f"redis://127.0.0.1:{free_port()}/0",
                 "--no-enable-events")
    seed_dead_store(dead)
    with ThreadPoolExecutor(2) as pool:
        started = [pool.submit(dead.start),
                   pool.submit(wait_until, lambda: ping(cluster_app, WORKER), 30, "worker ping")]
        for future in started:
            future.result()
    # Started after the worker answers, the collector's first Inspector round (the only one
    # in the hour) finds it; the tests' own refreshes wait until that round is over.
    live.start()
    store = HistoryStore(live.store)
    wait_until(lambda: any(row["hostname"] == WORKER for row in store.workers()), 30,
               "the worker in the dashboard's store")
    store.close()
    wait_until(lambda: INSPECT_METHODS <= set(
        requests.get(live.url + "/api/workers", timeout=10).json().get(WORKER, {})), 20,
        "the collector's first Inspector round")
    yield live, dead
    with ThreadPoolExecutor(2) as pool:  # the dead one takes seconds: its collector retries
        list(pool.map(Scope.stop, (live, dead)))


@pytest.fixture(scope="module")
def scope(dashboards):
    return dashboards[0]


@pytest.fixture(scope="module")
def dead(dashboards):
    return dashboards[1]


@pytest.fixture(scope="module")
def api(scope):
    """requests against the live dashboard: api.get('/api/...', params=...)."""
    session = requests.Session()

    class Api:
        url = scope.url

        def get(self, path, **options):
            return session.get(scope.url + path, timeout=30, **options)

        def post(self, path, **options):
            return session.post(scope.url + path, timeout=30, **options)

    yield Api()
    session.close()


@pytest.fixture(scope="module")
def history(api, cluster_app, scope):
    """A known set of finished tasks in the store: {label: task id}."""
    store = HistoryStore(scope.store)
    sent = {
        "add1": cluster_app.send_task("cluster.add", (1, 1)),
        "add2": cluster_app.send_task("cluster.add", (2, 2)),
        "fail": cluster_app.send_task("cluster.fail", ("boom",)),
        "echo": cluster_app.send_task("cluster.echo", ("needle-in-haystack",)),
    }
    ids = {label: result.id for label, result in sent.items()}

    def finished():
        rows = store.load_tasks(list(ids.values()))
        return len(rows) == len(ids) and all(
            row["state"] in ("SUCCESS", "FAILURE") for row in rows.values())

    wait_until(finished, 30, "the history tasks in the store")
    store.close()
    return ids


def error_of(response, status):
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    return response.json()["error"]


# -- workers -----------------------------------------------------------------------------

def test_workers_lists_the_inspector_cache_in_flowers_shape(api):
    workers = api.get("/api/workers").json()
    info = workers[WORKER]
    assert INSPECT_METHODS <= set(info) and "timestamp" in info
    assert info["timestamp"] == pytest.approx(time.time(), abs=60)
    assert "cluster.add" in info["registered"]
    assert info["stats"]["pool"]["max-concurrency"] == 2
    assert {queue["name"] for queue in info["active_queues"]} == {"celery"}

    one = api.get("/api/workers", params={"workername": WORKER, "refresh": "true"})
    assert list(one.json()) == [WORKER]
    assert one.json()[WORKER]["timestamp"] >= info["timestamp"]
    assert api.get("/api/workers", params={"status": "1"}).json() == {WORKER: True}


@pytest.mark.parametrize("params, status, message", [
    pytest.param({"workername": "nobody@test"}, 404, "Unknown worker 'nobody@test'", id="unknown"),
    pytest.param({"workername": "nobody@test", "refresh": "1"}, 404, "Unknown worker",
                 id="unknown-refresh"),
    pytest.param({"refresh": "maybe"}, 400, "of type 'bool'", id="bad-refresh"),
    pytest.param({"status": "2"}, 400, "of type 'bool'", id="bad-status"),
])
def test_workers_errors(api, redis_server, params, status, message):
    seen = broadcasts(redis_server.url, lambda: (
        assert_error(api.get("/api/workers", params=params), status, message)))
    assert seen == []


def assert_error(response, status, message):
    assert message in error_of(response, status)


def test_worker_control_answers_flowers_messages(api, cluster_app):
    def post(path, **options):
        response = api.post(path + WORKER, **options)
        assert response.status_code == 200, response.text
        return response.json()["message"]

    assert post("/api/worker/pool/grow/") == f"Growing '{WORKER}' worker's pool by 1"
    assert post("/api/worker/pool/shrink/", data={"n": "1"}) == \
        f"Shrinking '{WORKER}' worker's pool by 1"  # form body, as Flower's docs send it
    assert post("/api/worker/queue/add-consumer/", params={"queue": "extra"}) == \
        "add consumer extra"
    assert post("/api/worker/queue/cancel-consumer/", params={"queue": "extra"}) == \
        "no longer consuming from extra"
    assert post("/api/worker/pool/restart/") == f"Restarting '{WORKER}' worker's pool"
    refused = api.post(f"/api/worker/pool/autoscale/{WORKER}", params={"min": 1, "max": 2})
    reason = error_of(refused, 403)  # Flower's status and wording, the worker's own reason
    assert reason.startswith(f"Failed to autoscale '{WORKER}' worker: ")
    assert "Autoscale not enabled" in reason


WORKER_ROUTES = ["shutdown", "pool/restart", "pool/grow", "pool/shrink", "pool/autoscale",
                 "queue/add-consumer", "queue/cancel-consumer"]


@pytest.mark.parametrize("route", WORKER_ROUTES)
def test_unknown_worker_is_404_and_nothing_is_sent(api, redis_server, route):
    def act():
        response = api.post(f"/api/worker/{route}/nobody@test",
                            params={"n": 1, "min": 1, "max": 2, "queue": "q"})
        assert "unknown worker 'nobody@test'" in error_of(response, 404)
    assert broadcasts(redis_server.url, act) == []


@pytest.mark.parametrize("route, params, message", [
    pytest.param("pool/grow", {"n": "two"}, "of type 'int'", id="grow-word"),
    pytest.param("pool/grow", {"n": "0"}, "at least 1", id="grow-zero"),
    pytest.param("pool/grow", {"n": "1000000"}, "at most 10000", id="grow-huge"),
    pytest.param("pool/shrink", {"n": "-1"}, "at least 1", id="shrink-negative"),
    pytest.param("pool/autoscale", {"min": "1"}, "Missing argument max", id="autoscale-no-max"),
    pytest.param("pool/autoscale", {"min": "5", "max": "2"}, "must not exceed",
                 id="autoscale-inverted"),
    pytest.param("queue/add-consumer", {}, "Missing argument queue", id="add-no-queue"),
    pytest.param("queue/cancel-consumer", {"queue": " "}, "Missing argument queue",
                 id="cancel-blank-queue"),
])
def test_bad_worker_parameters_are_400_and_nothing_is_sent(api, redis_server, route, params,
                                                           message):
    def act():
        assert message in error_of(api.post(f"/api/worker/{route}/{WORKER}", params=params), 400)
    assert broadcasts(redis_server.url, act) == []


def test_the_listener_does_see_a_real_command(api, redis_server):
    """So that the empty lists above mean something."""
    seen = broadcasts(redis_server.url, lambda: api.post(f"/api/worker/pool/grow/{WORKER}"))
    assert [(command["method"], command["destination"]) for command in seen] == \
        [("pool_grow", [WORKER])]
    api.post(f"/api/worker/pool/shrink/{WORKER}")


# -- task history ------------------------------------------------------------------------

def test_tasks_lists_the_history_in_flowers_shape(api, history):
    tasks = api.get("/api/tasks").json()
    assert set(history.values()) <= set(tasks)
    received = [task["received"] for task in tasks.values()]
    assert received == sorted(received, reverse=True)  # newest first
    add = tasks[history["add1"]]
    assert list(add) == FLOWER_TASK_KEYS
    assert add["uuid"] == history["add1"]
    assert (add["name"], add["state"], add["worker"], add["args"], add["result"]) == \
        ("cluster.add", "SUCCESS", WORKER, "(1, 1)", "2")
    assert add["queue"] == "celery" and add["children"] == []
    assert tasks[history["fail"]]["exception"].startswith("ValueError(")
    assert "Traceback" in tasks[history["fail"]]["traceback"]

    info = api.get(f"/api/task/info/{history['fail']}").json()
    assert info == tasks[history["fail"]]
    assert "cluster.add" in api.get("/api/task/types").json()["task-types"]


def ids(api, **params):
    response = api.get("/api/tasks", params=params)
    assert response.status_code == 200, response.text
    return list(response.json())


def test_tasks_filters_sorting_and_paging(api, history):
    mine = set(history.values())
    newest_first = [uuid for uuid in ids(api) if uuid in mine]
    assert ids(api, limit=2) == ids(api)[:2]
    assert ids(api, limit=2, offset=1) == ids(api)[1:3]
    assert ids(api, offset=-5) == ids(api)  # Flower clamps a negative offset to 0
    assert ids(api, limit=0) == []
    assert [uuid for uuid in ids(api, sort_by="received") if uuid in mine] == \
        newest_first[::-1]
    by_name = api.get("/api/tasks", params={"sort_by": "-name"}).json()
    assert [task["name"] for task in by_name.values()] == sorted(
        (task["name"] for task in by_name.values()), reverse=True)

    assert ids(api, state="FAILURE") == [history["fail"]]
    assert set(ids(api, state="FAILURE,SUCCESS")) == set(ids(api, state="All")) >= mine
    both = ids(api, state="SUCCESS,FAILURE")  # a page of a list is merged from one query each
    assert ids(api, state="SUCCESS,FAILURE", limit=3, offset=1) == both[1:4]
    assert set(ids(api, taskname="cluster.add")) >= {history["add1"], history["add2"]}
    assert history["echo"] not in ids(api, taskname="cluster.add")
    assert set(ids(api, workername=WORKER)) >= mine
    assert ids(api, workername="nobody@test") == []
    assert ids(api, search="needle-in-haystack") == [history["echo"]]

    minute_ago = datetime.fromtimestamp(time.time() - 60).strftime("%Y-%m-%d %H:%M")
    in_a_minute = datetime.fromtimestamp(time.time() + 120).strftime("%Y-%m-%d %H:%M")
    assert set(ids(api, received_start=minute_ago)) >= mine
    assert ids(api, received_end=minute_ago) == []
    assert set(ids(api, started_start=minute_ago, started_end=in_a_minute)) >= mine
    assert ids(api, started_start=in_a_minute) == []
    assert set(ids(api, received_start=str(time.time() - 60))) >= mine  # epoch seconds too


@pytest.mark.parametrize("params, message", [
    pytest.param({"limit": "ten"}, "of type 'int'", id="limit-word"),
    pytest.param({"limit": "-1"}, "at least 0", id="limit-negative"),
    pytest.param({"limit": "9" * 30}, "at most", id="limit-overflow"),
    pytest.param({"sort_by": "-"}, "sort_by", id="sort-dash"),
    pytest.param({"offset": "1.5"}, "of type 'int'", id="offset-float"),
    pytest.param({"sort_by": "args"}, "sort_by", id="sort-unknown"),
    pytest.param({"state": "not a state"}, "is not a task state", id="state-bad"),
    pytest.param({"received_start": "last tuesday"}, "YYYY-MM-DD HH:MM", id="time-bad"),
    pytest.param({"started_end": "2024-13-01 10:00"}, "started_end", id="time-month-13"),
    pytest.param({"search": "x" * 201}, "at most 200", id="search-long"),
])
def test_bad_task_list_parameters_are_400(api, params, message):
    assert message in error_of(api.get("/api/tasks", params=params), 400)


def test_unknown_task_info_is_404(api):
    assert error_of(api.get("/api/task/info/no-such-task"), 404) == "Unknown task 'no-such-task'"


# -- sending tasks and results -----------------------------------------------------------

def test_async_apply_then_result(api):
    sent = api.post("/api/task/async-apply/cluster.add", json={"args": [20, 22]})
    assert sent.status_code == 200, sent.text
    # the state is the result backend's when the answer is made: a quick worker may be done
    assert list(sent.json()) == ["task-id", "state"]
    assert sent.json()["state"] in ("PENDING", "RECEIVED", "STARTED", "SUCCESS")
    task_id = sent.json()["task-id"]
    done = api.get(f"/api/task/result/{task_id}", params={"timeout": 20}).json()
    assert done == {"task-id": task_id, "state": "SUCCESS", "result": 42}
    assert api.get(f"/api/task/result/{task_id}").json() == done  # ready: result without waiting
    assert api.get("/api/task/result/never-sent").json() == {"task-id": "never-sent",
                                                             "state": "PENDING"}


def test_apply_waits_for_the_result(api):
    done = api.post("/api/task/apply/cluster.echo", json={"kwargs": {"value": {"a": [1]}}})
    assert done.status_code == 200, done.text
    assert list(done.json()) == ["task-id", "result", "state"]
    assert done.json()["result"] == {"a": [1]} and done.json()["state"] == "SUCCESS"

    failed = api.post("/api/task/apply/cluster.fail", json={"args": ["on purpose"]}).json()
    assert failed["state"] == "FAILURE"
    assert failed["result"].startswith("ValueError(") and "Traceback" in failed["traceback"]

    slow = api.post("/api/task/apply/cluster.sleep", json={"args": [2], "timeout": 0.3})
    assert slow.status_code == 200 and "result" not in slow.json()
    assert slow.json()["state"] in ("PENDING", "STARTED")


def test_send_task_with_options(api, cluster_app):
    sent = api.post("/api/task/send-task/cluster.add",
                    json={"args": [1, 2], "countdown": 0.2, "queue": "celery"})
    assert sent.status_code == 200, sent.text
    assert cluster_app.AsyncResult(sent.json()["task-id"]).get(timeout=20) == 3
    eta = api.post("/api/task/async-apply/cluster.add",
                   json={"args": [2, 2], "eta": "2000-01-01 00:00:00.000000"})  # Flower's format
    assert cluster_app.AsyncResult(eta.json()["task-id"]).get(timeout=20) == 4
    # send-task does not need the name to be known, as in Flower
    assert api.post("/api/task/send-task/not.registered.anywhere").status_code == 200


UNCONSUMED = "nothing-sent"  # a queue no worker reads: whatever reaches it stays there


@pytest.mark.parametrize("path, body, status, message", [
    pytest.param("apply/no.such.task", {}, 404, "Unknown task 'no.such.task'", id="apply-unknown"),
    pytest.param("async-apply/no.such.task", {}, 404, "Unknown task", id="async-unknown"),
    pytest.param("async-apply/cluster.add", "{bad json", 400, "invalid JSON", id="bad-json"),
    pytest.param("async-apply/cluster.add", "[1, 2]", 400, "JSON object", id="body-list"),
    pytest.param("send-task/cluster.add", {"args": "1, 2"}, 400, "args must be an array",
                 id="args-string"),
    pytest.param("send-task/cluster.add", {"kwargs": [1]}, 400, "kwargs must be an object",
                 id="kwargs-list"),
    pytest.param("send-task/cluster.add", {"eta": "tomorrow"}, 400, "Invalid option eta",
                 id="eta-bad"),
    pytest.param("send-task/cluster.add", {"countdown": "soon"}, 400, "countdown",
                 id="countdown-bad"),
    pytest.param("send-task/cluster.add", {"priority": "high"}, 400, "priority",
                 id="priority-bad"),
    pytest.param("apply/cluster.add", {"timeout": -1}, 400, "timeout", id="timeout-bad"),
    pytest.param("async-apply/cluster.add", {"args": [1, 2, 3]}, 400,
                 "cannot send cluster.add", id="signature"),  # checked before sending
    pytest.param("send-task/cluster.add", {"serializer": "nope"}, 400, "cannot send",
                 id="serializer-unknown"),
    pytest.param("send-task/cluster.add", {"headers": "x"}, 400, "cannot send",
                 id="headers-bad"),
])
def test_bad_task_requests_send_nothing(api, redis_server, path, body, status, message):
    data = json.dumps({"queue": UNCONSUMED, **body}) if isinstance(body, dict) else body
    assert message in error_of(api.post(f"/api/task/{path}", data=data), status)
    client = redis.Redis.from_url(redis_server.url)
    assert client.keys(UNCONSUMED + "*") == []
    client.close()


def test_the_unconsumed_queue_would_show_a_sent_task(api, redis_server):
    """So that the empty queue above means something."""
    sent = api.post("/api/task/send-task/cluster.add", json={"args": [1, 2], "queue": UNCONSUMED})
    assert sent.status_code == 200
    client = redis.Redis.from_url(redis_server.url)
    assert client.llen(UNCONSUMED) == 1
    client.delete(UNCONSUMED)
    client.close()


def test_bad_result_timeout_is_400(api):
    assert "of type 'float'" in error_of(api.get("/api/task/result/x", params={"timeout": "z"}),
                                         400)


# -- task control ------------------------------------------------------------------------

def test_revoke_terminates_a_running_task(api, cluster_app, scope):
    assert api.post("/api/task/revoke/any-id").json() == {"message": "Revoked 'any-id'"}
    running = cluster_app.send_task("cluster.sleep", (30,))
    store = HistoryStore(scope.store)
    wait_until(lambda: (store.task(running.id) or {}).get("state") == "STARTED", 20, "started")
    response = api.post(f"/api/task/revoke/{running.id}",
                        params={"terminate": "true", "signal": "SIGKILL"})
    assert response.json() == {"message": f"Revoked '{running.id}'"}
    wait_until(lambda: store.task(running.id)["state"] == "REVOKED", 20, "revoked")
    store.close()


def test_time_and_rate_limits(api):
    timeout = api.post("/api/task/timeout/cluster.sleep",
                       data={"workername": WORKER, "soft": "30", "hard": "60"})
    assert timeout.json() == {"message": "time limits set successfully"}
    limit = api.post("/api/task/rate-limit/cluster.echo",
                     data={"workername": WORKER, "ratelimit": "100/m"})
    assert limit.json() == {"message": "new rate limit set successfully"}
    everywhere = api.post("/api/task/rate-limit/cluster.echo", data={"ratelimit": "0"})
    assert everywhere.json() == {"message": "new rate limit set successfully"}  # every worker


@pytest.mark.parametrize("path, params, status, message", [
    pytest.param("revoke/x", {"terminate": "perhaps"}, 400, "of type 'bool'", id="revoke-bool"),
    pytest.param("revoke/x", {"signal": "SIGBOGUS"}, 400, "signal", id="revoke-signal"),
    pytest.param("timeout/no.such.task", {"workername": WORKER, "soft": 1}, 404,
                 "Unknown task 'no.such.task'", id="timeout-task"),
    pytest.param("timeout/cluster.sleep", {"workername": "nobody@test", "soft": 1}, 404,
                 "unknown worker", id="timeout-worker"),
    pytest.param("timeout/cluster.sleep", {"workername": WORKER, "soft": "x"}, 400,
                 "of type 'float'", id="timeout-soft"),
    pytest.param("timeout/cluster.sleep", {"workername": WORKER, "soft": 9, "hard": 3}, 400,
                 "must not exceed", id="timeout-inverted"),
    pytest.param("rate-limit/cluster.add", {"workername": WORKER}, 400,
                 "Missing argument ratelimit", id="rate-missing"),
    pytest.param("rate-limit/cluster.add", {"workername": WORKER, "ratelimit": "fast"}, 400,
                 "ratelimit", id="rate-bad"),
    pytest.param("rate-limit/no.such.task", {"ratelimit": "1/s"}, 404, "Unknown task",
                 id="rate-task"),
])
def test_bad_task_control_requests_send_nothing(api, redis_server, path, params, status, message):
    def act():
        assert message in error_of(api.post(f"/api/task/{path}", data=params), status)
    assert broadcasts(redis_server.url, act) == []


def test_abort(api, cluster_app, history):
    finished = api.post(f"/api/task/abort/{history['add1']}")
    assert "already finished" in error_of(finished, 400)
    assert cluster_app.AsyncResult(history["add1"]).get(timeout=5) == 2  # result untouched

    queued = cluster_app.send_task("cluster.add", (1, 1), countdown=60)
    wait_until(lambda: api.get(f"/api/task/info/{queued.id}").status_code == 200, 20,
               "the countdown task in the history")
    assert "not abortable" in error_of(api.post(f"/api/task/abort/{queued.id}"), 400)
    api.post(f"/api/task/revoke/{queued.id}")

    unseen = "not-seen-yet"
    assert api.post(f"/api/task/abort/{unseen}").json() == {"message": f"Aborted '{unseen}'"}
    assert AbortableAsyncResult(unseen, app=cluster_app).is_aborted()


# -- queues, shutdown and status ---------------------------------------------------------

def test_queue_lengths_count_priority_sub_queues_and_shutdown(api, redis_server, cluster_app,
                                                               scope, tmp_path):
    """A worker consuming 'parked' is seen, then shut down; messages then wait in 'parked'."""
    parked = start_worker(redis_server.url, PARKED, tmp_path, concurrency=1,
                          options=("-Q", "parked", "--autoscale", "2,1"))
    try:
        wait_until(lambda: api.get("/api/workers", params={"status": 1}).json().get(PARKED), 30,
                   "the parked worker online")
        wait_until(lambda: PARKED in api.get("/api/workers", params={"refresh": 1}).json(), 30,
                   "the parked worker in the Inspector cache")
        scaled = api.post(f"/api/worker/pool/autoscale/{PARKED}", params={"min": 1, "max": 3})
        assert scaled.json() == {"message": f"Autoscaling '{PARKED}' worker (min=1, max=3)"}
        assert api.post(f"/api/worker/shutdown/{PARKED}").json() == {"message": "Shutting down!"}
        parked.wait(20)
    finally:
        stop_process(parked)

    for priority in (0, 0, 3, 6, 9):
        cluster_app.send_task("cluster.add", (1, 1), queue="parked", priority=priority)
    client = redis.Redis.from_url(redis_server.url)
    sub_queues = [key for key in client.keys("parked*") if key != b"parked"]
    client.close()
    assert sub_queues  # the test does exercise the priority lists
    lengths = api.get("/api/queues/length").json()["active_queues"]
    assert [queue["name"] for queue in lengths] == ["celery", "parked"]  # Flower's shape, sorted
    assert lengths[1] == {"name": "parked", "messages": 5}
    assert isinstance(lengths[0]["messages"], int)

    wait_until(lambda: api.get("/api/workers", params={"status": 1}).json() ==
               {WORKER: True, PARKED: False}, 20, "the parked worker offline")


# -- broker and backend unreachable ------------------------------------------------------

DEAD_BROKER_CALLS = [
    ("post", "/api/worker/pool/grow/gone@test", "broker unreachable"),
    ("post", "/api/worker/shutdown/gone@test", "broker unreachable"),
    ("get", "/api/workers?refresh=1", "Failed to update workers"),
    ("get", "/api/queues/length", "broker unreachable"),
    ("post", "/api/task/send-task/cluster.add", "broker unreachable"),
    ("post", "/api/task/revoke/seeded-task", "broker unreachable"),
    ("get", "/api/task/result/seeded-task", "no result backend"),
    ("post", "/api/task/abort/some-id", "no result backend"),
]


def test_broker_down_is_503(dead):
    """Every call that needs the broker (or a result backend) answers 503, within seconds.
    The calls run side by side: each waits for its own connection attempt to fail."""
    def call(method, path, _message):
        started = time.monotonic()
        response = getattr(requests, method)(dead.url + path, timeout=30)
        return response, time.monotonic() - started

    with ThreadPoolExecutor(len(DEAD_BROKER_CALLS)) as pool:
        answers = list(pool.map(lambda entry: call(*entry), DEAD_BROKER_CALLS))
    for (_method, path, message), (response, seconds) in zip(DEAD_BROKER_CALLS, answers):
        assert message in error_of(response, 503), path
        assert seconds < 10, path


def test_history_stays_readable_without_a_broker(dead):
    tasks = requests.get(dead.url + "/api/tasks", timeout=10).json()
    assert list(tasks) == ["seeded-task"] and tasks["seeded-task"]["worker"] == "gone@test"
    assert requests.get(dead.url + "/api/workers?status=true", timeout=10).json() == {
        "gone@test": False}  # its heartbeats stopped a minute ago
    assert requests.get(dead.url + "/api/task/types", timeout=10).json() == {
        "task-types": ["cluster.add"]}


# -- a script written for Flower ---------------------------------------------------------

FLOWER_CLIENT = '''
import sys
import requests

flower = sys.argv[1]
workers = requests.get(f"{flower}/api/workers", params={"refresh": "True"}).json()
for name, info in workers.items():
    print(name, info["stats"]["pool"]["max-concurrency"], len(info["registered"]))

task = requests.post(f"{flower}/api/task/async-apply/cluster.add", json={"args": [3, 4]})
task.raise_for_status()
task_id = task.json()["task-id"]
result = requests.get(f"{flower}/api/task/result/{task_id}", params={"timeout": 20}).json()
print("result", result["state"], result["result"])

tasks = requests.get(f"{flower}/api/tasks", params={"limit": 3, "state": "SUCCESS",
                                                    "sort_by": "-received"}).json()
for uuid, info in tasks.items():
    detail = requests.get(f"{flower}/api/task/info/{uuid}").json()
    assert detail["uuid"] == uuid and detail["state"] == "SUCCESS", detail
    print("task", info["name"], info["worker"], info["runtime"] >= 0)

types = requests.get(f"{flower}/api/task/types").json()["task-types"]
print("types", "cluster.add" in types)
queues = requests.get(f"{flower}/api/queues/length").json()["active_queues"]
print("queues", sorted(queue["name"] for queue in queues))

name = next(iter(workers))
grow = requests.post(f"{flower}/api/worker/pool/grow/{name}", params={"n": 1})
print(grow.status_code, grow.json()["message"])
shrink = requests.post(f"{flower}/api/worker/pool/shrink/{name}", params={"n": 1})
print(shrink.status_code, shrink.json()["message"])
limit = requests.post(f"{flower}/api/task/rate-limit/cluster.add",
                      data={"workername": name, "ratelimit": "1000/m"})
print(limit.status_code, limit.json()["message"])
missing = requests.post(f"{flower}/api/worker/pool/grow/nobody@nowhere")
print("missing", missing.status_code)
'''


def test_a_flower_client_script_runs_unchanged(api, history, tmp_path):
    script = tmp_path / "flower_client.py"
    script.write_text(FLOWER_CLIENT)
    done = subprocess.run([sys.executable, str(script), api.url], check=False,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith(f"{WORKER} ") for line in lines)
    assert "result SUCCESS 7" in lines
    assert len([line for line in lines if line.startswith("task cluster.")
                and line.endswith(f" {WORKER} True")]) == 3
    assert "types True" in lines
    assert f"200 Growing '{WORKER}' worker's pool by 1" in lines
    assert f"200 Shrinking '{WORKER}' worker's pool by 1" in lines
    assert "200 new rate limit set successfully" in lines
    assert "missing 404" in lines
