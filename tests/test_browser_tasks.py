"""The task grid in headless chromium against real workers: search as you type, state chips,
filters, row count, URL state, columns that fit, the browser's zone, live arrivals, export."""
import csv
import re
from datetime import datetime
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from celery_scope.store.history import HistoryStore

from .helpers import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def choose(page, control_id, option):
    page.locator(f"#{control_id}").click()
    page.get_by_role("option", name=option, exact=True).click()
    page.keyboard.press("Escape")


def more_filters(page):
    page.get_by_text("More filters").click()


def finished(store, ids, timeout=60):
    wait_until(lambda: all((store.task(i) or {}).get("state") in ("SUCCESS", "FAILURE")
                           for i in ids), timeout, "all tasks finished")


@pytest.fixture
def cluster(redis_server, workers, scope, cluster_app):
    """A worker, a dashboard, six cluster.add and three cluster.fail tasks, all finished."""
    workers("grid@test")
    dashboard = scope(redis_server.url)
    store = HistoryStore(dashboard.store)
    ids = [cluster_app.send_task("cluster.add", args=(n, n)).id for n in range(6)]
    failed = [cluster_app.send_task("cluster.fail", args=(f"r{n}",)).id for n in range(3)]
    finished(store, ids + failed)
    yield dashboard, store, ids, failed
    store.close()


def tab_in(page, zone):
    """A second tab of the test's browser whose clock reads in `zone`, its errors recorded."""
    tab = page.context.browser.new_context(viewport={"width": 1400, "height": 900},
                                           timezone_id=zone).new_page()
    tab.problems = []
    tab.on("console", lambda message: message.type == "error" and tab.problems.append(
        message.text))
    tab.on("pageerror", lambda error: tab.problems.append(str(error)))
    return tab


def rows(page):
    return page.locator("#tasks-grid .ag-center-cols-container .ag-row")


def export(page, tmp_path):
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export CSV").click()
    download = download_info.value
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    with open(saved, newline="", encoding="utf-8") as handle:
        return download.suggested_filename, list(csv.DictReader(handle))


def test_filter_export_and_open(cluster, page, tmp_path):
    dashboard, _store, ids, failed = cluster
    page.goto(dashboard.url + "/tasks")
    count = page.locator("#tasks-count")
    expect(count).to_have_text("9 tasks match", timeout=15000)
    expect(page.locator("#tasks-grid .ag-row")).to_have_count(9, timeout=15000)

    more_filters(page)
    choose(page, "tasks-state", "FAILURE")
    expect(count).to_have_text("3 tasks match")
    expect(page).to_have_url(re.compile(r"/tasks\?state=FAILURE$"))
    expect(page.locator("#tasks-grid .ag-row")).to_have_count(3)

    filename, records = export(page, tmp_path)
    assert filename == "tasks_start_now.csv"
    assert sorted(record["uuid"] for record in records) == sorted(failed)
    assert all("failed on purpose" in record["exception"] for record in records)
    expect(page.locator("#tasks-export-status")).to_have_text(
        "Exported 3 rows to tasks_start_now.csv")

    page.goto(dashboard.url + "/tasks?state=SUCCESS&name=cluster.add")  # a bookmarked view
    expect(count).to_have_text("6 tasks match", timeout=15000)
    expect(page.locator("#tasks-state")).to_contain_text("SUCCESS")

    page.locator(".ag-header-cell[col-id='received']").click()  # server-side sort: oldest first
    expect(page.locator(".ag-row[row-index='0'] a.task-link")).to_have_text(ids[0])
    page.locator(".ag-row[row-index='0'] a.task-link").click()
    expect(page).to_have_url(re.compile(rf"/tasks/{ids[0]}$"))
    assert page.problems == []


def test_bad_filter_input_is_a_clear_message(redis_server, scope, page):
    dashboard = scope(redis_server.url, "--no-enable-events")
    page.goto(dashboard.url + "/tasks?sort=nonsense&range=1h")
    expect(page.locator("#tasks-link-problem")).to_contain_text(
        "The link's filter was ignored: sort", timeout=15000)
    expect(page.locator("#tasks-count")).to_have_text("0 tasks match")  # the page has settled
    more_filters(page)
    page.get_by_role("radio", name="custom").check()
    page.locator("#tasks-since").fill("last tuesday")
    page.locator("#tasks-since").press("Enter")
    expect(page.locator("#tasks-filter-problem")).to_contain_text(
        "Filter not applied: since: 'last tuesday' is neither epoch seconds nor an ISO-8601")
    expect(page.locator("#tasks-count")).to_have_text("0 tasks match")
    expect(page.locator("#tasks-empty")).to_contain_text("No tasks yet")
    assert page.problems == []


HEADER_CUT = """() => [...document.querySelectorAll('#tasks-grid .ag-header-cell-text')]
    .filter(text => text.offsetParent !== null && text.scrollWidth > text.clientWidth)
    .map(text => text.textContent)"""
RIGHT_EDGES = """() => Object.fromEntries(
    [...document.querySelectorAll('#tasks-grid .ag-header-cell')]
    .filter(cell => cell.offsetParent !== null)
    .map(cell => [cell.getAttribute('col-id'), cell.getBoundingClientRect().right]))"""
TIMES_CUT = """() => [...document.querySelectorAll(
    '#tasks-grid .ag-cell[col-id=received], #tasks-grid .ag-cell[col-id=started]')]
    .filter(cell => cell.scrollWidth > cell.clientWidth).map(cell => cell.textContent)"""
GRID_SCROLLS = """() => {
    const view = document.querySelector('#tasks-grid .ag-center-cols-viewport');
    return view.scrollWidth - view.clientWidth; }"""


def test_default_columns_fit_and_times_are_the_browsers_to_the_millisecond(cluster, page):
    dashboard, store, ids, _failed = cluster
    tab = tab_in(page, "Asia/Kolkata")
    tab.goto(dashboard.url + "/tasks")
    expect(tab.locator("#tasks-count")).to_have_text("9 tasks match", timeout=15000)
    expect(tab.locator("#tasks-zone")).to_have_text(
        re.compile(r"^Times in Asia/(Kolkata|Calcutta)$"))
    tab.wait_for_timeout(500)  # columns size themselves to the grid after the first rows
    assert tab.evaluate(HEADER_CUT) == []
    assert tab.evaluate("() => document.documentElement.scrollWidth "
                        "- document.documentElement.clientWidth") <= 0
    assert tab.evaluate(GRID_SCROLLS) <= 0
    edges = tab.evaluate(RIGHT_EDGES)
    assert {"runtime", "worker", "received", "started"} <= set(edges)
    assert max(edges.values()) <= 1400, edges

    task = store.task(ids[0])
    shown = datetime.fromtimestamp(task["received"], ZoneInfo("Asia/Kolkata"))
    cell = tab.locator(f"#tasks-grid .ag-row[row-id='{ids[0]}'] .ag-cell[col-id='received']")
    expect(cell).to_have_text(shown.strftime("%Y-%m-%d %H:%M:%S.")
                              + f"{shown.microsecond // 1000:03d}")
    assert tab.evaluate(TIMES_CUT) == []  # the milliseconds are seen, not cut with …
    assert tab.problems == []


def test_search_as_you_type_with_flower_terms_and_an_id_prefix(cluster, page):
    dashboard, _store, ids, failed = cluster
    page.goto(dashboard.url + "/tasks")
    count = page.locator("#tasks-count")
    expect(count).to_have_text("9 tasks match", timeout=15000)
    search = page.locator("#tasks-search")
    search.press_sequentially("name:cluster.fail state:FAILURE", delay=20)  # no Enter
    # each pause in the typing longer than the debounce sends a filter, counted in turn: on a
    # busy machine the last count comes seconds after the last key
    expect(count).to_have_text("3 tasks match", timeout=15000)
    expect(rows(page)).to_have_count(3)
    expect(page).to_have_url(re.compile(r"search=name%3Acluster.fail\+state%3AFAILURE"))

    search.fill(ids[2][:8])
    expect(count).to_have_text("1 task match", timeout=15000)
    expect(rows(page).locator("a.task-link")).to_have_text([ids[2]])

    search.fill("colour:red")
    expect(page.locator("#tasks-filter-problem")).to_contain_text(
        "Filter not applied: search: colour: is not a search term")
    search.fill("state:FAILURE worker:grid@test")
    expect(page.locator("#tasks-filter-problem")).to_be_hidden()
    expect(count).to_have_text("3 tasks match", timeout=15000)
    assert sorted(rows(page).locator("a.task-link").all_inner_texts()) == sorted(failed)
    assert page.problems == []


def chip(page, label):
    return page.locator(".chips .chip", has_text=re.compile(rf"^{label}"))


def test_state_chips_count_and_filter(cluster, page):
    dashboard, _store, _ids, failed = cluster
    page.goto(dashboard.url + "/tasks")
    count = page.locator("#tasks-count")
    expect(count).to_have_text("9 tasks match", timeout=15000)
    expect(chip(page, "All")).to_have_text("All9")
    expect(chip(page, "Succeeded")).to_have_text("Succeeded6")
    expect(chip(page, "Failed")).to_have_text("Failed3")
    expect(chip(page, "All")).to_have_class(re.compile(r"\bselected\b"))

    chip(page, "Failed").click()
    expect(count).to_have_text("3 tasks match")
    expect(chip(page, "Failed")).to_have_class(re.compile(r"\bselected\b"))
    expect(chip(page, "Succeeded")).to_have_text("Succeeded6")  # counts ignore the state
    expect(page).to_have_url(re.compile(r"/tasks\?state=FAILURE$"))
    assert sorted(rows(page).locator("a.task-link").all_inner_texts()) == sorted(failed)

    page.locator("#tasks-search").fill("name:cluster.add")
    expect(chip(page, "Failed")).to_have_text("Failed0")
    expect(chip(page, "All")).to_have_text("All6")
    expect(page.locator("#tasks-empty")).to_contain_text("No tasks match these filters")
    page.locator("#tasks-clear-empty").click()
    expect(count).to_have_text("9 tasks match")
    expect(page.locator("#tasks-search")).to_have_value("")
    expect(page.locator("#tasks-empty")).to_be_hidden()
    assert page.problems == []


SCROLL = "() => document.querySelector('#tasks-grid .ag-body-viewport').scrollTop"


def test_new_tasks_arrive_while_the_reader_keeps_their_place(redis_server, workers, scope,
                                                             cluster_app, page):
    workers("live@test")
    dashboard = scope(redis_server.url)
    store = HistoryStore(dashboard.store)
    finished(store, [cluster_app.send_task("cluster.add", args=(n, 1)).id for n in range(60)])
    page.goto(dashboard.url + "/tasks")
    count = page.locator("#tasks-count")
    expect(count).to_have_text("60 tasks match", timeout=15000)

    first = cluster_app.send_task("cluster.add", args=(100, 1)).id  # at the top: comes in
    expect(count).to_have_text("61 tasks match", timeout=15000)
    expect(page.locator(".ag-row[row-index='0'] a.task-link")).to_have_text(first, timeout=15000)

    page.locator("#tasks-grid .ag-body-viewport").evaluate("view => view.scrollTop = 900")
    wait_until(lambda: page.evaluate(SCROLL) == 900, 5, "scrolled")
    later = [cluster_app.send_task("cluster.add", args=(200 + n, 1)).id for n in range(2)]
    expect(page.locator("#tasks-new-text")).to_have_text("2 new tasks", timeout=15000)
    expect(count).to_have_text("63 tasks match")
    assert page.evaluate(SCROLL) == 900  # the reader's place is kept
    assert page.locator("#tasks-grid a.task-link", has_text=later[0]).count() == 0
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#tasks-new")).to_be_hidden()
    wait_until(lambda: page.evaluate(SCROLL) == 0, 5, "back at the top")
    expect(page.locator(".ag-row[row-index='0'] a.task-link")).to_have_text(
        re.compile("|".join(later)))

    page.get_by_role("button", name="Pause").click()
    expect(page.locator("#refresh-updated")).to_have_text("Paused")
    paused = cluster_app.send_task("cluster.add", args=(300, 1)).id
    finished(store, [paused])
    page.wait_for_timeout(3000)  # three refresh intervals
    expect(count).to_have_text("63 tasks match")
    assert page.locator("#tasks-grid a.task-link", has_text=paused).count() == 0
    page.get_by_role("button", name="Resume").click()
    expect(count).to_have_text("64 tasks match", timeout=15000)
    assert page.problems == []
    store.close()


def test_the_sort_is_in_the_link_and_the_export_which_counts_its_own_rows(
        redis_server, workers, scope, cluster_app, page, tmp_path):
    workers("sort@test")
    dashboard = scope(redis_server.url)
    store = HistoryStore(dashboard.store)
    ids = [cluster_app.send_task("cluster.sleep", args=(seconds,)).id
           for seconds in (0.3, 0.05, 0.2, 0.1)]
    ids.append(cluster_app.send_task("cluster.echo", args=("two\nlines, \"quoted\"",)).id)
    finished(store, ids)
    page.goto(dashboard.url + "/tasks?sort=runtime")  # a valid sort in a link is kept
    expect(page.locator("#tasks-count")).to_have_text("5 tasks match", timeout=15000)
    expect(page.locator(".ag-header-cell[col-id='runtime']")).to_have_attribute(
        "aria-sort", "ascending")
    expect(page).to_have_url(re.compile(r"sort=runtime"))
    expect(page.locator("#tasks-export")).to_have_attribute("href", re.compile(r"sort=runtime"))

    page.locator(".ag-header-cell[col-id='runtime'] .ag-header-cell-label").click()
    expect(page).to_have_url(re.compile(r"[?&]sort=-runtime$"))
    expect(page.locator("#tasks-export")).to_have_attribute("href", re.compile(r"sort=-runtime"))
    expect(page.locator(".ag-row[row-index='0'] a.task-link")).to_have_text(ids[0])

    page.get_by_role("button", name="Pause").click()  # the count on the page goes stale
    more = [cluster_app.send_task("cluster.echo", args=(f"late\n{n}",)).id for n in range(3)]
    finished(store, more)
    _filename, records = export(page, tmp_path)
    by_runtime = sorted(ids + more, key=lambda i: -(store.task(i)["runtime"] or 0))
    assert [record["uuid"] for record in records] == by_runtime
    expect(page.locator("#tasks-export-status")).to_have_text(
        re.compile(rf"^Exported {len(records)} rows to "))
    assert len(records) == 8
    assert page.problems == []
    store.close()


def test_from_and_to_are_typed_in_the_browsers_zone(cluster, page):
    dashboard, store, ids, failed = cluster
    tab = tab_in(page, "America/New_York")
    tab.goto(dashboard.url + "/tasks")
    count = tab.locator("#tasks-count")
    expect(count).to_have_text("9 tasks match", timeout=15000)
    more_filters(tab)
    zone = ZoneInfo("America/New_York")
    newest = max(store.task(i)["received"] for i in ids + failed)
    after = datetime.fromtimestamp(int(newest) + 1, zone).replace(tzinfo=None)
    tab.locator("#tasks-since").fill(after.isoformat(sep=" "))  # naive: New York's time
    tab.locator("#tasks-since").press("Enter")
    expect(tab.get_by_role("radio", name="custom")).to_be_checked()  # typing picks custom
    expect(count).to_have_text("0 tasks match")  # read as UTC it would be hours away
    expect(tab).to_have_url(re.compile(r"since="))
    written = datetime.fromisoformat(parse_qs(urlparse(tab.url).query)["since"][0])
    assert written.timestamp() == int(newest) + 1  # the link carries the offset
    before = datetime.fromtimestamp(int(newest) - 600, zone).replace(tzinfo=None)
    tab.locator("#tasks-since").fill(before.isoformat(sep=" "))
    tab.locator("#tasks-since").press("Enter")
    expect(count).to_have_text("9 tasks match")
    tab.get_by_role("radio", name="1 h").check()  # a quick range empties From
    expect(tab.locator("#tasks-since")).to_have_value("")
    expect(tab).to_have_url(re.compile(r"range=1h$"))
    assert tab.problems == []
