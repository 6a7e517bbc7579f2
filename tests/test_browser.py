"""The dashboard in headless Debian chromium (Playwright, no browser download)."""
import re

import pytest
from playwright.sync_api import expect

from celery_scope.store.history import HistoryStore

from .helpers import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.integration]

def test_dashboard_shows_live_workers(redis_server, workers, scope, cluster_app, page):
    workers("alpha@browser", "beta@browser")
    dashboard = scope(redis_server.url)
    store = HistoryStore(dashboard.store)
    wait_until(lambda: len(store.workers()) == 2, 30, "both workers in the store")
    for number in range(5):
        cluster_app.send_task("cluster.fail", args=(number,))
    wait_until(lambda: sum(w["failed"] for w in store.workers()) == 5, 30, "failures recorded")

    page.goto(dashboard.url + "/")
    link = page.locator("a.worker-link", has_text="alpha@browser")
    expect(link).to_be_visible(timeout=15000)
    expect(link).to_have_attribute("href", "/workers/alpha%40browser")
    expect(page.locator("a.worker-link")).to_have_count(2)
    expect(page.locator(".badge-online")).to_have_count(2)
    expect(page.locator("#summary-workers_online .stat-value")).to_have_text("2")
    expect(page.locator("#summary-failed_recent .stat-value")).to_have_text("5")
    failed_in_chart = """() => {
        const plot = document.querySelector('#dashboard-throughput .js-plotly-plot');
        const trace = plot && plot.data && plot.data.find(t => t.name === 'failed');
        return trace ? trace.y.reduce((a, b) => a + b, 0) : null;
    }"""
    wait_until(lambda: page.evaluate(failed_in_chart) == 5, 15, "5 failures in the chart")
    expect(page.locator("#status-banner")).to_have_class(re.compile("banner-ok"))
    expect(page.locator("#status-banner")).to_contain_text("Connected to redis://127.0.0.1")
    # the heartbeat time is shown as a local date-time, not raw epoch seconds
    expect(page.locator(".ag-cell[col-id='last_heartbeat']").first).to_have_text(
        re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$"))

    page.get_by_role("button", name="Pause").click()
    expect(page.get_by_role("button", name="Resume")).to_be_visible()
    page.get_by_role("button", name="Resume").click()
    expect(page.get_by_role("button", name="Pause")).to_be_visible()

    page.get_by_role("button", name="Refresh").click()
    expect(page.locator("#dashboard-action-result")).to_have_text(
        re.compile(r"^2 of 2 workers replied in \d+ ms\.$"), timeout=10000)

    page.get_by_role("button", name="Shut down").click()
    expect(page.locator("#dashboard-action-result")).to_contain_text("Select the workers")
    page.locator(".ag-row", has_text="alpha@browser").locator("input[type=checkbox]").check()
    expect(page.locator("#dashboard-selected")).to_have_text("1 selected")
    # the styled dialog names the selected worker only, and Cancel runs nothing
    dialog = page.get_by_role("dialog")
    page.get_by_role("button", name="Shut down").click()
    expect(dialog).to_be_visible(timeout=10000)
    expect(dialog.locator(".modal-target")).to_have_text(["alpha@browser"])
    expect(dialog).not_to_contain_text("beta@browser")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    # Restart pool confirms too; the worker's answer is a sentence, in place and as a toast
    page.get_by_role("button", name="Restart pool").click()
    expect(dialog).to_be_visible(timeout=10000)
    expect(dialog.locator(".modal-target")).to_have_text(["alpha@browser"])
    dialog.get_by_role("button", name="Restart pool").click()
    expect(page.locator("#dashboard-action-result")).to_have_text(
        "The pool of alpha@browser is restarting.", timeout=10000)
    expect(page.locator("#dashboard-action-result")).to_have_class(re.compile(r"\bok\b"))
    expect(page.locator(".toast", has_text="The pool of alpha@browser is restarting.")
           ).to_be_visible()
    expect(page.locator(".badge-online")).to_have_count(2)  # cancelled: nobody shut down

    # sorting by a column header works in the grid
    page.locator(".ag-header-cell[col-id='hostname']").click()
    page.locator(".ag-header-cell[col-id='hostname']").click()
    expect(page.locator(".ag-row[row-index='0'] a.worker-link")).to_have_text("beta@browser")
    assert page.problems == []
    store.close()


def test_dashboard_empty_state_and_live_update(redis_server, workers, scope, page):
    dashboard = scope(redis_server.url)
    page.goto(dashboard.url + "/")
    expect(page.locator("#dashboard-no-workers")).to_be_visible(timeout=15000)
    expect(page.locator("#dashboard-no-workers")).to_contain_text("No workers seen yet")
    workers("late@browser")
    # no reload: the page refreshes on its own
    expect(page.locator("a.worker-link", has_text="late@browser")).to_be_visible(timeout=30000)
    expect(page.locator("#dashboard-no-workers")).to_be_hidden()
    assert page.problems == []


def test_untrusted_worker_names_are_text(redis_server, scope, cluster_app, page):
    from celery.events import EventDispatcher
    dashboard = scope(redis_server.url, "--no-enable-events")
    wait_until(lambda: dashboard.status().get("broker_connected"), 20, "collector connected")
    evil = '<img src=x onerror="window.__owned=1">@evil'
    with cluster_app.connection_for_write() as connection:
        EventDispatcher(connection, hostname=evil).send("worker-heartbeat", freq=60.0, active=0,
                                                        processed=0, loadavg=[0, 0, 0])
    page.goto(dashboard.url + "/")
    expect(page.locator("a.worker-link")).to_have_text(evil, timeout=15000)
    assert page.evaluate("window.__owned") is None
    assert page.locator(".worker-grid img").count() == 0


TRUNCATED = """selector => Array.from(document.querySelectorAll(selector))
    .filter(e => e.scrollWidth > e.clientWidth).map(e => e.textContent)"""
HEADERS = ".worker-grid .ag-header-cell-text, .worker-grid .ag-header-group-text"
PAGE_OVERFLOW = ("() => document.documentElement.scrollWidth"
                 " - document.documentElement.clientWidth")
# The grid's height beyond its header, its rows and the Total row (AG Grid's autoHeight
# keeps a 150 px band under a few rows unless the stylesheet lifts it).
EMPTY_BAND = """() => {
    const grid = document.querySelector('.worker-grid .ag-root-wrapper');
    const part = s => grid.querySelector(s).getBoundingClientRect().height;
    return grid.getBoundingClientRect().height - part('.ag-header')
        - part('.ag-center-cols-container') - part('.ag-floating-bottom');
}"""
COUNTERS = ["active", "processed", "succeeded", "failed", "retried"]
GRID_NUMBERS = """counters => {
    const number = cell => Number(cell.textContent.replace(/,/g, '') || 0);
    const rows = Array.from(document.querySelectorAll(
        '.worker-grid .ag-center-cols-container .ag-row'));
    const total = document.querySelector('.worker-grid .ag-floating-bottom .ag-row');
    return {
        sums: counters.map(c => rows.reduce(
            (sum, row) => sum + number(row.querySelector(`[col-id="${c}"]`)), 0)),
        total: total && counters.map(c => number(total.querySelector(`[col-id="${c}"]`))),
        rows: rows.length,
    };
}"""


def test_worker_grid_reads_like_flower_s_at_1400_and_800(redis_server, workers, scope,
                                                          cluster_app, page):
    workers("alpha@grid", "beta@grid", "gamma-with-a-longer-name@grid")
    dashboard = scope(redis_server.url)
    store = HistoryStore(dashboard.store)
    wait_until(lambda: len(store.workers()) == 3, 30, "three workers in the store")
    for number in range(6):
        cluster_app.send_task("cluster.fail", args=(number,))
        cluster_app.send_task("cluster.add", args=(number, 1))
    wait_until(lambda: sum(w["failed"] + w["succeeded"] for w in store.workers()) == 12, 30,
               "the tasks recorded")
    page.goto(dashboard.url + "/")
    expect(page.locator("a.worker-link")).to_have_count(3, timeout=15000)

    # every header is whole, sorted or not, and the counters say where they come from
    assert page.evaluate(TRUNCATED, HEADERS) == []
    for column in ("succeeded", "processed", "load"):
        page.locator(f".ag-header-cell[col-id='{column}']").click()
        assert page.evaluate(TRUNCATED, HEADERS) == [], column
    headers = page.locator(".worker-grid .ag-header")
    expect(headers).to_contain_text("Processed since start")
    expect(headers).to_contain_text("Reported by the worker")
    expect(headers).to_contain_text("Recorded by celery-scope")
    expect(page.locator(".ag-header-cell[col-id^='load']")).to_have_count(1)
    expect(page.locator(".ag-row", has_text="alpha@grid").locator("[col-id='load']")).to_have_text(
        re.compile(r"^\d+\.\d\d / \d+\.\d\d / \d+\.\d\d$"))
    assert page.evaluate(TRUNCATED, ".worker-grid .ag-cell") == []  # nor any value
    busy_host = """() => {
        const cells = document.querySelectorAll(
            '.worker-grid .ag-center-cols-container .ag-cell[col-id="load"]');
        cells.forEach(cell => { cell.textContent = '16.14 / 13.40 / 10.50'; });
        return [cells.length, Array.from(cells).filter(c => c.scrollWidth > c.clientWidth).length];
    }"""
    assert page.evaluate(busy_host) == [3, 0]  # loads of 10 and more fit too
    assert page.evaluate(PAGE_OVERFLOW) <= 0

    # the Total row sums the rows; its Worker cell is text, not a link
    total = page.locator(".worker-grid .ag-floating-bottom .ag-row")
    expect(total.locator("[col-id='hostname']")).to_have_text("Total")
    expect(total.locator("[col-id='status']")).to_have_text("3 workers")
    assert total.locator("a").count() == 0
    numbers = wait_until(lambda: (lambda n: n if n["total"] == n["sums"] else None)(
        page.evaluate(GRID_NUMBERS, COUNTERS)), 10, "the Total row matching the rows")
    assert numbers["rows"] == 3 and numbers["total"][3] == 6 and numbers["total"][2] == 6

    # no empty band under the rows
    assert 0 <= page.evaluate(EMPTY_BAND) <= 4

    # the filter box narrows the rows as you type, and the grid shrinks with them
    tall = page.locator(".worker-grid").bounding_box()["height"]
    page.get_by_placeholder(re.compile("Filter workers")).press_sequentially("bet")
    expect(page.locator(".worker-grid .ag-center-cols-container .ag-row")).to_have_count(1)
    expect(page.locator(".worker-grid .ag-center-cols-container .ag-row")).to_contain_text(
        "beta@grid")
    assert page.locator(".worker-grid").bounding_box()["height"] < tall
    assert 0 <= page.evaluate(EMPTY_BAND) <= 4
    page.get_by_placeholder(re.compile("Filter workers")).fill("online")
    expect(page.locator(".worker-grid .ag-center-cols-container .ag-row")).to_have_count(3)
    software = page.locator(".ag-row", has_text="alpha@grid").locator("[col-id='software']")
    assert "6" not in software.inner_text()
    page.get_by_placeholder(re.compile("Filter workers")).fill("6")  # counters are not searched
    expect(page.locator(".worker-grid .ag-center-cols-container .ag-row")).to_have_count(0)
    page.get_by_placeholder(re.compile("Filter workers")).fill("")
    expect(page.locator(".worker-grid .ag-center-cols-container .ag-row")).to_have_count(3)

    # at 800 px the grid scrolls inside itself; the page does not
    page.set_viewport_size({"width": 800, "height": 900})
    page.wait_for_timeout(300)
    assert page.evaluate(PAGE_OVERFLOW) <= 0
    box = page.locator(".worker-grid").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 800
    assert page.problems == []
    store.close()
