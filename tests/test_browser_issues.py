"""/issues in headless chromium against real workers: one row per issue with its counts,
recovered vs dead, a sample task link, and the link to the grid filtered to the issue."""
import json
import urllib.request

import pytest
from playwright.sync_api import expect

from .helpers import wait_for
from .test_triage import send_failures

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def test_the_issues_page_lists_each_issue_and_opens_its_tasks(redis_server, workers, scope,
                                                               cluster_app, page):
    dashboard = scope(redis_server.url)
    workers("issues@test")
    send_failures(cluster_app, dead_orders=6, recovering=2, payments=4, customers=3)

    def issues():
        with urllib.request.urlopen(dashboard.url + "/api/issues", timeout=10) as response:
            return json.loads(response.read())

    wait_for(issues, lambda found: found["total_failures"] == 15
             and found["total_recovered"] == 2, 60, "15 failures, 2 recovered")
    page.goto(dashboard.url + "/issues")
    rows = page.locator(".issue-row")
    expect(rows).to_have_count(3)
    expect(page.locator(".page-header")).to_contain_text("15 failures in 3 issues")
    orders = rows.filter(has_text="order <uuid> not found")
    expect(orders.locator(".issue-count")).to_have_text("8")
    expect(orders.locator(".issue-outcome")).to_contain_text("2 recovered")
    expect(orders.locator(".issue-outcome")).to_contain_text("6 dead")
    expect(rows.filter(has_text="KeyError").locator(".issue-count")).to_have_text("3")
    expect(orders.locator(".spark-bar")).to_have_count(24)
    expect(page.get_by_role("link", name="Issues")).to_have_class("nav-link current")
    fingerprint = orders.get_attribute("data-issue")
    group = next(found for found in issues()["issues"] if found["issue"] == fingerprint)
    expect(orders.locator(".task-link")).to_have_attribute("href",
                                                           f"/tasks/{group['sample_id']}")

    orders.locator(".issue-link").click()
    page.wait_for_url("**/tasks?search=issue*")
    expect(page.locator("#tasks-search")).to_have_value(f"issue:{fingerprint}")
    expect(page.locator("#tasks-count")).to_have_text("8 tasks match")
    assert page.problems == []
