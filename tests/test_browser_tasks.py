"""The task grid in headless chromium: filters, row count, URL state, export, bad input."""
import csv
import re

import pytest
from playwright.sync_api import expect

from app.store.history import HistoryStore

from .helpers import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def choose(page, control_id, option):
    page.locator(f"#{control_id}").click()
    page.get_by_role("option", name=option, exact=True).click()
    page.keyboard.press("Escape")


def test_filter_export_and_open(redis_server, workers, scope, cluster_app, page, tmp_path):
    workers("grid@test")
    dashboard = scope(redis_server.url)
    store = HistoryStore(dashboard.store)
    ids = [cluster_app.send_task("cluster.add", args=(n, n)).id for n in range(6)]
    failed = [cluster_app.send_task("cluster.fail", args=(f"r{n}",)).id for n in range(3)]
    wait_until(lambda: all((store.task(i) or {}).get("state") in ("SUCCESS", "FAILURE")
                           for i in ids + failed), 60, "all tasks finished")

    page.goto(dashboard.url + "/tasks")
    count = page.locator("#tasks-count")
    expect(count).to_have_text("9 tasks match", timeout=15000)
    expect(page.locator("#tasks-grid .ag-row")).to_have_count(9, timeout=15000)

    choose(page, "tasks-state", "FAILURE")
    expect(count).to_have_text("3 tasks match")
    expect(page).to_have_url(re.compile(r"/tasks\?state=FAILURE$"))
    expect(page.locator("#tasks-grid .ag-row")).to_have_count(3)

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export CSV").click()
    download = download_info.value
    assert download.suggested_filename == "tasks_start_now.csv"
    saved = tmp_path / "export.csv"
    download.save_as(saved)
    with open(saved, newline="", encoding="utf-8") as handle:
        records = list(csv.DictReader(handle))
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
    store.close()


def test_bad_filter_input_is_a_clear_message(redis_server, scope, page):
    dashboard = scope(redis_server.url, "--no-enable-events")
    page.goto(dashboard.url + "/tasks?sort=nonsense&range=1h")
    expect(page.locator("#tasks-filter-problem")).to_contain_text(
        "The link's filter was ignored: sort", timeout=15000)
    page.get_by_role("radio", name="custom").check()
    page.locator("#tasks-since").fill("last tuesday")
    page.locator("#tasks-since").press("Enter")
    expect(page.locator("#tasks-filter-problem")).to_contain_text(
        "Filter not applied: since: 'last tuesday' is neither epoch seconds nor an ISO-8601")
    expect(page.locator("#tasks-count")).to_have_text("0 tasks match")
    assert page.problems == []
