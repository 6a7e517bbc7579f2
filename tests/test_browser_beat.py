"""/beat and /beat/<entry> in headless chromium: the entries of beat_apps' schedule with
their status, Run now through the dialog (a toast, and the new task's link in place), the
entry's page with its strip chart, and the empty state that says how to give a schedule."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .beat_apps import INTERVAL_ENTRY, MINUTE_ENTRY
from .helpers import Scope, wait_until
from .test_beat_actions import (
    _count,
    _environment,
    worker,  # noqa: F401 — the fixture the first test uses
)

pytestmark = [pytest.mark.browser, pytest.mark.integration]


@pytest.mark.usefixtures("worker")
def test_beat_lists_the_entries_and_runs_one_now_through_the_dialog(redis_server, tmp_path,
                                                                     page):
    dashboard = Scope(tmp_path, redis_server.url, "--app", "beat_apps:app", "--beat-refresh",
                      "1", env=_environment(redis_server.url)).start()
    try:
        page.goto(dashboard.url + "/beat")
        rows = page.locator(".beat-grid .ag-center-cols-container .ag-row")
        expect(rows).to_have_count(2, timeout=30_000)
        interval = rows.filter(has_text=INTERVAL_ENTRY)
        expect(interval.locator("a").first).to_have_text(INTERVAL_ENTRY)
        expect(rows.filter(has_text=MINUTE_ENTRY)).to_contain_text("every minute")
        expect(interval.locator(".beat-status")).to_have_text("not run yet")
        expect(page.locator(".beat-counts")).to_contain_text("2 not run yet")

        run_now = page.locator(".beat-grid .ag-pinned-right-cols-container "  # pinned right
                               f'.ag-row[row-id="{INTERVAL_ENTRY}"]')
        run_now.get_by_role("button", name="Run now").click()
        dialog = page.locator("#beat-confirm")
        expect(dialog).to_be_visible()
        expect(dialog).to_contain_text(INTERVAL_ENTRY)
        expect(dialog).to_contain_text("beat_apps.count")
        page.locator("#beat-confirm-ok").click()
        expect(page.locator(".toast")).to_contain_text(f"{INTERVAL_ENTRY}: sent as ")
        link = page.locator("#beat-result a.task-link")
        expect(link).to_have_attribute("href", "/tasks/" + link.inner_text())
        wait_until(lambda: _count(redis_server.url, "tick") == 1, 60, "the one run")
        expect(interval.locator(".beat-status")).to_have_text("on time", timeout=30_000)

        interval.locator("a").first.click()
        page.wait_for_url("**/beat/*")
        expect(page.locator("h1")).to_have_text(INTERVAL_ENTRY)
        expect(page.locator("#beat-entry-chart .scatterlayer")).to_be_attached(timeout=20_000)
        expect(page.locator("#beat-entry-runs .ag-row")).to_have_count(1, timeout=20_000)
        expect(page.locator("#beat-entry-disable")).to_be_disabled()  # an app entry
        assert page.problems == []
    finally:
        dashboard.stop()


def test_beat_without_a_schedule_says_how_to_give_one(redis_server, scope, page):
    dashboard = scope(redis_server.url)
    page.goto(dashboard.url + "/beat")
    empty = page.locator("#beat-empty")
    expect(empty).to_be_visible(timeout=20_000)
    expect(empty).to_contain_text("No periodic tasks")
    for hint in ("celery -A proj scope", "--app", "--beat-db", "--redbeat-redis-url"):
        expect(empty).to_contain_text(hint)
    assert page.problems == []
