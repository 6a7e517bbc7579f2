"""The gate's pure parts and its store: callback bodies, the sign-in throttle and password
check, sessions, the grid's row window, and times that are no date."""
import json
import math
import statistics
import time
import tracemalloc

import pytest

from celery_scope.auth.credentials import hash_password, parse_users_file
from celery_scope.auth.dash_requests import ROUTER_OUTPUT, MalformedCall, draws_page, read_call
from celery_scope.auth.sessions import CHECK_SECONDS, SessionStore
from celery_scope.auth.throttle import (
    LOGIN_ATTEMPTS,
    LOGIN_WINDOW,
    LoginThrottle,
    decoy_account,
    verify_password,
)
from celery_scope.formatting import human_seconds, utc_moment
from celery_scope.store.history import HistoryStore
from celery_scope.tasks.detail import durations, iso_utc, timeline, utc_text
from celery_scope.tasks.grid_rows import (
    MAX_START,
    GridRequestError,
    RowWindow,
    header_sort,
    row_window,
)

# Two entries shaped as Dash registers them (app.callback_map): the pages router and a
# single-output callback on a pattern-matching id.
CALLBACKS = {
    ROUTER_OUTPUT: {"callback": print, "output": ["content", "store"], "state": [],
                    "inputs": [{"id": "_pages_location", "property": "pathname"},
                               {"id": "_pages_location", "property": "search"}]},
    "panel.children": {"callback": print, "output": "panel", "state": [],
                       "inputs": [{"id": '{"index":["ALL"],"type":"row"}', "property": "value"}]},
    "browser-tz.data": {"output": "tz", "state": [],  # a clientside callback: no "callback"
                        "inputs": [{"id": "browser-tz", "property": "id"}]},
}
ROUTER_OUTPUTS = [{"id": "_pages_content", "property": "children"},
                  {"id": "_pages_store", "property": "data"}]


def router_body(*inputs, **extra) -> dict:
    return {"output": ROUTER_OUTPUT, "outputs": ROUTER_OUTPUTS, "inputs": list(inputs),
            "changedPropIds": ["_pages_location.pathname"], **extra}


def encode(body) -> bytes:
    return body if isinstance(body, bytes) else json.dumps(body).encode()


PATHNAME = {"id": "_pages_location", "property": "pathname"}
SEARCH = {"id": "_pages_location", "property": "search", "value": ""}


def test_the_router_is_read_by_position():
    login = read_call(encode(router_body({**PATHNAME, "value": "/login"}, SEARCH)), CALLBACKS)
    assert draws_page(login, ("/login", "/login/"))
    tasks = read_call(encode(router_body({**PATHNAME, "value": "/tasks"}, SEARCH)), CALLBACKS)
    assert not draws_page(tasks, ("/login", "/login/"))


@pytest.mark.parametrize("body", [
    pytest.param(router_body({"id": "_pages_location", "property": "href", "value": "/tasks"},
                             {**PATHNAME, "value": "/login"}), id="pathname-second"),
    pytest.param(router_body({"property": "href", "value": "/tasks"},
                             {"property": "pathname", "value": "/login"}), id="no-ids"),
    pytest.param(router_body({**PATHNAME, "value": "/login"}), id="one-input-short"),
    pytest.param(router_body({**PATHNAME, "value": "/login"}, SEARCH, SEARCH), id="one-extra"),
    pytest.param(router_body({**PATHNAME, "value": "/login"}, SEARCH, state=[SEARCH]),
                 id="state-it-has-not"),
    pytest.param(router_body({**PATHNAME, "value": "/login"}, SEARCH, outputs={"id": "x"}),
                 id="outputs-not-a-list"),
    pytest.param(router_body({**PATHNAME, "value": "/login"}, SEARCH, changedPropIds={"a": 1}),
                 id="changed-not-a-list"),
    pytest.param(router_body({**PATHNAME, "value": "/login"}, SEARCH, inputs="x"),
                 id="inputs-a-string"),
    pytest.param(b"not json", id="not-json"),
    pytest.param(b"[" * 100_000, id="nested-too-deep"),
    pytest.param(b"", id="empty"),
    pytest.param([], id="a-list"),
    pytest.param({}, id="no-output"),
    pytest.param({"output": 5}, id="output-a-number"),
    pytest.param({"output": "nobody.children", "inputs": []}, id="unknown-output"),
    pytest.param({"output": "browser-tz.data", "outputs": {"id": "browser-tz", "property": "data"},
                  "inputs": [{"id": "browser-tz", "property": "id"}]}, id="clientside-only"),
    pytest.param({"output": "panel.children", "outputs": {"id": "panel", "property": "children"},
                  "inputs": [[{"id": "row-1", "property": "value"}]]}, id="pattern-id-a-string"),
    pytest.param({"output": "panel.children", "outputs": {"id": "panel", "property": "children"},
                  "inputs": [[{"id": {"type": "row", "index": [1]}, "property": "value"}]]},
                 id="pattern-value-a-list"),
])
def test_a_body_dash_cannot_run_is_malformed(body):
    with pytest.raises(MalformedCall):
        read_call(encode(body), CALLBACKS)


def test_pattern_matching_inputs_are_accepted():
    body = {"output": "panel.children", "outputs": {"id": "panel", "property": "children"},
            "inputs": [[{"id": {"type": "row", "index": 1}, "property": "value", "value": 3},
                        {"id": {"type": "row", "index": "b"}, "property": "value"}]]}
    assert read_call(encode(body), CALLBACKS).output == "panel.children"


def test_the_throttle_stays_small_whatever_names_are_tried():
    throttle = LoginThrottle()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for attempt in range(3000):
        name = f"{attempt:05d}" + "x" * 20_000  # 20 kB names, all different
        throttle.wait_seconds(name, "10.0.0.1", 1000.0 + attempt / 100)
        throttle.failed(name, "10.0.0.1", 1000.0 + attempt / 100)
    grown = sum(stat.size_diff
                for stat in tracemalloc.take_snapshot().compare_to(before, "filename"))
    tracemalloc.stop()
    assert len(throttle) == 3000
    assert grown < 3_000_000, f"{grown} bytes for 3,000 entries"  # the names alone are 60 MB


def test_the_throttle_forgets_old_pairs_and_never_holds_more_than_its_capacity():
    throttle = LoginThrottle(capacity=100)
    for attempt in range(3000):
        throttle.failed(f"user{attempt}", "10.0.0.1", 1000.0)
    assert len(throttle) == 100
    for _ in range(LOGIN_ATTEMPTS):  # the newest pairs are still held to their limit
        throttle.failed("user2999", "10.0.0.1", 1001.0)
    assert throttle.wait_seconds("user2999", "10.0.0.1", 1002.0) > 0
    throttle.failed("late", "10.0.0.1", 1001.0 + LOGIN_WINDOW + 1)  # the others left the window
    assert len(throttle) == 1
    assert throttle.wait_seconds("user2999", "10.0.0.1", 1001.0 + LOGIN_WINDOW + 1) == 0


def _median_seconds(check, runs=5) -> float:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        check()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def test_an_unknown_name_costs_as_much_as_a_known_one():
    accounts = parse_users_file(f"ann:viewer:{hash_password('ann-password')}\n")
    decoy = decoy_account(accounts)
    assert decoy.password_hash.split("$")[0] == accounts["ann"].password_hash.split("$")[0]
    assert verify_password(accounts, "ann", "ann-password", decoy) == accounts["ann"]
    assert verify_password(accounts, "ann", "wrong", decoy) is None
    assert verify_password(accounts, "nobody", "ann-password", decoy) is None
    known = _median_seconds(lambda: verify_password(accounts, "ann", "wrong", decoy))
    unknown = _median_seconds(lambda: verify_password(accounts, "nobody", "wrong", decoy))
    assert known / 3 < unknown < known * 3, (known, unknown)


def test_a_session_ends_for_every_process_sharing_the_store(store_url):
    store = HistoryStore(store_url)
    here, elsewhere = (SessionStore(store.engine, lifetime=3600) for _ in range(2))
    now = time.time()
    session_id = here.begin("ann", now=now)
    other = here.begin("ann", now=now)
    assert here.user_of(session_id, now=now) == elsewhere.user_of(session_id, now=now) == "ann"
    with store.engine.connect() as connection:
        kept = connection.exec_driver_sql("SELECT id, user_id FROM sessions").all()
    assert session_id not in repr(kept)  # only its digest
    here.end(session_id, now=now + 0.1)
    assert here.user_of(session_id, now=now + 0.1) is None  # at once where it was signed out
    assert elsewhere.user_of(session_id, now=now + 0.1 + CHECK_SECONDS) is None
    assert elsewhere.user_of(other, now=now + 0.1 + CHECK_SECONDS) == "ann"  # the other lasts
    assert here.user_of(other, now=now + 3601) is None  # expired
    assert here.user_of("made-up", now=now) is None
    store.close()


@pytest.mark.parametrize("request_, expected", [
    pytest.param({"startRow": 0, "endRow": 100}, RowWindow(0, 100), id="a-page"),
    pytest.param({"startRow": 200, "endRow": 10_000_000}, RowWindow(200, 700), id="capped"),
    pytest.param({}, RowWindow(0, 100), id="defaults"),
    pytest.param({"startRow": 7, "endRow": 7}, RowWindow(7, 7), id="empty"),
    pytest.param({"startRow": MAX_START, "endRow": MAX_START + 1},
                 RowWindow(MAX_START, MAX_START + 1), id="far"),
])
def test_row_window(request_, expected):
    assert row_window(request_, max_rows=500) == expected


@pytest.mark.parametrize("request_, problem", [
    pytest.param({"startRow": 0, "endRow": -5}, "endRow must not be negative", id="negative-end"),
    pytest.param({"startRow": -1, "endRow": 5}, "startRow must not be negative", id="negative"),
    pytest.param({"startRow": "a", "endRow": 5}, "startRow must be a whole number", id="text"),
    pytest.param({"startRow": 1.5, "endRow": 5}, "startRow must be a whole number", id="float"),
    pytest.param({"startRow": True, "endRow": 5}, "startRow must be a whole number", id="bool"),
    pytest.param({"startRow": None, "endRow": 5}, "startRow must be a whole number", id="null"),
    pytest.param({"startRow": 2**60, "endRow": 2**60 + 5}, "startRow must be at most", id="huge"),
    pytest.param({"startRow": 9, "endRow": 5}, "endRow must not be below startRow", id="reversed"),
    pytest.param([0, 5], "must be an object", id="a-list"),
])
def test_row_window_refuses(request_, problem):
    with pytest.raises(GridRequestError, match=problem):
        row_window(request_, max_rows=500)


def test_header_sort():
    assert header_sort({"sortModel": [{"colId": "runtime", "sort": "desc"}]}) == "-runtime"
    assert header_sort({"sortModel": [{"colId": "args"},
                                      {"colId": "name", "sort": "asc"}]}) == "name"
    assert header_sort({"sortModel": [{"colId": ["name"]}]}) is None
    assert header_sort({}) is None
    for junk in ("name", [1], {"colId": "name"}):
        with pytest.raises(GridRequestError, match="sortModel"):
            header_sort({"sortModel": junk})


@pytest.mark.parametrize("epoch, text, iso", [
    pytest.param(1_700_000_000.25, "2023-11-14 22:13:20.250 UTC", "2023-11-14T22:13:20.250+00:00",
                 id="a-date"),
    pytest.param(1e20, "1e+20", None, id="past-9999"),
    pytest.param(253402300800.0, "253402300800.0", None, id="year-10000"),
    pytest.param(-62135596801.0, "-62135596801.0", None, id="year-0"),
    pytest.param(math.inf, "inf", None, id="inf"),
    pytest.param(-math.inf, "-inf", None, id="minus-inf"),
    pytest.param(math.nan, "nan", None, id="nan"),
])
def test_times_that_are_no_date_are_shown_as_their_number(epoch, text, iso):
    assert utc_text(epoch) == text
    assert iso_utc(epoch) == iso
    assert (utc_moment(epoch) is None) is (iso is None)


def test_durations_and_offsets_of_such_times_are_text_too():
    row = {"state": "SUCCESS", "sent": 1.0, "received": 1e20, "started": math.inf,
           "succeeded": math.nan, "runtime": math.inf}
    spans = durations(row)
    assert (spans.wait, spans.run, spans.total) == (None, None, None)
    assert spans.queued == 1e20 - 1.0
    assert [step.name for step in timeline(row)] == ["sent", "received", "started", "succeeded"]
    assert human_seconds(math.inf) == "inf s" and human_seconds(math.nan) == "nan s"
    assert human_seconds(1e20).endswith(" h")
