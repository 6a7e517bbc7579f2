"""What the API fuzz (test_fuzz_api.py) found, each pinned by an example, in this process:
the routes judge these requests before anything would reach a broker."""
from __future__ import annotations

import pytest

from .api_routes import built_app


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    with built_app(tmp_path_factory.mktemp("fuzz-regressions")) as server:
        yield server.test_client()


@pytest.mark.parametrize("method, path, message", [
    pytest.param("get", "/api/task/info/a%0Ab", "Unknown task 'a\nb'", id="task-id"),
    pytest.param("post", "/api/worker/pool/grow/a%0D%0Ab", "unknown worker 'a\\r\\nb'",
                 id="worker-name"),
    pytest.param("post", "/api/task/apply/a%0Ab", "Unknown task 'a\nb'", id="task-name"),
])
def test_a_line_break_in_a_path_reaches_the_route(client, method, path, message):
    """Werkzeug's `path` converter stops at a line break: the router answered an HTML 404
    (and a 404 even where the route would answer otherwise, such as a PENDING result)."""
    response = getattr(client, method)(path)
    assert response.status_code == 404 and response.is_json, response.text
    assert message in response.get_json()["error"]


@pytest.mark.parametrize("options", [
    pytest.param({"priority": False}, id="priority-false"),
    pytest.param({"priority": True}, id="priority-true"),
    pytest.param({"countdown": True}, id="countdown-true"),
    pytest.param({"countdown": "inf"}, id="countdown-infinite"),
    pytest.param({"countdown": "nan"}, id="countdown-nan"),
])
def test_booleans_and_non_finite_numbers_are_not_task_options(client, options):
    """JSON's false passed as priority 0 (Python's bool is an int), true as a 1 s countdown."""
    response = client.post("/api/task/send-task/any.task", json=options)
    assert response.status_code == 400, response.text
    assert response.get_json()["error"].startswith(f"Invalid option {next(iter(options))}=")


@pytest.mark.parametrize("path", [
    pytest.param("/api/tasks.csv?until=NaN", id="csv-nan"),
    pytest.param("/api/tasks.csv?since=inf", id="csv-infinite"),
    pytest.param("/api/tasks.csv?since=-1e308", id="csv-before-year-1"),
    pytest.param("/api/tasks.csv?until=9999-12-31T23:59:59-12:00", id="csv-year-10000"),
    pytest.param("/api/tasks.csv?range=99999999999999d", id="csv-endless-range"),
    pytest.param("/api/series?since=NaN", id="series-nan"),
    pytest.param("/api/series?since=1e308&until=inf", id="series-huge"),
    pytest.param("/api/tasks?received_start=NaN", id="tasks-nan"),
])
def test_times_no_calendar_holds_are_refused(client, path):
    """NaN, infinities and years beyond 1-9999 passed the parser and broke later: the CSV's
    file name (datetime) or the series' SQL (integer overflow) answered 500."""
    response = client.get(path)
    assert response.status_code == 400 and response.is_json, response.text
