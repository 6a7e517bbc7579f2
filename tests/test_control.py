"""Every control action against real `celery worker -E` processes on a real redis-server."""
import time

import pytest
import redis

from celery_scope.broker.control import Control, UnknownWorker, flatten_replies
from celery_scope.broker.gate import BrokerUnavailable, ControlError
from celery_scope.store.history import HistoryStore

from .helpers import free_port, wait_for, wait_until

pytestmark = pytest.mark.integration

WORKER = "ctl@test"


@pytest.fixture
def worker(workers, cluster_app):
    process = workers(WORKER, concurrency=1)[-1]
    wait_until(lambda: cluster_app.control.ping(destination=[WORKER], timeout=0.5), 30,
               "the worker to answer ping")
    return process


@pytest.fixture
def control(cluster_app):
    return Control(cluster_app, known_workers=lambda: [WORKER, "gone@test"], timeout=1.0)


def stats(cluster_app):
    return cluster_app.control.inspect(destination=[WORKER], timeout=2, limit=1).stats()[WORKER]


def queue_names(cluster_app):
    replies = cluster_app.control.inspect(destination=[WORKER], timeout=2, limit=1).active_queues()
    return {queue["name"] for queue in replies[WORKER]}


def test_grow_then_shrink_changes_the_pool(worker, control, cluster_app):
    assert len(stats(cluster_app)["pool"]["processes"]) == 1
    result = control.worker_pool_grow(WORKER, n=2)
    assert result.ok and "grow" in result.replies[WORKER].message
    wait_until(lambda: len(stats(cluster_app)["pool"]["processes"]) == 3, 15, "3 pool processes")
    assert control.worker_pool_shrink(WORKER, n=1).ok
    wait_until(lambda: len(stats(cluster_app)["pool"]["processes"]) == 2, 15, "2 pool processes")


def test_pool_restart(worker, control, cluster_app):
    before = set(stats(cluster_app)["pool"]["processes"])
    result = control.worker_pool_restart(WORKER)
    assert result.ok, result.summary()
    wait_until(lambda: set(stats(cluster_app)["pool"]["processes"]).isdisjoint(before), 20,
               "new pool processes")


def test_add_consume_and_cancel_a_queue(worker, control, cluster_app):
    result = control.worker_queue_add_consumer(WORKER, "extra")
    assert result.ok and "extra" in result.replies[WORKER].message
    assert "extra" in queue_names(cluster_app)
    assert "extra" in control.get_active_queue_names()
    assert cluster_app.send_task("cluster.add", args=(20, 22), queue="extra").get(timeout=20) == 42
    assert control.worker_queue_cancel_consumer(WORKER, "extra").ok
    assert "extra" not in queue_names(cluster_app)


def test_rate_and_time_limits_are_acknowledged(worker, control):
    rate = control.task_rate_limit("cluster.add", "10/m", workername=WORKER)
    assert rate.ok and "rate limit" in rate.replies[WORKER].message
    limits = control.task_time_limit("cluster.sleep", soft=5, hard=10, workername=WORKER)
    assert limits.ok and "time limits" in limits.replies[WORKER].message
    unknown_task = control.task_rate_limit("no.such.task", "1/s", workername=WORKER)
    assert not unknown_task.ok and "unknown task" in unknown_task.replies[WORKER].message.lower()


def test_revoke_scheduled_and_terminate_running(worker, control, cluster_app, scope):
    dashboard = scope(cluster_app.conf.broker_url)
    store = HistoryStore(dashboard.store)
    scheduled = cluster_app.send_task("cluster.add", args=(1, 1), countdown=3)
    running = cluster_app.send_task("cluster.sleep", args=(60,))
    wait_until(lambda: (store.task(running.id) or {}).get("state") == "STARTED", 30,
               "the long task to start")
    assert control.task_revoke(scheduled.id).ok
    result = control.task_terminate(running.id, signal="SIGKILL")
    assert result.ok and running.id in result.replies[WORKER].message
    for task in (scheduled, running):
        wait_until(lambda task=task: (store.task(task.id) or {}).get("state") == "REVOKED", 30,
                   f"{task.id} REVOKED in the store")
    store.close()


def test_autoscale_needs_an_autoscaling_worker(workers, control, cluster_app):
    workers(WORKER, concurrency=1, options=("--autoscale", "3,1"))
    wait_until(lambda: cluster_app.control.ping(destination=[WORKER], timeout=0.5), 30, "ping")
    result = control.worker_pool_autoscale(WORKER, min=2, max=4)
    assert result.ok, result.summary()
    wait_until(lambda: stats(cluster_app)["autoscaler"]["max"] == 4, 10, "new autoscale bounds")
    with pytest.raises(ControlError, match="must not exceed"):
        control.worker_pool_autoscale(WORKER, min=5, max=4)


def test_autoscale_error_from_a_fixed_pool_is_reported(worker, control):
    result = control.worker_pool_autoscale(WORKER, min=1, max=2)
    assert not result.ok and "autoscale" in result.replies[WORKER].message.lower()


def test_shutdown_takes_the_worker_offline(worker, control, cluster_app, scope):
    dashboard = scope(cluster_app.conf.broker_url)
    store = HistoryStore(dashboard.store)
    wait_until(lambda: store.workers(), 30, "the worker online in the store")
    assert control.worker_shutdown(WORKER).ok
    worker.wait(20)
    wait_for(store.workers, lambda rows: rows[0]["status"] == "offline", 20, "worker offline")
    store.close()


def pidbox_messages(redis_url, action):
    """Run `action` while listening on the control fanout; return what was broadcast."""
    client = redis.Redis.from_url(redis_url)
    listener = client.pubsub()
    listener.psubscribe("/0.celery.pidbox*")
    listener.get_message(timeout=1)  # the subscription confirmation
    try:
        action()
    finally:
        seen = []
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            message = listener.get_message(timeout=0.1)
            if message and message["type"] == "pmessage":
                seen.append(message)
        listener.close()
        client.close()
    return seen


def test_unknown_worker_is_refused_before_anything_is_sent(redis_server, control):
    def act():
        with pytest.raises(UnknownWorker, match="nobody@test"):
            control.worker_pool_grow("nobody@test")
    assert pidbox_messages(redis_server.url, act) == []
    # and the listener does see a real broadcast, so the check above can fail
    sent = pidbox_messages(redis_server.url, lambda: control.worker_pool_grow("gone@test"))
    assert len(sent) == 1


def test_a_stopped_worker_times_out(redis_server, control):
    started = time.monotonic()
    result = control.worker_pool_grow("gone@test")
    assert not result.ok and result.no_reply == ("gone@test",)
    assert "no reply" in result.summary()
    assert 0.9 <= time.monotonic() - started < 3


def test_broker_down_is_one_typed_error():
    from celery_scope.collector.service import make_celery_app
    dead = make_celery_app(f"redis://127.0.0.1:{free_port()}/0")
    control = Control(dead, known_workers=lambda: [WORKER], timeout=1.0)
    started = time.monotonic()
    with pytest.raises(BrokerUnavailable, match="broker unreachable"):
        control.worker_pool_grow(WORKER)
    assert time.monotonic() - started < 10


def test_bad_arguments_are_refused(control):
    with pytest.raises(ControlError, match="n must be at least 1"):
        control.worker_pool_grow(WORKER, n=0)
    with pytest.raises(ControlError, match="whole number"):
        control.worker_pool_shrink(WORKER, n="many")
    with pytest.raises(ControlError, match="queue is required"):
        control.worker_queue_add_consumer(WORKER, " ")


@pytest.mark.parametrize("action, replies, arguments, sentence", [
    pytest.param("pool_grow", [{WORKER: {"ok": "pool will grow"}}], {"n": 2},
                 f"The pool of {WORKER} grows by 2 processes.",
                 id="grow"),
    pytest.param("revoke", [{WORKER: {"ok": "tasks {'t1'} flagged as revoked"}}],
                 {"task_id": "t1", "terminate": False}, f"Revoked 1 task on {WORKER}.",
                 id="revoke"),
    pytest.param("revoke", [{WORKER: {"ok": "terminate: t1"}},
                            {"b@x": {"ok": "terminate: tasks unknown"}}],
                 {"task_id": "t1", "terminate": True, "signal": "SIGKILL"},
                 f"Sent SIGKILL to 1 task on {WORKER} and revoked it.", id="terminate"),
    pytest.param("pool_restart", [{WORKER: {"error": "ValueError('Pool restarts not enabled')"}}],
                 {}, f"{WORKER} refused: Pool restarts are off on this worker: start it with "
                     "worker_pool_restarts=True.", id="pool restarts off"),
    pytest.param("rate_limit", [{WORKER: {"error": "unknown task"}}], {"task_name": "x"},
                 f"{WORKER} refused: this worker has no such task registered.",
                 id="unknown task"),
    pytest.param("cancel_consumer", [], {"queue": "q"}, f"{WORKER} did not answer in time.",
                 id="silent"),
])
def test_replies_read_as_sentences(action, replies, arguments, sentence):
    result = flatten_replies(action, replies, [WORKER], arguments)
    assert result.sentence() == sentence
