"""Bulk retry from the task grid in chromium: every failure matching the filter, its dry run
in the dialog first (counts and the refusal's reason), then the report; the retried task's
page links back to the original. No console errors."""
from __future__ import annotations

import pytest
import requests
from playwright.sync_api import expect

from .test_bulk import _failures, _scope

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def test_retry_all_matching_from_the_grid(tmp_path, redis_server, workers, cluster_app, page):
    workers("grid@test")
    scope = _scope(tmp_path, redis_server)
    try:
        good = [cluster_app.send_task("cluster.record_fail", args=[number]).id
                for number in range(3)]
        cluster_app.send_task("cluster.record_fail", args=["a\\b"])
        _failures(scope, 4)
        page.goto(f"{scope.url}/tasks?state=FAILURE&name=cluster.record_fail")
        expect(page.locator("#tasks-count")).to_have_text("4 tasks match", timeout=20000)
        page.click("#tasks-bulk-retry-all")
        dialog = page.locator("#tasks-bulk-confirm")
        expect(dialog).to_be_visible()
        expect(dialog).to_contain_text("Dry run: 4 match, 3 can be retried, 1 refused.")
        expect(dialog.locator(".bulk-refusals")).to_contain_text("1 × args holds a backslash")
        assert requests.get(f"{scope.url}/api/tasks", timeout=10,
                            params={"taskname": "cluster.record_fail"}).json().keys() \
            >= set(good)
        dialog.get_by_role("button", name="Retry").click()
        expect(page.locator("#tasks-bulk-result")).to_have_text("Retry: 3 sent, 1 refused.",
                                                                timeout=20000)
        expect(page.locator(".toast")).to_contain_text("3 sent")
        audit = requests.get(f"{scope.url}/api/audit", params={"action": "tasks_retry"},
                             timeout=10).json()["entries"]
        new_id = next(entry for entry in audit if entry["outcome"] == "ok")
        assert sorted(new_id["targets"]) == sorted(good)
        retried = requests.get(f"{scope.url}/api/tasks/retry", timeout=10,
                               params={"ids": good[0]}).json()["refused"][0]["reason"]
        assert retried.startswith("already retried as ")
        page.goto(f"{scope.url}/tasks/{retried.removeprefix('already retried as ')}")
        link = page.locator(".facts a", has_text=good[0])
        expect(link).to_be_visible(timeout=20000)
        page.goto(f"{scope.url}/tasks/{good[0]}")
        expect(page.locator("#task-retry")).to_be_disabled(timeout=20000)
        assert page.problems == []
    finally:
        scope.stop()
