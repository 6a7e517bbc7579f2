"""Queue lengths asked of real brokers: redis-server (priority sub-queues, key prefix, custom
priority steps), the filesystem demo broker, and the RabbitMQ management API's request."""
import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import redis
from celery import Celery

from celery_scope.broker.gate import BrokerUnavailable
from celery_scope.broker.queue_lengths import (
    management_request,
    queue_heads,
    queue_lengths,
    ready_counts,
)
from celery_scope.collector.demo_tasks import make_demo_app

from .helpers import free_port


def redis_app(url, **transport_options):
    app = Celery("lengths", broker=url, set_as_current=False)
    app.conf.broker_transport_options = transport_options
    return app


def send(app, queue, *priorities):
    for priority in priorities:
        app.send_task("nobody.runs.this", queue=queue, priority=priority)


@pytest.mark.integration
@pytest.mark.parametrize("options, sub_queue", [
    pytest.param({}, b"parked\x06\x169", id="default priority steps"),
    pytest.param({"global_keyprefix": "pfx:"}, b"pfx:parked\x06\x169", id="global_keyprefix"),
    pytest.param({"priority_steps": list(range(10)), "sep": ":", "global_keyprefix": "p_"},
                 b"p_parked:7", id="custom steps and separator"),
])
def test_redis_counts_every_priority_sub_queue(redis_server, options, sub_queue):
    app = redis_app(redis_server.url, **options)
    send(app, "parked", 0, 0, 3, 7, 9)
    client = redis.Redis.from_url(redis_server.url)
    assert sub_queue in client.keys("*parked*")  # the messages do sit in sub-queues
    client.close()
    lengths = queue_lengths(app, ["parked", "never-used"], timeout=2)
    assert lengths == [{"name": "parked", "messages": 5}, {"name": "never-used", "messages": 0}]
    app.close()


def test_filesystem_demo_broker_counts_message_files(tmp_path):
    app = make_demo_app(tmp_path)
    send(app, "parked", 0, 0, 0)
    send(app, "other", 0)
    assert queue_lengths(app, ["parked", "other", "none"], timeout=2) == [
        {"name": "parked", "messages": 3}, {"name": "other", "messages": 1},
        {"name": "none", "messages": 0}]
    app.close()


def test_filesystem_demo_broker_shows_each_queues_first_message_file(tmp_path):
    app = make_demo_app(tmp_path)
    first = app.send_task("nobody.runs.this", queue="parked")
    app.send_task("nobody.runs.this", queue="parked")
    heads = queue_heads(app, ["parked", "none"], timeout=2)
    assert heads == {
        "parked": [{"priority": None, "messages": 2, "task_id": first.id, "timestamp": None}],
        "none": [{"priority": None, "messages": 0, "task_id": None, "timestamp": None}]}
    assert queue_lengths(app, ["parked"], timeout=2) == [{"name": "parked", "messages": 2}]
    app.close()


def test_unreachable_broker_raises_one_typed_error():
    app = redis_app(f"redis://127.0.0.1:{free_port()}/0")
    with pytest.raises(BrokerUnavailable, match="broker unreachable"):
        queue_lengths(app, ["celery"], timeout=1)
    app.close()


# -- RabbitMQ's management API: the request, and the fallback to the broker ----------------

def test_management_request_takes_flowers_broker_api_form():
    request = management_request("http://admin:s%3Acret@rabbit:15672/api/", "/", None)
    assert request.full_url == ("http://rabbit:15672/api/queues/%2F"
                                "?columns=name,messages_ready,head_message_timestamp")
    assert request.get_header("Authorization") == "Basic " + base64.b64encode(
        b"admin:s:cret").decode()


def test_management_request_falls_back_to_the_brokers_credentials():
    request = management_request("https://rabbit/admin/api", "prod/eu", ("guest", "pw"))
    assert request.full_url == ("https://rabbit/admin/api/queues/prod%2Feu"
                                "?columns=name,messages_ready,head_message_timestamp")
    assert request.get_header("Authorization") == "Basic " + base64.b64encode(b"guest:pw").decode()


@pytest.mark.parametrize("url", ["ftp://rabbit/api/", "rabbit:15672/api/"])
def test_management_request_refuses_non_http_urls(url):
    with pytest.raises(ValueError, match="http"):
        management_request(url, "/", None)


def test_ready_counts_skip_queues_without_statistics():
    payload = [{"name": "a", "messages_ready": 3}, {"name": "new"}, {"name": "b",
               "messages_ready": 0}, "junk", {"messages_ready": 1}]
    assert ready_counts(payload) == {"a": 3, "b": 0}
    with pytest.raises(TypeError):
        ready_counts({"error": "not_authorised"})


class ManagementApi:
    """A stand-in for RabbitMQ's management API on a free port, recording its requests."""

    def __init__(self, answer, status=200):
        self.requests = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                owner.requests.append((self.path, self.headers.get("Authorization")))
                body = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_port}/api/"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *_):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.mark.integration
def test_management_counts_are_used_and_the_broker_asked_for_the_rest(redis_server):
    app = redis_app(redis_server.url)
    send(app, "unlisted", 0, 0)
    with ManagementApi([{"name": "listed", "messages_ready": 42}]) as api:
        lengths = queue_lengths(app, ["listed", "unlisted"], timeout=2, broker_api=api.url)
    assert lengths == [{"name": "listed", "messages": 42}, {"name": "unlisted", "messages": 2}]
    # the broker URL's virtual host (Redis: the database number); no credentials to send
    assert api.requests == [
        ("/api/queues/0?columns=name,messages_ready,head_message_timestamp", None)]
    app.close()


@pytest.mark.integration
def test_a_failing_management_api_falls_back_to_the_broker(redis_server, caplog):
    app = redis_app(redis_server.url)
    send(app, "parked", 0)
    with ManagementApi({"error": "not_authorised"}, status=401) as api:
        lengths = queue_lengths(app, ["parked"], timeout=2, broker_api=api.url)
    assert lengths == [{"name": "parked", "messages": 1}]
    assert "broker API 127.0.0.1 failed" in caplog.text
    app.close()
