"""Tasks run by the real `celery worker -E` processes the integration tests start."""
import os
import time

from celery import Celery

app = Celery("cluster", broker=os.environ.get("SCOPE_TEST_BROKER", "memory://"))
app.conf.task_send_sent_event = True
app.conf.result_backend = os.environ.get("SCOPE_TEST_BROKER", "cache+memory://")
app.conf.worker_pool_restarts = True
app.conf.broker_connection_retry_on_startup = True
app.conf.result_extended = os.environ.get("SCOPE_TEST_RESULT_EXTENDED") == "1"


@app.task(name="cluster.add")
def add(x, y):
    return x + y


@app.task(name="cluster.echo")
def echo(value):
    return value


@app.task(name="cluster.fail")
def fail(reason):
    raise ValueError(f"failed on purpose: {reason}")


@app.task(name="cluster.retry_once", bind=True, max_retries=2)
def retry_once(self, value):
    if self.request.retries == 0:
        raise self.retry(exc=RuntimeError("first attempt fails"), countdown=0.2)
    return value


@app.task(name="cluster.sleep")
def sleep(seconds):
    time.sleep(seconds)
    return seconds


@app.task(name="cluster.<b>bold</b><img src=x onerror=alert('name')>")
def markup_named(value):
    """A task whose name holds markup: every page must show the name as text."""
    return value


CALLS_KEY = "scope-test:calls"  # a Redis list: one repr((task id, args, kwargs)) per run


@app.task(name="cluster.record_fail", bind=True)
def record_fail(self, *args, **kwargs):
    """Records the exact arguments it ran with, then fails: retries are counted here."""
    import redis
    redis.Redis.from_url(os.environ["SCOPE_TEST_BROKER"]).rpush(
        CALLS_KEY, repr((self.request.id, args, kwargs)))
    raise ValueError("recorded failure")


@app.task(name="cluster.triage", bind=True, max_retries=1)
def triage(self, kind, ident, recover=False):
    """Fails in one of three ways (tests/test_triage.py); `recover`: once, then succeeds."""
    if kind == "order":
        error = ValueError(f"order {ident} not found")
        if recover and self.request.retries == 0:
            raise self.retry(exc=error, countdown=0.1)
        if recover:
            return ident
        raise error
    if kind == "payment":
        raise ValueError("payment gateway refused the charge")
    raise KeyError("customer")
