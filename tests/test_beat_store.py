"""The beat read side over a real store (SQLite and PostgreSQL): rows, runs, the strip
chart's times and the /metrics families from task rows written as the collector writes
them, the app's schedule read from tests/beat_apps.py."""
import time

import pytest

from celery_scope.beat import view
from celery_scope.beat.metrics import beat_families
from celery_scope.config import Settings
from celery_scope.services import Services
from celery_scope.store.schema import tasks

from .beat_apps import INTERVAL_ENTRY, MINUTE_ENTRY


@pytest.fixture
def services(store_url, tmp_path):
    opened = Services.open(Settings(store=store_url, cache_dir=str(tmp_path / "cache"),
                                    app="tests.beat_apps:app", beat_tolerance=3.0))
    yield opened
    opened.close()


def write_runs(services, times, args="['tick']", periodic_task=None):
    rows = [dict(uuid=f"{args}-{moment}", name="beat_apps.count", state="SUCCESS",
                 timestamp=moment + 0.1, args=args, kwargs="{}", sent=moment,
                 received=moment + 0.01, started=moment + 0.02, runtime=0.01,
                 periodic_task=periodic_task) for moment in times]
    with services.store.engine.begin() as connection:
        connection.execute(tasks.insert(), rows)


def test_rows_runs_chart_and_metrics(services):
    now = time.time()
    stopped = now - 60  # ran every 2 s for ten minutes, then stopped a minute ago
    write_runs(services, [stopped - 600 + 2 * index for index in range(301)])
    write_runs(services, [now - 30], args="['other']")  # another task's args: not a run
    write_runs(services, [now - 20], args="['other']", periodic_task=INTERVAL_ENTRY)  # hook's
    rows = {row["name"]: row for row in view.beat_rows(services, now)}
    interval = rows[INTERVAL_ENTRY]
    assert (interval["runs_24h"], interval["status"]) == (302, "missed")
    assert interval["last_run_at"] == now - 20
    assert interval["next_due"] == pytest.approx(now - 18)
    assert rows[MINUTE_ENTRY]["status"] == "not run yet"
    assert view.source_problems(services, list(rows.values())) == []

    runs = view.entry_runs(services, INTERVAL_ENTRY, now - 3600, 5)
    assert [run["sent"] for run in runs] == [now - 20, stopped, stopped - 2, stopped - 4,
                                             stopped - 6]
    chart = view.expected_vs_actual(services, INTERVAL_ENTRY, stopped - 10, now)
    assert chart["actual"][:6] == [stopped - 10 + 2 * index for index in range(6)]
    assert chart["missed"] and min(chart["missed"]) == pytest.approx(stopped + 2)

    families = {family.name: family for family in beat_families(services, now)}
    last_run = {sample.labels["entry"]: sample.value
                for sample in families["celery_beat_last_run_timestamp_seconds"].samples}
    assert last_run == {INTERVAL_ENTRY: now - 20}
    missed = {sample.labels["entry"]: sample.value
              for sample in families["celery_beat_missed"].samples
              if sample.name == "celery_beat_missed_total"}
    # 60 s without beat: 2 s fire times from stopped+2 on, the hook's run taking one
    assert missed[INTERVAL_ENTRY] == pytest.approx(28, abs=1)
    assert missed[MINUTE_ENTRY] == 0


def test_an_unknown_entry(services):
    assert view.entry(services, "nope") is None
    assert view.entry_runs(services, "nope", 0, 10) == []
    assert view.expected_vs_actual(services, "nope", 0, 10) == {"expected": [], "actual": [],
                                                                "missed": []}
