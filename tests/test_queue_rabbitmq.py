"""Queue lengths and worker control against a private RabbitMQ node (Debian
rabbitmq-server, management plugin on): passive declare, the management API, and
celery-scope with --broker-api watching a real worker. Skipped where it is not installed."""
import json
import os
import subprocess
import sys
import urllib.request

import pytest
import requests
from celery import Celery

from celery_scope.broker.queue_lengths import management_request, queue_lengths, ready_counts
from celery_scope.store.history import HistoryStore

from .helpers import TESTS_DIR, Scope, stop_process, wait_for, wait_until

pytestmark = pytest.mark.integration

WORKER = "rabbit@queues"

# The app the RabbitMQ worker runs. Results go over rpc://: the redis tests' cluster app
# takes its result backend from the broker URL, and an AMQP URL names no result backend.
rabbit_app = Celery("rabbit", broker=os.environ.get("SCOPE_TEST_BROKER", "memory://"),
                    backend="rpc://", set_as_current=False)


@rabbit_app.task(name="rabbit.add")
def add(x, y):
    return x + y


@pytest.fixture
def client(rabbitmq):
    app = Celery("client", broker=rabbitmq.url, set_as_current=False)
    yield app
    app.close()


def send(app, queue, count):
    for number in range(count):
        app.send_task("rabbit.add", (number, 1), queue=queue)


def lengths(app, names, broker_api=None):
    return [queue["messages"] for queue in queue_lengths(app, names, 5, broker_api)]


def test_passive_declare_counts_ready_messages(client):
    send(client, "parked", 4)
    # a queue that does not exist closes the AMQP channel: the next one is asked on a new one
    wait_for(lambda: lengths(client, ["parked", "missing", "parked"]),
             lambda found: found == [4, 0, 4], 10, "4 messages counted by passive declare")


def management_counts(rabbitmq):
    request = management_request(rabbitmq.management_url, "/", None)
    with urllib.request.urlopen(request, timeout=5) as response:
        return ready_counts(json.load(response))


def test_management_api_counts_and_falls_back_when_refused(rabbitmq, client, caplog):
    send(client, "reports", 3)
    # the management API refreshes its statistics every few seconds
    wait_until(lambda: management_counts(rabbitmq).get("reports") == 3, 30,
               "the management API to count 3 messages")
    assert lengths(client, ["reports", "absent"], rabbitmq.management_url) == [3, 0]
    wrong = rabbitmq.management_url.replace("guest:guest", "guest:wrong")
    assert lengths(client, ["reports"], wrong) == [3]
    assert "failed (HTTP Error 401" in caplog.text


@pytest.fixture
def worker(rabbitmq, tmp_path):
    command = [sys.executable, "-m", "celery", "-A", "tests.test_queue_rabbitmq:rabbit_app",
               "worker", "-n", WORKER, "-c", "1", "-Q", "work", "--without-gossip",
               "--without-mingle", "-E", "-l", "INFO"]
    environment = {**os.environ, "SCOPE_TEST_BROKER": rabbitmq.url,
                   "PYTHONPATH": str(TESTS_DIR.parent)}
    with open(tmp_path / "worker.log", "ab") as log:
        process = subprocess.Popen(command, env=environment, cwd=tmp_path, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    yield process
    stop_process(process)


def test_celery_scope_samples_queues_and_grows_a_pool_over_rabbitmq(rabbitmq, worker, client,
                                                                    tmp_path):
    dashboard = Scope(tmp_path, rabbitmq.url, "--broker-api", rabbitmq.management_url,
                      "--queue-sample-interval", "1", "--inspect-interval", "2").start()
    try:
        wait_until(lambda: dashboard.status().get("broker_connected"), 30, "the collector")
        workers = wait_for(lambda: requests.get(dashboard.url + "/api/workers", timeout=10).json(),
                           lambda found: "stats" in found.get(WORKER, {}), 40,
                           "the worker inspected over RabbitMQ")
        assert len(workers[WORKER]["stats"]["pool"]["processes"]) == 1
        answer = requests.get(dashboard.url + "/api/queues/length", timeout=10).json()
        # the consumed queue, and the client app's default one that /broker lists too
        assert answer == {"active_queues": [{"name": "celery", "messages": 0},
                                            {"name": "work", "messages": 0}]}

        grown = requests.post(f"{dashboard.url}/api/worker/pool/grow/{WORKER}", timeout=10)
        assert grown.json() == {"message": f"Growing '{WORKER}' worker's pool by 1"}
        wait_for(lambda: requests.get(dashboard.url + "/api/workers", params={"refresh": 1},
                                      timeout=10).json(),
                 lambda found: len(found[WORKER]["stats"]["pool"]["processes"]) == 2, 20,
                 "two pool processes")

        store = HistoryStore(dashboard.store)
        wait_until(lambda: {"celery", "work"} <= {
            row["queue"] for row in store.latest_queue_samples(0) if row["messages"] == 0},
            20, "the sampler's counts of celery and work")
        store.close()
    finally:
        dashboard.stop()
