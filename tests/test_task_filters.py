"""Filter parameters → TaskFilter → SQL, checked against real SQLite and PostgreSQL stores."""
from urllib.parse import parse_qs

import pytest
from sqlalchemy import select

from celery_scope.query_string import FilterError
from celery_scope.store.history import HistoryStore
from celery_scope.store.merge import new_task_row
from celery_scope.store.schema import tasks
from celery_scope.tasks import queries as task_queries
from celery_scope.tasks.filters import TaskFilter, parse_filter

NOW = 1_000_000.0


def row(uuid, **fields):
    base = new_task_row(uuid)
    base.update(state="SUCCESS", timestamp=NOW, name="a.add", worker="w1@h", queue="celery",
                received=NOW - 60, started=NOW - 59, runtime=1.0, args="(1,)", kwargs="{}")
    base.update(fields)
    return base


ROWS = [
    row("t1"),
    row("t2", state="FAILURE", name="a.fail", exception="ValueError('boom 50%')",
        received=NOW - 7200),
    row("t3", worker="w2@h", queue="reports", runtime=12.5, received=NOW - 30),
    row("t4", name="a.mail", args="('ünï \"quoted\"', 'x_y')", received=NOW - 86400 * 3,
        started=None, runtime=None, state="RECEIVED"),
    row("t5", routing_key="priority", queue=None, received=NOW - 10, result="'found it'"),
]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def store(request, tmp_path_factory):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('filters') / 'h.db'}"
    else:
        url = request.getfixturevalue("postgres").create_database("filters")
    instance = HistoryStore(url)
    instance.write(ROWS)
    yield instance
    instance.close()


def uuids(store, params):
    task_filter = parse_filter(params, now=NOW)
    found = [r["uuid"] for r in task_queries.page(store.engine, task_filter, 0, 100, now=NOW)]
    assert task_queries.count(store.engine, task_filter, now=NOW) == len(found)
    return found


@pytest.mark.parametrize("params, expected", [
    pytest.param({}, ["t5", "t3", "t1", "t2", "t4"], id="none-newest-first"),
    pytest.param({"state": "FAILURE"}, ["t2"], id="state"),
    pytest.param({"state": ["success", "RECEIVED"]}, ["t5", "t3", "t1", "t4"], id="states"),
    pytest.param({"name": "a.fail,a.mail"}, ["t2", "t4"], id="names"),
    pytest.param({"worker": "w2@h"}, ["t3"], id="worker"),
    pytest.param({"queue": "reports"}, ["t3"], id="queue"),
    pytest.param({"queue": "priority"}, ["t5"], id="queue-by-routing-key"),
    pytest.param({"range": "1h"}, ["t5", "t3", "t1"], id="quick-range"),
    pytest.param({"since": str(NOW - 7300), "until": str(NOW - 50)}, ["t1", "t2"], id="window"),
    pytest.param({"since": "24h"}, ["t5", "t3", "t1", "t2"], id="since-duration"),
    pytest.param({"time_field": "started", "since": str(NOW - 70)}, ["t5", "t3", "t1", "t2"],
                 id="time-field"),
    pytest.param({"runtime_min": "2"}, ["t3"], id="runtime-min"),
    pytest.param({"runtime_max": "2"}, ["t5", "t1", "t2"], id="runtime-max"),
    pytest.param({"search": "50%"}, ["t2"], id="search-exception-literal-percent"),
    pytest.param({"search": "x_y"}, ["t4"], id="search-args-literal-underscore"),
    pytest.param({"search": "found it"}, ["t5"], id="search-result"),
    pytest.param({"search": "ünï \"quoted\""}, ["t4"], id="search-unicode-quotes"),
    pytest.param({"search": "a.ma"}, ["t4"], id="search-task-name-as-flower"),
    pytest.param({"search": "w2@"}, ["t3"], id="search-worker"),
    pytest.param({"search": "t2"}, ["t2"], id="search-task-id"),
    # Equal runtimes in received order; an unknown runtime (NULL) where each database keeps
    # it in its indexes: SQLite below every value, PostgreSQL above.
    pytest.param({"sort": "runtime"}, {"sqlite": ["t4", "t2", "t1", "t5", "t3"],
                                       "postgresql": ["t2", "t1", "t5", "t3", "t4"]},
                 id="sort-ties-by-received"),
    pytest.param({"sort": "-runtime"}, {"sqlite": ["t3", "t5", "t1", "t2", "t4"],
                                        "postgresql": ["t4", "t3", "t5", "t1", "t2"]},
                 id="sort-desc"),
    pytest.param({"state": "SUCCESS", "worker": "w1@h", "range": "1h", "runtime_max": "5",
                  "search": "1,", "sort": "received"}, ["t1", "t5"], id="combined"),
])
def test_filters_select_the_right_tasks(store, params, expected):
    if isinstance(expected, dict):
        expected = expected[store.engine.dialect.name]
    assert uuids(store, params) == expected


@pytest.mark.parametrize("params, message", [
    pytest.param({"state": "no good"}, "is not a task state", id="state"),
    pytest.param({"range": "yesterday"}, "not a duration", id="range"),
    pytest.param({"since": "last tuesday"}, "neither epoch seconds nor an ISO-8601", id="since"),
    pytest.param({"since": "200", "until": "100"}, "must not be after until", id="window"),
    pytest.param({"runtime_min": "fast"}, "not a number of seconds", id="runtime"),
    pytest.param({"runtime_min": "-1"}, "must not be negative", id="negative"),
    pytest.param({"runtime_min": "5", "runtime_max": "1"}, "must not exceed", id="runtime-order"),
    pytest.param({"sort": "args"}, "is not one of", id="sort"),
    pytest.param({"time_field": "eta"}, "time_field", id="time-field"),
    pytest.param({"search": "x" * 201}, "at most 200", id="search-length"),
    pytest.param({"colour": "red"}, "unknown filter parameter 'colour'", id="unknown"),
])
def test_nonsense_is_a_clear_error(params, message):
    with pytest.raises(FilterError, match=message):
        parse_filter(params, now=NOW)


def test_unknown_parameters_are_tolerated_when_not_strict():
    assert parse_filter({"utm_source": "mail"}, strict=False) == TaskFilter()


def test_iso_times_and_round_trip_through_the_query_string():
    task_filter = parse_filter({"since": "2026-01-01T00:00:00Z", "state": "FAILURE",
                                "name": "a.b", "search": "a b&c", "sort": "runtime"})
    assert task_filter.since == 1767225600.0
    assert parse_filter(parse_qs(task_filter.to_query_string())) == task_filter


def test_distinct_values_for_pickers(store):
    assert task_queries.distinct_values(store.engine, "name") == ["a.add", "a.fail", "a.mail"]


def test_command_line_export_writes_the_filtered_rows(store, tmp_path):
    import csv

    from click.testing import CliRunner

    from celery_scope.cli import main
    output = tmp_path / "failed.csv"
    url = str(store.engine.url)
    result = CliRunner().invoke(main, ["export", "--store", url, "--state", "FAILURE",
                                       "--since", str(NOW - 86400 * 10), "-o", str(output)])
    assert result.exit_code == 0, result.output
    assert "Wrote 1 tasks" in result.output
    with open(output, newline="", encoding="utf-8") as handle:
        (record,) = list(csv.DictReader(handle))
    assert record["uuid"] == "t2" and record["exception"] == "ValueError('boom 50%')"
    bad = CliRunner().invoke(main, ["export", "--store", url, "--sort", "args", "-o", "-"])
    assert bad.exit_code == 2 and "sort" in bad.output


@pytest.fixture(scope="module")
def crowded(store):
    """Beside the module's rows: 240 more, with many equal names, runtimes and received
    times, so that the order rests on every tiebreak."""
    rows = [row(f"p{number:03d}", name=f"p.{number % 3}", runtime=float(number % 4),
                received=NOW - 100 - number // 7,
                state=("SUCCESS", "FAILURE", "RETRY")[number % 3],
                queue=("celery", "bulk", None)[number % 5 % 3],
                routing_key=("celery", "celery", "bulk")[number % 3]) for number in range(240)]
    store.write(rows)
    yield store
    with store.engine.begin() as connection:
        connection.execute(tasks.delete().where(tasks.c.uuid.like("p%")))


@pytest.mark.parametrize("params", [
    {"name": "p.0,p.1,p.2"}, {"name": "p.1,p.2", "sort": "-received"}, {"sort": "name"},
    {"sort": "-name"}, {"sort": "runtime"}, {"sort": "-worker"}, {"state": "SUCCESS,RETRY"},
    {"sort": "received"}, {"sort": "uuid"}, {"sort": "-started"}, {"queue": "bulk"},
    {"queue": "celery", "sort": "received"}, {"queue": "bulk", "state": "FAILURE"},
], ids=lambda params: "&".join(f"{key}={value}" for key, value in params.items()))
def test_pages_join_into_the_whole_order(crowded, params):
    """Pages of any size, deep ones (skipped on the sort keys) and split ones (a list of
    names or states asked one query each, merged), add up to the one sorted query."""
    task_filter = parse_filter(params, now=NOW)
    with crowded.engine.connect() as connection:
        whole = [uuid for (uuid,) in connection.execute(task_queries.ordered(
            select(tasks.c.uuid).where(task_queries.where_clause(task_filter, NOW)),
            task_filter))]
    assert len(whole) >= 30
    for size in (1, 7, 50):
        paged = []
        for offset in range(0, len(whole) + size, size):
            paged += [found["uuid"] for found in
                      task_queries.page(crowded.engine, task_filter, offset, size, now=NOW)]
        assert paged == whole, size
    assert task_queries.count(crowded.engine, task_filter, now=NOW) == len(whole)
