"""/quarantine in chromium: an event the collector set aside, from a real redis-server, is
listed with its reason and its raw message as text, and the banner links to it."""
import time

import pytest
import redis
from playwright.sync_api import expect

from celery_scope.formatting import newest_of
from celery_scope.store.history import HistoryStore

from .helpers import message, task, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.integration]

MARKUP = "<img src=x onerror=alert(1)>"


def test_the_count_line_says_when_only_the_newest_are_shown():
    assert newest_of(1, 1, "event") == "1 event" and newest_of(3, 3, "event") == "3 events"
    assert newest_of(0, 0, "event") == "no events"
    assert newest_of(500, 1200, "event") == "newest 500 of 1,200 events (the CSV holds them all)"


def test_a_quarantined_event_is_listed_as_text_and_linked_from_the_banner(redis_server, scope,
                                                                         page):
    dashboard = scope(redis_server.url, "--no-enable-events")
    page.goto(dashboard.url + "/quarantine")
    expect(page.locator(".empty-title")).to_have_text("Nothing quarantined", timeout=15000)
    client = redis.Redis.from_url(redis_server.url)
    client.publish("/0.celeryev/task.multi", message(
        task("task-received", "bad-1", time.time(), name={"markup": MARKUP})))
    client.close()
    store = HistoryStore(dashboard.store)
    wait_until(lambda: store.count_quarantined() == 1, 30, "the event quarantined")
    store.close()
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(dashboard.url + "/")
    link = page.get_by_role("link", name="see the quarantine")
    expect(link).to_be_visible(timeout=15000)
    link.click()
    expect(page).to_have_url(dashboard.url + "/quarantine")
    row = page.locator("#quarantine-grid .ag-row")
    expect(row).to_have_count(1, timeout=15000)
    expect(row.locator("[col-id=reason]")).to_contain_text("name is dict, not text")
    expect(row.locator("[col-id=raw]")).to_contain_text(MARKUP)  # shown, not run
    expect(page.locator("#quarantine-count")).to_have_text("1 event")
    assert page.locator("#quarantine-grid img").count() == 0
    assert dialogs == [] and page.problems == []
