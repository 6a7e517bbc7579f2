"""/api/beat against real processes: redis-server, `celery beat` (the default scheduler and
RedBeat), a `celery worker -E`, and celery-scope reading the schedule; django-celery-beat's
database made by its own migrations."""
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
from datetime import datetime, timezone

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from .beat_apps import INTERVAL_ENTRY, MINUTE_ENTRY, counter_key
from .helpers import TESTS_DIR, stop_process, wait_for

pytestmark = pytest.mark.integration
TOLERANCE = "3"


def environment(broker: str) -> dict[str, str]:
    return {**os.environ, "SCOPE_TEST_BROKER": broker,
            "PYTHONPATH": str(TESTS_DIR) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def start_celery(broker: str, log_dir, name: str, *arguments: str) -> subprocess.Popen:
    with open(log_dir / f"{name}.log", "ab") as log:
        return subprocess.Popen([sys.executable, "-m", "celery", *arguments],
                                env=environment(broker), cwd=log_dir, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)


def start_beat(broker: str, tmp_path, app: str, *options: str) -> subprocess.Popen:
    return start_celery(broker, tmp_path, "beat", "-A", app, "beat", "-l", "INFO",
                        "-s", str(tmp_path / "beat-schedule"), *options)


def start_worker(broker: str, tmp_path) -> subprocess.Popen:
    return start_celery(broker, tmp_path, "worker", "-A", "beat_apps:app", "worker", "-E",
                        "-n", "beat-worker@h", "-c", "2", "--without-gossip",
                        "--without-mingle", "-l", "INFO")


@pytest.fixture
def processes():
    started: list[subprocess.Popen] = []
    yield started
    for process in started:
        stop_process(process)


def beat_api(instance) -> dict:
    return json.loads(instance.get("/api/beat"))


def rows(instance) -> dict[str, dict]:
    return {row["name"]: row for row in beat_api(instance)["entries"]}


def start_scope(scope, redis_server, *extra: str):
    return scope(redis_server.url, "--beat-tolerance", TOLERANCE, "--beat-refresh", "1", *extra,
                 env={"SCOPE_TEST_BROKER": redis_server.url,
                      "PYTHONPATH": str(TESTS_DIR)})


def runs_of(instance, name: str, **params) -> list[dict]:
    query = urllib.parse.urlencode(params)
    path = f"/api/beat/{urllib.parse.quote(name, safe='')}/runs?{query}"
    return json.loads(instance.get(path))["runs"]


def test_app_schedule_entries_match_the_workers_runs(redis_server, scope, processes, tmp_path):
    instance = start_scope(scope, redis_server, "--app", "beat_apps:app")
    listed = rows(instance)
    assert set(listed) == {INTERVAL_ENTRY, MINUTE_ENTRY}
    assert listed[INTERVAL_ENTRY]["schedule_text"] == "every 2 seconds"
    assert listed[MINUTE_ENTRY]["schedule_text"] == "every minute (UTC)"
    assert listed[INTERVAL_ENTRY]["status"] == "not run yet"
    processes.append(start_worker(redis_server.url, tmp_path))
    processes.append(start_beat(redis_server.url, tmp_path, "beat_apps:app"))
    counter = redis.Redis.from_url(redis_server.url)

    # the crontab fires at the next minute: wait for its run to be matched
    minute = wait_for(lambda: rows(instance)[MINUTE_ENTRY],
                      lambda row: row["runs_24h"] >= 1 and row["last_run_state"] == "SUCCESS",
                      95, "the once-a-minute entry's first run")
    last = datetime.fromtimestamp(minute["last_run_at"], timezone.utc)
    next_minute = last.replace(second=0, microsecond=0).timestamp() + 60
    assert minute["next_due"] == next_minute
    assert minute["status"] == "on time"
    assert minute["args"] == "()" and minute["kwargs"] == "{'label': 'minute'}"
    assert int(counter.get(counter_key("minute"))) == minute["runs_24h"]

    # the 2 s entry: the count at the worker is the count celery-scope matched
    def settled():
        row = rows(instance)[INTERVAL_ENTRY]
        ran = int(counter.get(counter_key("tick")) or 0)
        return row if row["runs_24h"] == ran and row["last_run_state"] == "SUCCESS" else None
    interval = wait_for(settled, lambda row: row is not None and row["runs_24h"] >= 5, 30,
                        "the 2 s entry's runs, counted at the worker and matched")
    assert interval["args"] == "['tick']"
    assert interval["status"] == "on time"
    assert interval["next_due"] == pytest.approx(interval["last_run_at"] + 2, abs=0.01)
    runs = runs_of(instance, INTERVAL_ENTRY, limit=3)
    assert len(runs) == 3 and runs[0]["uuid"] == interval["last_run_uuid"]
    assert runs[0]["received"] >= runs[1]["received"] >= runs[2]["received"]
    assert all(run["name"] == "beat_apps.count" and run["args"] == "['tick']" for run in runs)
    scraped = instance.get("/metrics")
    last_runs = {sample.labels["entry"]: sample.value
                 for family in text_string_to_metric_families(scraped) for sample in family.samples
                 if sample.name == "celery_beat_last_run_timestamp_seconds"}
    assert last_runs[MINUTE_ENTRY] == pytest.approx(minute["last_run_at"], abs=0.01)
    assert last_runs[INTERVAL_ENTRY] >= interval["last_run_at"] - 0.01
    counter.close()


def test_beat_stopped_turns_missed_and_started_again_on_time(redis_server, scope, processes,
                                                            tmp_path):
    instance = start_scope(scope, redis_server, "--app", "beat_apps:interval_app")
    processes.append(start_worker(redis_server.url, tmp_path))
    beat = start_beat(redis_server.url, tmp_path, "beat_apps:interval_app")
    processes.append(beat)
    wait_for(lambda: rows(instance)[INTERVAL_ENTRY],
             lambda row: row["runs_24h"] >= 3 and row["status"] == "on time", 40,
             "the 2 s entry running on time")
    stop_process(beat)
    stopped = time.monotonic()
    missed = wait_for(lambda: beat_api(instance), lambda body: body["entries"][0]["status"]
                      == "missed", 30, "the entry missed once beat stopped")
    assert time.monotonic() - stopped < 2 + float(TOLERANCE) + 8  # interval + tolerance + a read
    assert "beat itself looks down" in " ".join(missed["source_problems"])
    processes.append(start_beat(redis_server.url, tmp_path, "beat_apps:interval_app"))
    back = wait_for(lambda: beat_api(instance), lambda body: body["entries"][0]["status"]
                    == "on time", 40, "the entry on time again")
    assert not back["source_problems"]


def test_unknown_entry_and_bad_parameters(redis_server, scope):
    instance = start_scope(scope, redis_server, "--app", "beat_apps:app")
    for path, status in ((f"/api/beat/{urllib.parse.quote('no such/entry')}/runs", 404),
                         (f"/api/beat/{urllib.parse.quote(INTERVAL_ENTRY)}/runs?limit=0", 400),
                         (f"/api/beat/{urllib.parse.quote(INTERVAL_ENTRY)}/runs?since=soon",
                          400)):
        with pytest.raises(urllib.error.HTTPError) as refused:
            instance.get(path)
        assert refused.value.code == status
        assert "error" in json.loads(refused.value.read())


def test_redbeat_entries_listed(redis_server, scope, processes, tmp_path):
    processes.append(start_worker(redis_server.url, tmp_path))
    processes.append(start_beat(redis_server.url, tmp_path, "beat_apps:redbeat_app",
                                "-S", "redbeat.RedBeatScheduler"))
    instance = start_scope(scope, redis_server, "--redbeat-redis-url", redis_server.url)
    row = wait_for(lambda: rows(instance).get("redbeat tick"),
                   lambda row: row is not None and row["runs_24h"] >= 2
                   and row["total_run_count"], 40, "RedBeat's entry and its runs")
    assert row["source"] == "redbeat" and row["schedule_text"] == "every 2 seconds"
    assert row["queue"] == "celery" and row["enabled"] is True
    assert row["args"] == "['redbeat']"


DJANGO_SETUP = """
import sys
import django
from django.conf import settings
settings.configure(INSTALLED_APPS=["django_celery_beat"], USE_TZ=True, TIME_ZONE="UTC",
                   DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3",
                                          "NAME": sys.argv[1]}})
django.setup()
from django.core.management import call_command
call_command("migrate", "django_celery_beat", verbosity=0)
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask
every = IntervalSchedule.objects.create(every=30, period=IntervalSchedule.SECONDS)
PeriodicTask.objects.create(name="django/interval", task="beat_apps.count", interval=every,
                            args='["django"]', queue="celery")
nightly = CrontabSchedule.objects.create(minute="0", hour="2", day_of_week="1",
                                         timezone="Europe/Paris")
PeriodicTask.objects.create(name="nightly", task="beat_apps.count", crontab=nightly,
                            kwargs='{"label": "nightly"}', enabled=False)
"""


def test_django_celery_beat_entries_listed(redis_server, scope, tmp_path):
    database = tmp_path / "django.sqlite3"
    subprocess.run([sys.executable, "-c", DJANGO_SETUP, str(database)], check=True,
                   timeout=120, cwd=tmp_path)
    instance = start_scope(scope, redis_server, "--beat-db", f"sqlite:///{database}")
    listed = rows(instance)
    interval, nightly = listed["django/interval"], listed["nightly"]
    assert (interval["source"], interval["schedule_text"], interval["args"],
            interval["queue"], interval["enabled"]) == (
        "django", "every 30 seconds", "['django']", "celery", True)
    assert interval["status"] == "not run yet"
    assert (nightly["schedule_text"], nightly["status"], nightly["kwargs"]) == (
        "at 02:00 on Mondays (Europe/Paris)", "disabled", "{'label': 'nightly'}")
    assert runs_of(instance, "django/interval") == []
