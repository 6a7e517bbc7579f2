"""The gate against real celery-scope processes over HTTP: what an anonymous callback may
draw, a session that ends on the server, the grid's bounds, malformed requests answered
400 without a traceback, and a task page whose times are no date.

One redis-server and two dashboards serve the module: one with users, one open (no users,
loopback) that fetches at most GRID_ROWS grid rows at a time."""
import http.client
import json
import math
import re
import time
from types import SimpleNamespace

import pytest
import requests
from playwright.sync_api import expect

from celery_scope.auth.credentials import hash_password
from celery_scope.store.history import HistoryStore
from celery_scope.store.schema import tasks

from .helpers import RedisServer, Scope

pytestmark = pytest.mark.integration

PASSWORD = "ann-password"
GRID_ROWS = 5
SECRET = {"name": "gate.payroll_export", "worker": "vault-7@finance", "queue": "ledger-close"}
COOKIE = "celery_scope_session"
ROUTER = ".._pages_content.children..._pages_store.data.."
ROUTER_OUTPUTS = [{"id": "_pages_content", "property": "children"},
                  {"id": "_pages_store", "property": "data"}]


def task_row(uuid: str, **fields) -> dict:
    now = time.time()
    return {"uuid": uuid, "name": None, "state": "SUCCESS", "timestamp": now, "received": now,
            "started": now, "succeeded": now, "runtime": 0.01, "worker": None, "queue": None,
            **fields}


def seed(scope: Scope, rows: list[dict]) -> None:
    store = HistoryStore(scope.store)
    try:
        with store.engine.begin() as connection:
            connection.execute(tasks.insert(), rows)
    finally:
        store.close()


@pytest.fixture(scope="module")
def dashboards(tmp_path_factory):
    directory = tmp_path_factory.mktemp("gate")
    users = directory / "users"
    users.write_text(f"ann:viewer:{hash_password(PASSWORD)}\n")
    redis_server = RedisServer(directory).start()
    started = []
    try:
        for name, extra in (("guarded", ("--users-file", str(users))),
                            ("open", ("--max-grid-rows", str(GRID_ROWS)))):
            (directory / name).mkdir()
            started.append(Scope(directory / name, redis_server.url, *extra).start())
        guarded, open_ = started
        seed(guarded, [task_row("secret-1", **SECRET)])
        seed(open_, [task_row(f"plain-{number:02d}", name="gate.plain") for number in range(12)]
             + [task_row("far-future", name="gate.far", timestamp=1e20, received=1e20,
                         started=math.inf, succeeded=-math.inf, runtime=math.inf)])
        yield SimpleNamespace(guarded=guarded, open=open_)
    finally:
        for scope in started:
            scope.stop()
        redis_server.stop()


def post_callback(scope: Scope, body, session: requests.Session | None = None,
                  **kwargs) -> requests.Response:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return (session or requests).post(f"{scope.url}/_dash-update-component", data=data,
                                      headers={"Content-Type": "application/json",
                                               "Origin": scope.url}, timeout=15, **kwargs)


def router_body(*inputs) -> dict:
    return {"output": ROUTER, "outputs": ROUTER_OUTPUTS, "inputs": list(inputs),
            "changedPropIds": ["_pages_location.pathname"]}


def draw(path: str) -> dict:
    return router_body({"id": "_pages_location", "property": "pathname", "value": path},
                       {"id": "_pages_location", "property": "search", "value": ""})


def sign_in(scope: Scope) -> requests.Session:
    session = requests.Session()
    answer = session.post(f"{scope.url}/auth/login", allow_redirects=False, timeout=15,
                          data={"username": "ann", "password": PASSWORD, "next": "/"},
                          headers={"Origin": scope.url})
    assert answer.status_code == 302 and answer.headers["Location"] == "/", answer.headers
    return session


def sign_out(scope: Scope, session: requests.Session) -> None:
    answer = session.post(f"{scope.url}/auth/logout", allow_redirects=False, timeout=15,
                          headers={"Origin": scope.url})
    assert answer.status_code == 302


def assert_nothing_secret(answer: requests.Response) -> None:
    for value in SECRET.values():
        assert value not in answer.text


@pytest.mark.parametrize("inputs", [
    pytest.param([{"id": "_pages_location", "property": "href", "value": "/tasks"},
                  {"id": "_pages_location", "property": "pathname", "value": "/login"}],
                 id="pathname-second"),
    pytest.param([{"property": "href", "value": "/tasks"},
                  {"property": "pathname", "value": "/login"}], id="as-reported"),
    pytest.param([{"id": "_pages_location", "property": "pathname", "value": "/tasks"},
                  {"id": "_pages_location", "property": "search", "value": ""}],
                 id="the-tasks-page"),
])
def test_before_signing_in_no_callback_draws_a_page(dashboards, inputs):
    answer = post_callback(dashboards.guarded, router_body(*inputs))
    assert answer.status_code == 401
    assert answer.json() == {"error": "sign in first"}
    assert_nothing_secret(answer)


def test_the_login_page_is_drawn_before_signing_in_and_every_page_after(dashboards):
    guarded = dashboards.guarded
    for path in ("/login", "/login/"):
        answer = post_callback(guarded, draw(path))
        assert answer.status_code == 200 and "Sign in" in answer.text
        assert_nothing_secret(answer)
    session = sign_in(guarded)
    answer = post_callback(guarded, draw("/tasks"), session)
    assert answer.status_code == 200 and SECRET["name"] in answer.text
    layout = session.get(f"{guarded.url}/_dash-layout", timeout=15)
    assert "status-banner" in layout.text  # signed in: the shell asks about the collector
    assert "status-banner" not in requests.get(f"{guarded.url}/_dash-layout", timeout=15).text


def test_a_cookie_copied_before_signing_out_is_refused_after(dashboards):
    guarded = dashboards.guarded
    session, other = sign_in(guarded), sign_in(guarded)  # two browsers of the same user
    copied = {COOKIE: session.cookies[COOKIE]}
    assert requests.get(f"{guarded.url}/api/workers", cookies=copied, timeout=15).status_code == 200
    sign_out(guarded, session)
    replayed = requests.get(f"{guarded.url}/api/workers", cookies=copied, timeout=15)
    assert replayed.status_code == 401
    page = requests.get(f"{guarded.url}/tasks", cookies=copied, allow_redirects=False, timeout=15)
    assert page.status_code == 302 and "/login?next=" in page.headers["Location"]
    answer = post_callback(guarded, draw("/tasks"), cookies=copied)
    assert answer.status_code == 401
    assert_nothing_secret(answer)
    assert other.get(f"{guarded.url}/api/workers", timeout=15).status_code == 200


def grid_body(window, params=None) -> dict:
    return {"output": "tasks-grid.getRowsResponse",
            "outputs": {"id": "tasks-grid", "property": "getRowsResponse"},
            "inputs": [{"id": "tasks-grid", "property": "getRowsRequest", "value": window}],
            "state": [{"id": "tasks-filter", "property": "data", "value": params or {}}],
            "changedPropIds": ["tasks-grid.getRowsRequest"]}


def test_the_grid_answers_at_most_its_rows_and_refuses_bad_windows(dashboards):
    scope = dashboards.open
    answer = post_callback(scope, grid_body({"startRow": 0, "endRow": 10_000_000}))
    assert answer.status_code == 200
    rows = answer.json()["response"]["tasks-grid"]["getRowsResponse"]["rowData"]
    assert len(rows) == GRID_ROWS
    for window, params in (({"startRow": 0, "endRow": -5}, None),
                           ({"startRow": "0", "endRow": 5}, None),
                           ({"startRow": 1.5, "endRow": 5}, None),
                           ({"startRow": 2**63, "endRow": 2**63 + 1}, None),
                           ({"startRow": 0, "endRow": 5, "sortModel": "name"}, None),
                           ({"startRow": 0, "endRow": 5}, {"state": "NOT A STATE"}),
                           ([0, 5], None)):
        answer = post_callback(scope, grid_body(window, params))
        assert answer.status_code == 400, (window, params, answer.text)
        assert "task grid: " in answer.text


MALFORMED = [b"not json", b"", b"null", b"[]", b"{}", b"[" * 50_000,
             {"output": 1}, {"output": "tasks-grid.getRowsResponse"},
             {**grid_body({}), "inputs": "x"},
             {**grid_body({}), "inputs": [{"id": "tasks-grid", "property": "columnDefs"}]},
             {**grid_body({}), "state": []},
             {**grid_body({}), "outputs": [1, 2]},
             {**grid_body({}), "changedPropIds": {"x": 1}},
             {**draw("/"), "outputs": [{"id": "_pages_content"}]},
             {"output": "browser-tz.data", "outputs": {"id": "browser-tz", "property": "data"},
              "inputs": [{"id": "browser-tz", "property": "id", "value": "x"}]}]
BAD_FILES = ["dash/nope.js", "nosuchpkg/x.js", "dash/deps/react@18.v3_0_0m1.js", "os/path.js",
             "dash/..%2F..%2F..%2Fetc%2Fpasswd", "dash/../../../etc/passwd"]


def raw_get(scope: Scope, path: str) -> int:
    """The status of a GET sent with its path exactly as written (no dot-segment cleanup)."""
    connection = http.client.HTTPConnection("127.0.0.1", scope.port, timeout=15)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    finally:
        connection.close()


@pytest.mark.parametrize("who", ["open", "signed-in"])
def test_malformed_requests_are_a_quiet_400(dashboards, who):
    scope = dashboards.open if who == "open" else dashboards.guarded
    session = sign_in(scope) if who == "signed-in" else None
    for body in MALFORMED:
        answer = post_callback(scope, body, session)
        assert answer.status_code == 400, (body, answer.status_code, answer.text[:200])
        assert answer.json()["error"].startswith("malformed callback request: ")
    for path in BAD_FILES:
        assert raw_get(scope, f"/_dash-component-suites/{path}") == 404, path
    assert post_callback(scope, b"not json").status_code in (400, 401)  # and anonymously
    assert "Traceback" not in scope.log()


@pytest.mark.browser
def test_a_task_whose_times_are_no_date_still_has_its_page(dashboards, page):
    page.goto(f"{dashboards.open.url}/tasks/far-future")
    expect(page.locator(".step-received time")).to_have_text("1e+20")
    expect(page.locator(".step-started time")).to_have_text("inf")
    expect(page.locator(".step-succeeded time")).to_have_text("-inf")
    expect(page.locator("#task-run")).to_have_text("–")
    expect(page.locator(".task-facts")).to_contain_text(re.compile(r"Runtime\s*inf s"))
    assert page.problems == []
    assert "Traceback" not in dashboards.open.log()
