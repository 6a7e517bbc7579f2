"""Reads while the history store is away: a real celery-scope over its own PostgreSQL server,
stopped and started again (every read route a JSON 503, /metrics 200 with store_up 0, page
callbacks no 500, the banner saying since when), and streams cut midway by a real backend
termination (a CSV's last line says so and the stream aborts; JSON never closes)."""
from __future__ import annotations

import csv
import io
import time
from itertools import chain

import orjson
import pytest
import requests
from sqlalchemy.exc import OperationalError

from celery_scope.api.history import _stream_tasks
from celery_scope.api.streaming import marked_incomplete, started
from celery_scope.store.history import HistoryStore
from celery_scope.store.merge import new_task_row
from celery_scope.store.outage import ReadHealth, with_reads
from celery_scope.tasks import queries as task_queries
from celery_scope.tasks.filters import parse_filter

from .helpers import PostgresServer, Scope, wait_for
from .store_outages import refused_store_error, terminate_sessions
from .test_metrics import samples, value

T0 = 1_700_000_000.0
UNREACHABLE = {"error": "store unreachable"}
READS = ["/api/tasks", "/api/tasks?limit=5", "/api/tasks.csv", "/api/series?metric=succeeded",
         "/api/series.csv?metric=succeeded", "/api/task/info/seeded-0", "/api/task/types",
         "/api/workers?status=1"]
DASHBOARD = {"refresh-interval.n_intervals": 1, "browser-tz.data": "UTC"}


@pytest.fixture(scope="module")
def own_postgres():
    """A PostgreSQL server of this module's own, whose sessions its tests end."""
    server = PostgresServer().start()
    yield server
    server.close()


@pytest.fixture
def database_url(own_postgres, request):
    """A fresh database on this module's server."""
    return own_postgres.create_database(f"o{abs(hash(request.node.nodeid)) % 10**12}")


def seed(url: str, count: int, args_chars: int = 10) -> None:
    """`count` finished tasks received in the last hours (within the retention window)."""
    store = HistoryStore(url)
    rows, start = [], time.time() - 3600 - count
    for number in range(count):
        row = new_task_row(f"seeded-{number}")
        row.update(name="cluster.add", state="SUCCESS", received=start + number,
                   succeeded=start + number + 1, timestamp=start + number + 1, runtime=0.5,
                   args="x" * args_chars)
        rows.append(row)
    try:
        store.write(rows)
    finally:
        store.close()


def database_of(url: str) -> str:
    return url.rsplit("/", 1)[1]


# -- one process's view: the collector's status and its own reads ---------------------------

def test_the_earlier_outage_wins_and_a_stopped_collectors_word_is_dropped():
    reads = ReadHealth(clock=lambda: T0 - 5)
    live = {"updated_at": T0, "store_error": "from the collector", "store_down_since": T0 - 60}
    assert with_reads(live, reads, T0)["store_error"] == "from the collector"
    reads.failed(refused_store_error())
    merged = with_reads(live, reads, T0)
    assert merged["store_down_since"] == T0 - 60
    merged = with_reads({**live, "store_down_since": T0 - 1}, reads, T0)
    assert merged["store_down_since"] == T0 - 5 and "OperationalError" in merged["store_error"]
    stopped = with_reads(live, ReadHealth(), T0 + 60)
    assert stopped["store_error"] is None and stopped["store_down_since"] is None
    assert with_reads(None, reads, T0)["store_down_since"] == T0 - 5


# -- streams cut midway --------------------------------------------------------------------------

def test_a_csv_export_cut_midway_ends_in_an_error_line_and_aborts(own_postgres, database_url):
    seed(database_url, 2000)
    store = HistoryStore(database_url)
    try:
        records = task_queries.export_records(store.engine, parse_filter({}, T0), batch=100)
        lines = marked_incomplete(chain(["header\r\n"], (text for _, text in records)))
        received = [next(lines), next(lines)]  # the header and the first hundred tasks
        assert terminate_sessions(own_postgres, database_of(database_url)) >= 1
        with pytest.raises(OperationalError):
            for line in lines:
                received.append(line)
    finally:
        store.close()
    assert received[-1] == "# export incomplete: store unreachable\r\n"
    rows = list(csv.reader(io.StringIO("".join(received[1:-1]), newline="")))
    assert 100 <= len(rows) < 2000


def test_a_json_stream_cut_midway_never_closes(own_postgres, database_url):
    seed(database_url, 2000)
    store = HistoryStore(database_url)
    try:
        query = task_queries.page_query(parse_filter({}, T0), 0, None, T0)
        chunks = started(_stream_tasks(store.engine, query))  # the first batch is read here
        received = [next(chunks)]
        terminate_sessions(own_postgres, database_of(database_url))
        with pytest.raises(OperationalError):
            for chunk in chunks:
                received.append(chunk)
    finally:
        store.close()
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(b"".join(received))


def test_a_store_unreachable_before_the_first_byte_is_raised_by_started():
    """The route meets the error itself (so the 503 handler answers), not the server."""
    def failing():
        raise refused_store_error()
        yield  # pragma: no cover — a generator that fails on its first step

    with pytest.raises(OperationalError):
        started(failing())


# -- a real celery-scope through an outage -------------------------------------------------------

def get(base: str, path: str) -> requests.Response:
    return requests.get(base + path, timeout=30)


def metrics(base: str) -> dict[tuple, float]:
    response = get(base, "/metrics")
    assert response.status_code == 200, response.text[:200]
    return samples(response.text)


def dashboard_callback(base: str, output_has: str) -> requests.Response:
    """A refresh tick of the shell's callback whose outputs include `output_has`, over HTTP
    as the browser sends it."""
    dependencies = get(base, "/_dash-dependencies").json()
    (callback,) = [entry for entry in dependencies if output_has in entry["output"]
                   and not entry.get("clientside_function")]
    outputs = [dict(zip(("id", "property"), part.rsplit(".", 1)))
               for part in callback["output"].strip(".").split("...")]

    def filled(entries):
        return [{**entry, "value": DASHBOARD.get(f"{entry['id']}.{entry['property']}")}
                for entry in entries]

    body = {"output": callback["output"], "outputs": outputs,
            "inputs": filled(callback["inputs"]), "state": filled(callback["state"]),
            "changedPropIds": ["refresh-interval.n_intervals"]}
    return requests.post(base + "/_dash-update-component", json=body, timeout=30)


def banner_text(base: str) -> str:
    response = dashboard_callback(base, "status-banner.children")
    assert response.status_code == 200, response.text[:200]
    return response.json()["response"]["status-banner"]["children"]


@pytest.mark.integration
def test_every_read_answers_503_while_the_store_is_down_and_200_once_it_is_back(
        redis_server, tmp_path):
    server = PostgresServer().start()  # stopped and started by this test alone
    instance = None
    try:
        url = server.create_database("scope")
        instance = Scope(tmp_path, redis_server.url, "--no-enable-events", store=url).start()
        seed(url, 3)
        for path in READS:
            assert get(instance.url, path).status_code == 200, path
        assert value(metrics(instance.url), "celery_scope_store_up") == 1

        server.stop()
        outage_began = time.time()
        for path in READS:
            response = get(instance.url, path)
            assert (response.status_code, response.headers["Content-Type"]) == (
                503, "application/json"), (path, response.text[:200])
            assert response.json() == UNREACHABLE, path
        found = metrics(instance.url)
        assert value(found, "celery_scope_store_up") == 0
        assert value(found, "celery_scope_store_down_since_seconds") >= outage_began - 1
        assert value(found, "celery_scope_collector_events_total") == 0  # the rest is served
        kept = dashboard_callback(instance.url, "dashboard-summary.children")
        assert (kept.status_code, kept.json()["response"]) == (200, {})  # the page stays as is
        assert "History store unreachable since" in banner_text(instance.url)

        server.start()
        for path in READS:
            wait_for(lambda path=path: get(instance.url, path),
                     lambda response: response.status_code == 200, 20, f"{path} answering")
        assert list(get(instance.url, "/api/tasks").json()) == [
            "seeded-2", "seeded-1", "seeded-0"]
        wait_for(lambda: metrics(instance.url),
                 lambda found: value(found, "celery_scope_store_up") == 1, 20, "store_up 1")
        assert dashboard_callback(instance.url, "dashboard-summary.children").status_code == 200
        banner = banner_text(instance.url)
        assert "unreachable" not in banner, (banner, instance.status())
    finally:
        if instance is not None:
            instance.stop()
        server.close()


@pytest.mark.integration
def test_an_export_the_store_cuts_midway_is_a_broken_transfer_ending_in_the_error_line(
        redis_server, own_postgres, database_url, tmp_path):
    """Larger than what the server buffers ahead of its client (16 MiB), so the store goes
    while the export is still being read from it."""
    seed(database_url, 25_000, args_chars=1000)
    instance = Scope(tmp_path, redis_server.url, "--no-enable-events", store=database_url).start()
    try:
        response = requests.get(instance.url + "/api/tasks.csv", stream=True, timeout=30)
        assert response.status_code == 200
        chunks = response.iter_content(None)
        received = [next(chunks)]
        assert terminate_sessions(own_postgres, database_of(database_url)) >= 1
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            for chunk in chunks:
                received.append(chunk)
    finally:
        instance.stop()
    body = b"".join(received)
    assert body.endswith(b"# export incomplete: store unreachable\r\n")
    assert body.count(b"\r\n") < 25_000
