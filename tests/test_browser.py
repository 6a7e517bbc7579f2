"""The dashboard in headless Debian chromium (Playwright, no browser download)."""
import re

import pytest
from playwright.sync_api import expect

from app.store.history import HistoryStore

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
    expect(page.locator("#summary-workers_online .card-value")).to_have_text("2")
    expect(page.locator("#summary-failed_recent .card-value")).to_have_text("5")
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
    # The confirmation opens after a server round trip, possibly while the click is still
    # settling: a handler answers it whenever it comes.
    messages = []
    page.once("dialog", lambda dialog: (messages.append(dialog.message), dialog.dismiss()))
    page.get_by_role("button", name="Shut down").click()
    for _ in range(50):
        if messages:
            break
        page.wait_for_timeout(200)
    assert len(messages) == 1
    assert "alpha@browser" in messages[0] and "beta@browser" not in messages[0]
    page.get_by_role("button", name="Restart pool").click()
    expect(page.locator("#dashboard-action-result")).to_contain_text(
        "alpha@browser: ok", timeout=10000)
    expect(page.locator(".badge-online")).to_have_count(2)  # dismissed: nobody shut down

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
