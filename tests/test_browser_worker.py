"""The worker page in headless chromium: Inspector data, a pool action, shutdown confirmation."""
import re

import pytest
from playwright.sync_api import expect

from app.store.history import HistoryStore

from .helpers import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.integration]

WORKER = "pooled@browser"


def process_count(page):
    return page.locator("dt:text-is('Process count') + dd")


def test_worker_page_grow_and_confirmed_shutdown(redis_server, workers, scope, cluster_app, page):
    (process,) = workers(WORKER, concurrency=2)
    dashboard = scope(redis_server.url)
    store = HistoryStore(dashboard.store)
    wait_until(lambda: store.workers(), 30, "the worker in the store")
    cluster_app.send_task("cluster.add", args=(1, 2))

    page.goto(dashboard.url + "/")
    page.locator("a.worker-link", has_text=WORKER).click()
    expect(page).to_have_url(re.compile(r"/workers/pooled%40browser$"))
    expect(page.locator("h1")).to_have_text(WORKER)
    page.get_by_role("button", name="Refresh now").click()
    expect(process_count(page)).to_have_text("2", timeout=15000)

    page.get_by_role("button", name="Grow").click()
    expect(page.locator(".action-result.ok")).to_contain_text("pool will grow", timeout=10000)
    expect(process_count(page)).to_have_text("3", timeout=15000)

    page.locator(".tab", has_text="Queues").click()
    page.locator("#worker-new-queue").fill("extra")
    page.get_by_role("button", name="Add consumer").click()
    extra_row = page.locator("#worker-queue-grid .ag-row", has_text="extra")
    expect(extra_row).to_be_visible(timeout=15000)
    extra_row.get_by_role("button", name="Cancel consumer").click()
    expect(page.locator(".action-result.ok")).to_contain_text("no longer consuming", timeout=10000)
    expect(extra_row).to_have_count(0, timeout=15000)

    page.locator(".tab", has_text="Limits").click()
    page.locator("#worker-limit-task").click()
    page.get_by_role("option", name="cluster.add").click()
    page.locator("#worker-rate").fill("10/m")
    page.get_by_role("button", name="Set rate limit").click()
    expect(page.locator(".action-result.ok")).to_contain_text("rate limit", timeout=10000)

    dialogs = []

    def answer(dialog):
        dialogs.append(dialog.message)
        dialog.dismiss() if len(dialogs) == 1 else dialog.accept()
    page.on("dialog", answer)
    page.get_by_role("button", name="Shut down").click()
    wait_until(lambda: len(dialogs) == 1, 5, "the confirmation dialog")
    assert WORKER in dialogs[0]
    assert process.poll() is None, "dismissing the dialog must not shut the worker down"

    page.get_by_role("button", name="Shut down").click()
    wait_until(lambda: len(dialogs) == 2, 5, "the second confirmation dialog")
    process.wait(20)
    expect(page.locator("#worker-offline-note")).to_contain_text("offline", timeout=20000)
    expect(page.get_by_role("button", name="Shut down")).to_be_disabled()
    page.locator(".tab", has_text="Pool").click()
    expect(page.get_by_role("button", name="Grow")).to_be_disabled()
    expect(process_count(page)).to_have_text("3")  # the last known data stays
    assert page.problems == []
    store.close()


def test_unknown_worker_page_says_so(redis_server, scope, page):
    dashboard = scope(redis_server.url)
    page.goto(dashboard.url + "/workers/nobody%40nowhere")
    expect(page.locator("#worker-offline-note")).to_contain_text("never reported", timeout=15000)
    expect(page.get_by_role("button", name="Grow")).to_be_disabled()
    assert page.problems == []
