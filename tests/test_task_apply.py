"""Control.task_apply against a real redis-server (and a real worker for the round trip)."""
import pytest
import redis

from celery_scope.broker.control import Control
from celery_scope.broker.gate import BrokerUnavailable, ControlError

from .helpers import free_port, wait_until

pytestmark = pytest.mark.integration

WORKER = "apply@test"


@pytest.fixture
def control(cluster_app):
    return Control(cluster_app, known_workers=lambda: [WORKER], timeout=1.0)


def queued(redis_url, queue="celery"):
    client = redis.Redis.from_url(redis_url)
    try:
        return client.llen(queue)
    finally:
        client.close()


def test_apply_sends_a_new_task_that_runs(workers, control, cluster_app):
    workers(WORKER, concurrency=1)
    wait_until(lambda: cluster_app.control.ping(destination=[WORKER], timeout=0.5), 30, "ping")
    task_id = control.task_apply("cluster.add", (20, 22), {})
    assert cluster_app.AsyncResult(task_id).get(timeout=20) == 42
    keyword = control.task_apply("cluster.echo", [], {"value": "héllo\n'quoted'"})
    assert cluster_app.AsyncResult(keyword).get(timeout=20) == "héllo\n'quoted'"
    assert keyword != task_id


def test_apply_routes_to_the_given_queue(redis_server, control):
    control.task_apply("cluster.add", (1, 2), None, queue="elsewhere")
    assert queued(redis_server.url, "elsewhere") == 1
    assert queued(redis_server.url) == 0


@pytest.mark.parametrize("name, args, kwargs, message", [
    pytest.param("", (), {}, "task name is required", id="no-name"),
    pytest.param("cluster.add", "12", {}, "args must be a list", id="args-string"),
    pytest.param("cluster.add", 5, {}, "args must be a list", id="args-scalar"),
    pytest.param("cluster.add", (), {1: 2}, "mapping of argument names", id="kwargs-keys"),
    pytest.param("cluster.add", (object(),), {}, "cannot serialize", id="unserializable"),
])
def test_bad_calls_are_refused_and_nothing_is_sent(redis_server, control, name, args, kwargs,
                                                   message):
    with pytest.raises(ControlError, match=message) as raised:
        control.task_apply(name, args, kwargs)
    assert not isinstance(raised.value, BrokerUnavailable)
    assert queued(redis_server.url) == 0


def test_unreachable_broker_is_one_clear_error():
    from celery import Celery
    app = Celery("nowhere", broker=f"redis://127.0.0.1:{free_port()}/0", set_as_current=False)
    with pytest.raises(BrokerUnavailable, match="broker unreachable"):
        Control(app, known_workers=list, timeout=0.5).task_apply("cluster.add", (1, 2), {})
    app.close()
