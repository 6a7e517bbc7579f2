"""Purging a queue: on a real redis-server through the API and the /broker page (the
dialog names the queue and its depth; LLEN tells what is left, priority sub-queues too),
and on a private RabbitMQ node through the broker function. Each purge is audited."""
import json
import urllib.error
import urllib.request

import pytest
import redis
from celery import Celery
from playwright.sync_api import expect

from celery_scope.broker.purge import UnknownQueue, purge_queue
from celery_scope.broker.queue_lengths import queue_lengths

from .helpers import wait_until

pytestmark = pytest.mark.integration

# kombu's Redis keys of the default queue: the queue, then its priority steps 3, 6 and 9
REDIS_KEYS = ("celery", "celery\x06\x163", "celery\x06\x166", "celery\x06\x169")


def post(url):
    request = urllib.request.Request(url, method="POST", data=b"")
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def waiting(client) -> int:
    return sum(client.llen(key) for key in REDIS_KEYS)


def send(app, count, **options):
    for number in range(count):
        app.send_task("cluster.add", (number, 1), **options)


@pytest.mark.browser
def test_purge_a_redis_queue_by_api_and_page(redis_server, scope, cluster_app, page):
    client = redis.Redis.from_url(redis_server.url)
    instance = scope(redis_server.url)  # no worker consumes: messages wait in `celery`
    send(cluster_app, 8)
    send(cluster_app, 4, priority=6)
    assert waiting(client) == 12 and client.llen("celery") < 12  # some in a sub-queue

    assert post(f"{instance.url}/api/queues/purge/no-such-queue")[0] == 404
    assert waiting(client) == 12
    status, answer = post(f"{instance.url}/api/queues/purge/celery")
    assert (status, answer["queue"], answer["removed"]) == (200, "celery", 12)
    assert waiting(client) == 0

    send(cluster_app, 7)
    page.goto(f"{instance.url}/broker")
    page.locator("#broker-purge-queue").click()
    page.get_by_role("option", name="celery", exact=True).click()
    page.locator("#broker-purge").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible(timeout=10000)
    expect(dialog.locator(".modal-target")).to_have_text("celery")
    expect(dialog).to_contain_text("Deletes the 7 messages waiting in it now")
    assert waiting(client) == 7  # nothing goes before the confirmation
    dialog.get_by_role("button", name="Purge").click()
    expect(page.locator("#broker-purge-result")).to_have_text(
        "Purged 7 messages from celery.", timeout=10000)
    assert waiting(client) == 0
    assert page.problems == []

    with urllib.request.urlopen(f"{instance.url}/api/audit?action=queue_purge") as response:
        trail = json.loads(response.read())["entries"]
    assert [(entry["targets"], entry["outcome"], entry["detail"]) for entry in trail] == [
        (["celery"], "ok", "7 messages removed"),
        (["celery"], "ok", "12 messages removed"),
        (["no-such-queue"], "refused", "HTTP 404 Unknown queue 'no-such-queue'"),
    ]
    client.close()


def test_purge_a_rabbitmq_queue(rabbitmq):
    app = Celery("client", broker=rabbitmq.url, set_as_current=False)
    try:
        for number in range(5):
            app.send_task("rabbit.add", (number, 1), queue="to-purge")
        wait_until(lambda: queue_lengths(app, ["to-purge"], 5)[0]["messages"] == 5, 10,
                   "5 messages ready")
        assert purge_queue(app, "to-purge", 5) == 5
        assert queue_lengths(app, ["to-purge"], 5)[0]["messages"] == 0
        with pytest.raises(UnknownQueue, match="no-such-queue"):
            purge_queue(app, "no-such-queue", 5)
        assert purge_queue(app, "to-purge", 5) == 0  # the connection is still usable
    finally:
        app.close()
