"""Tricky task data from a real worker, read back exactly from the store, the CSV export
(through Python's csv reader and pandas) and the grid's data callback."""
import csv
import io
import json
import urllib.error
import urllib.request

import pandas as pd
import pytest
from celery.utils.saferepr import saferepr

from celery_scope.store.history import HistoryStore
from celery_scope.tasks import queries as task_queries
from celery_scope.tasks.filters import parse_filter

from .helpers import wait_until

pytestmark = pytest.mark.integration

TRICKY = [
    "ünïcödé ✓ 漢字",
    'quote " and \' , comma',
    "line1\nline2\r\nline3",
    "x" * 100_000,
    None,
    "=1+2",
    "<script>alert(1)</script>",
]


def fetch(url):
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.headers, response.read().decode("utf-8")


def test_tricky_values_round_trip(redis_server, workers, scope, cluster_app, store_url):
    workers("tricky@test")
    dashboard = scope(redis_server.url, store=store_url)
    store = HistoryStore(dashboard.store)
    ids = [cluster_app.send_task("cluster.echo", args=(value,)).id for value in TRICKY]
    wait_until(lambda: all((store.task(i) or {}).get("state") == "SUCCESS" for i in ids), 60,
               "every echo task to succeed")
    rows = store.load_tasks(ids)
    for task_id, value in zip(ids, TRICKY):
        assert rows[task_id]["args"] == saferepr((value,), 1024)  # what celery sends, exactly
        assert rows[task_id]["result"] == saferepr(value, 1024)

    headers, text = fetch(dashboard.url + "/api/tasks.csv?name=cluster.echo&sort=received")
    assert headers["Content-Type"].startswith("text/csv")
    assert 'filename="tasks_start_now.csv"' in headers["Content-Disposition"]
    records = list(csv.DictReader(io.StringIO(text, newline="")))
    assert [record["uuid"] for record in records] == ids
    for record in records:
        stored = rows[record["uuid"]]
        for field in ("name", "state", "args", "kwargs", "result", "worker"):
            assert record[field] == (stored[field] or ""), field
        assert float(record["received_epoch"]) == pytest.approx(stored["received"], abs=1e-4)
        assert pd.Timestamp(record["received"]).timestamp() == pytest.approx(
            stored["received"], abs=1e-3)
        assert record["received"].endswith("Z")

    frame = pd.read_csv(io.StringIO(text), keep_default_na=False)
    assert list(frame["uuid"]) == ids
    assert list(frame["result"]) == [rows[i]["result"] for i in ids]

    page = task_queries.page(store.engine, parse_filter({"name": "cluster.echo"}), 0, 100)
    assert [row["args"] for row in page] == [rows[i]["args"] for i in reversed(ids)]
    store.close()


BAD_QUERIES = [
    ("state=bad%20state", "is not a task state"),
    ("since=yesterday-ish", "neither epoch seconds nor an ISO-8601"),
    ("sort=args", "is not one of"),
    ("runtime_min=-3", "must not be negative"),
    ("bogus=1", "unknown filter parameter"),
]


def test_bad_export_parameters_are_400_with_json(redis_server, scope):
    dashboard = scope(redis_server.url, "--no-enable-events")
    for query, message in BAD_QUERIES:
        with pytest.raises(urllib.error.HTTPError) as raised:
            fetch(dashboard.url + "/api/tasks.csv?" + query)
        assert raised.value.code == 400, query
        assert raised.value.headers["Content-Type"] == "application/json"
        assert message in json.loads(raised.value.read())["error"]
