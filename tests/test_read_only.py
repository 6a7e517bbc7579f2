"""Read-only mode against a real worker on a real redis-server, through a real
`celery -A cluster_tasks scope --read-only`: every mutating route of the URL map answers 403
and nothing reaches the broker, reading goes on, and the pages refuse and grey out actions.
"""
from __future__ import annotations

import re
import sys

import pytest
import redis
import requests
from celery import Celery
from playwright.sync_api import expect

from celery_scope.store.history import HistoryStore

from .api_routes import api_routes, built_app
from .helpers import RedisServer, Scope, broadcasts, start_worker, stop_process, wait_until

pytestmark = pytest.mark.integration

WORKER = "readonly@test"
REFUSED = {"error": "celery-scope runs read-only"}
PROBE_QUEUE = "read-only-probe"  # where a task sent despite read-only would land
PROBE_TASK = "never-aborted"  # a task id whose result an abort would write


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def cluster_app(redis_server):
    app = Celery("client", broker=redis_server.url, backend=redis_server.url,
                 set_as_current=False)
    yield app
    app.close()


@pytest.fixture(scope="module")
def worker(redis_server, cluster_app, tmp_path_factory):
    process = start_worker(redis_server.url, WORKER, tmp_path_factory.mktemp("worker"))
    wait_until(lambda: cluster_app.control.ping(destination=[WORKER], timeout=0.5), 30,
               "worker ping")
    yield process
    stop_process(process)


@pytest.fixture(scope="module")
def scope(redis_server, worker, cluster_app, tmp_path_factory):
    """The dashboard, read-only, once it knows the worker and one finished task."""
    instance = Scope(tmp_path_factory.mktemp("scope"), None, "--read-only",
                     command=(sys.executable, "-m", "celery", "-A", "cluster_tasks", "scope"),
                     env={"SCOPE_TEST_BROKER": redis_server.url}).start()
    try:
        # events sent before the collector's subscription is confirmed are never seen
        wait_until(lambda: instance.status().get("broker_connected"), 30, "the collector")
        done = cluster_app.send_task("cluster.add", (1, 2))
        store = HistoryStore(instance.store)
        wait_until(lambda: any(row["hostname"] == WORKER for row in store.workers()), 30,
                   "the worker in the store")
        wait_until(lambda: (store.task(done.id) or {}).get("state") == "SUCCESS", 30,
                   "the task in the store")
        store.close()
        instance.task_id = done.id
        yield instance
    finally:  # stopped even when setting up failed
        instance.stop()


@pytest.fixture(scope="module")
def routes(tmp_path_factory):
    """{path: methods} of the app's API, from the URL map of the app itself."""
    with built_app(tmp_path_factory.mktemp("routes"), read_only=True) as server:
        return api_routes(server)


def concrete(path: str, task_id: str) -> str:
    return (path.replace("{workername}", WORKER).replace("{taskname}", "cluster.add")
            .replace("{taskid}", task_id))


def reading_url(base: str, path: str, task_id: str) -> str:
    """A GET of `path` that asks for something that exists: the reference's own files,
    a bulk dry run of the stored task."""
    if path == "/api/docs/{version}/{filename}":
        served = requests.get(base + "/api/docs", timeout=30).text
        return base + re.search(r'src="[^"]*(/api/docs/[^/"]+/start\.js)"', served).group(1)
    if path in ("/api/tasks/retry", "/api/tasks/revoke"):
        return f"{base}{path}?ids={task_id}"
    return base + concrete(path, task_id)


def test_every_mutating_route_is_refused_and_nothing_reaches_the_broker(scope, routes,
                                                                          redis_server):
    mutating = sorted(path for path, methods in routes.items() if methods - {"GET"})
    assert len(mutating) >= 14  # seven worker actions, seven task actions
    params = {"n": 1, "min": 1, "max": 2, "queue": "extra", "ratelimit": "1/s", "soft": 1,
              "hard": 2, "terminate": "true", "workername": WORKER}
    answers = {}

    def act():
        for path in mutating:
            for method in routes[path] - {"GET"}:
                url = scope.url + concrete(path, PROBE_TASK)
                answers[method, path] = requests.request(
                    method, url, params=params, json={"args": [1, 2], "queue": PROBE_QUEUE},
                    timeout=10)
        # permission comes before the unknown-target check: nothing to learn by probing
        answers["POST", "unknown worker"] = requests.post(
            scope.url + "/api/worker/pool/grow/nobody@test", timeout=10)

    assert broadcasts(redis_server.url, act) == []
    for route, response in answers.items():
        assert (response.status_code, response.json()) == (403, REFUSED), route
    client = redis.Redis.from_url(redis_server.url)
    assert client.keys(PROBE_QUEUE + "*") == []
    assert client.keys(f"*{PROBE_TASK}*") == []  # abort wrote no result
    client.close()


def test_reading_routes_still_work(scope, routes, redis_server):
    reading = sorted(path for path, methods in routes.items() if "GET" in methods)
    refused = {}
    for path in reading:
        response = requests.get(reading_url(scope.url, path, scope.task_id), timeout=30)
        # no job can start in read-only mode, and this cluster's app has no beat schedule:
        # asking for a job or an entry answers that it is unknown
        expected = 404 if path in ("/api/jobs/{job_id}", "/api/beat/{entry}/runs") else 200
        if response.status_code != expected:
            refused[path] = (response.status_code, response.text[:200])
    assert refused == {}
    # asking the workers for fresh Inspector data changes nothing: it stays allowed
    seen = broadcasts(redis_server.url, lambda: requests.get(
        scope.url + "/api/workers", params={"refresh": "true"}, timeout=30).raise_for_status())
    assert seen and {command["method"] for command in seen} <= {
        "stats", "active_queues", "registered", "scheduled", "active", "reserved", "revoked",
        "conf"}


def dash_callback(url: str, output_has: str, values: dict[str, object], changed: str) -> dict:
    """Call a page callback over HTTP as the browser would: the one whose outputs include
    `output_has`, with `values` for its inputs and states (others None)."""
    dependencies = requests.get(url + "/_dash-dependencies", timeout=10).json()
    (callback,) = [entry for entry in dependencies if output_has in entry["output"]
                   and not entry.get("clientside_function")]
    outputs = [dict(zip(("id", "property"), part.rsplit(".", 1)))
               for part in callback["output"].strip(".").split("...")]

    def filled(entries):
        return [{**entry, "value": values.get(f"{entry['id']}.{entry['property']}")}
                for entry in entries]

    body = {"output": callback["output"], "outputs": outputs,
            "inputs": filled(callback["inputs"]), "state": filled(callback["state"]),
            "changedPropIds": [changed]}
    response = requests.post(url + "/_dash-update-component", json=body, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["response"]


def test_a_page_action_is_refused_and_sends_nothing(scope, redis_server):
    """The worker page's Grow button, pressed despite being greyed out (a stale tab, a
    hand-made request): the callback answers with the refusal and sends no command."""
    answers = []
    seen = broadcasts(redis_server.url, lambda: answers.append(dash_callback(
        scope.url, "worker-action-result.children",
        {"worker-grow.n_clicks": 1, "worker-name.data": WORKER, "worker-data-version.data": 0,
         "worker-pool-n.value": 1}, "worker-grow.n_clicks")))
    assert seen == []
    assert answers[0]["worker-action-result"] == {"children": "celery-scope runs read-only",
                                                  "className": "action-result error"}


@pytest.mark.browser
def test_pages_grey_out_their_actions_and_say_why(scope, page):
    page.goto(scope.url + "/")
    for name in ("Restart pool", "Shut down"):
        expect(page.get_by_role("button", name=name)).to_be_disabled(timeout=15000)
    group = page.locator(".group", has=page.get_by_role("button", name="Restart pool"))
    expect(group).to_have_attribute("title", re.compile("^Disabled: celery-scope runs read-only"))
    expect(page.get_by_role("button", name="Refresh")).to_be_enabled()

    page.goto(scope.url + "/workers/" + WORKER.replace("@", "%40"))
    expect(page.locator("#worker-offline-note")).to_contain_text(
        "Actions are disabled: celery-scope runs read-only", timeout=15000)
    expect(page.get_by_role("button", name="Shut down")).to_be_disabled()
    expect(page.get_by_role("button", name="Grow")).to_be_disabled()
    expect(page.get_by_role("button", name="Refresh now")).to_be_enabled()

    page.goto(scope.url + "/tasks/" + scope.task_id)
    expect(page.get_by_role("button", name="Revoke")).to_be_disabled(timeout=15000)
    expect(page.get_by_role("button", name="Apply again")).to_be_disabled()
    expect(page.locator("#task-apply-note")).to_contain_text(
        "Actions are disabled: celery-scope runs read-only")
    assert page.problems == []
