"""Celery apps with a beat_schedule, for the /beat tests: `celery -A beat_apps:app beat`,
the worker (`celery -A beat_apps:app worker`) and celery-scope (`--app beat_apps:app`) all
import this module. Each run counts itself in Redis (the broker), so a test knows how many
times the worker really ran each entry."""
import os

import redis
from celery import Celery
from celery.schedules import crontab

BROKER = os.environ.get("SCOPE_TEST_BROKER", "memory://")
INTERVAL_ENTRY = "tick/every 2 s"  # a slash and spaces: entry names are any text
MINUTE_ENTRY = "minutely report"


def _app(name: str) -> Celery:
    made = Celery(name, broker=BROKER, set_as_current=False)
    made.conf.broker_connection_retry_on_startup = True
    made.conf.beat_max_loop_interval = 1  # beat looks at its schedule every second
    return made


app = _app("beat_apps")
app.conf.task_send_sent_event = True  # beat's sends carry their send time
app.conf.beat_schedule = {
    INTERVAL_ENTRY: {"task": "beat_apps.count", "schedule": 2.0, "args": ("tick",)},
    MINUTE_ENTRY: {"task": "beat_apps.count", "schedule": crontab(),
                   "kwargs": {"label": "minute"}},
}

# Only the 2-second entry, without sent events (runs are matched by their received time).
interval_app = _app("beat_interval")
interval_app.conf.beat_schedule = {
    INTERVAL_ENTRY: {"task": "beat_apps.count", "schedule": 2.0, "args": ("tick",)}}

# The same kind of entry, scheduled by RedBeat in the broker's Redis.
redbeat_app = _app("beat_redbeat")
redbeat_app.conf.redbeat_redis_url = BROKER
redbeat_app.conf.beat_schedule = {
    "redbeat tick": {"task": "beat_apps.count", "schedule": 2.0, "args": ("redbeat",),
                     "options": {"queue": "celery"}}}


def counter_key(label: str) -> str:
    return f"beat_apps:runs:{label}"


@app.task(name="beat_apps.count")
def count(label: str = "") -> int:
    client = redis.Redis.from_url(BROKER)
    try:
        return client.incr(counter_key(label))
    finally:
        client.close()
