"""The spreadsheet formula guard: the rule itself, both task export paths (SQLite formats
records in SQL, other databases through Python's csv module) and the /explore series CSV."""
import csv
import io

import pandas as pd
import pytest

from celery_scope.series.build import Series, build_series, series_csv
from celery_scope.series.spec import SeriesSpec
from celery_scope.store.history import HistoryStore
from celery_scope.store.merge import new_task_row
from celery_scope.tasks import queries as task_queries
from celery_scope.tasks.csv_guard import TRIGGERS, guard
from celery_scope.tasks.filters import parse_filter

NOW = 1_000_000.0
TEXT_FIELDS = ("uuid", "name", "state", "worker", "queue", "routing_key", "args", "kwargs",
               "result", "exception", "traceback", "eta", "expires", "parent_id", "root_id")


@pytest.mark.parametrize("trigger", TRIGGERS)
def test_text_starting_with_a_trigger_gets_a_quote(trigger):
    assert guard(f"{trigger}HYPERLINK(\"http://evil\")") == f"'{trigger}HYPERLINK(\"http://evil\")"


@pytest.mark.parametrize("value", ["(1, 'x')", "a=b", "'quoted'", "", " =spaced", "1-2"])
def test_harmless_text_is_untouched(value):
    assert guard(value) == value


@pytest.mark.parametrize("value", [-1.5, -3, 0, None])
def test_numbers_are_untouched(value):
    assert guard(value) == value


def task(number, first_char, **fields):
    """A task whose every text field starts with `first_char`, and numbers of both signs."""
    row = new_task_row(f"{first_char}id-{number}")
    row.update({field: f"{first_char}{field}-{number}" for field in TEXT_FIELDS[1:]})
    row.update(timestamp=NOW, received=NOW - 100 + number, started=NOW - 99.5 + number,
               retries=number, runtime=-0.25)
    row.update(fields)
    return row


HARMLESS = task(99, "h", args="(1, 'a=b')", kwargs="{'x': -1}", result="'found it'",
                runtime=1.5)
ROWS = [task(number, trigger) for number, trigger in enumerate(TRIGGERS)] + [HARMLESS]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    instance = HistoryStore(f"sqlite:///{tmp_path_factory.mktemp('guard') / 'h.db'}")
    instance.write(ROWS)
    yield instance
    instance.close()


def exported(records, store):
    """The records one export path writes, by uuid, read back with the export's header."""
    task_filter = parse_filter({"sort": "received"}, now=NOW)
    text = "".join(chunk for _, chunk in records(store.engine, task_filter, 3, now=NOW))
    reader = csv.DictReader(io.StringIO(text, newline=""),
                            fieldnames=task_queries.export_header())
    return text, {record["uuid"].lstrip("'"): record for record in reader}


PATHS = [pytest.param(task_queries.sqlite_records, id="sqlite-printf"),
         pytest.param(task_queries.csv_records, id="python-csv")]


@pytest.mark.parametrize("records", PATHS)
@pytest.mark.parametrize("number, trigger", list(enumerate(TRIGGERS)))
def test_every_text_field_is_guarded(store, records, number, trigger):
    row = ROWS[number]
    record = exported(records, store)[1][row["uuid"]]
    assert {field: record[field] for field in TEXT_FIELDS} == {
        field: "'" + row[field] for field in TEXT_FIELDS}
    assert record["runtime"] == "-0.25"  # a negative number stays a number
    assert record["retries"] == str(number)
    assert record["received_epoch"] == repr(row["received"])


@pytest.mark.parametrize("records", PATHS)
def test_harmless_values_are_written_as_they_are(store, records):
    record = exported(records, store)[1][HARMLESS["uuid"]]
    assert {field: record[field] for field in TEXT_FIELDS} == {
        field: HARMLESS[field] for field in TEXT_FIELDS}
    assert record["runtime"] == "1.5"


def test_both_paths_write_the_same_file(store):
    assert exported(task_queries.sqlite_records, store)[0] == \
        exported(task_queries.csv_records, store)[0]


def test_the_export_is_header_then_guarded_records(store):
    task_filter = parse_filter({"name": ROWS[0]["name"]}, now=NOW)
    batches = list(task_queries.export_batches(store.engine, task_filter, now=NOW))
    assert batches[0] == (0, task_queries.csv_line(task_queries.export_header()))
    assert batches[1][0] == 1 and batches[1][1].startswith(f"\"'{ROWS[0]['uuid']}\",")


def test_series_csv_guards_group_names_not_numbers():
    spec = SeriesSpec(range=None, since=NOW, until=NOW + 60, bucket=60, metric="wait",
                      group="name")
    frame = pd.DataFrame({"=cmd|' /C calc'!A0": [-0.5], "@SUM(1)": [2.0], "a.add": [3.0]},
                         index=[NOW])
    rows = list(csv.reader(io.StringIO(series_csv(Series(spec, NOW, NOW + 60, 60, frame)))))
    assert rows[0][3:] == ["'=cmd|' /C calc'!A0", "'@SUM(1)", "a.add"]
    assert rows[1][3:] == ["-0.5", "2", "3"]


def test_series_csv_of_a_grouped_chart_from_the_store(store):
    spec = SeriesSpec(range=None, since=NOW - 120, until=NOW, bucket=60, metric="received",
                      group="name", top=10)
    text = series_csv(build_series(store.engine, spec))
    header = next(csv.reader(io.StringIO(text, newline="")))
    assert sorted(header[3:]) == sorted(guard(row["name"]) for row in ROWS)


def test_a_carriage_return_in_a_name_cannot_start_a_row():
    spec = SeriesSpec(range=None, since=NOW, until=NOW + 60, bucket=60, metric="received",
                      group="name")
    frame = pd.DataFrame({"x\r=HYPERLINK(\"http://evil\")": [1.0]}, index=[NOW])
    text = series_csv(Series(spec, NOW, NOW + 60, 60, frame))
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert [len(row) for row in rows] == [4, 4]
    assert rows[0][3] == "x\r=HYPERLINK(\"http://evil\")"
    assert '"x\r=HYPERLINK(""http://evil"")"' in text  # quoted: no spreadsheet starts a row
