"""/alerts in headless chromium against a real celery-scope: a rule from the config file
listed with its state and its firing alert's cause, muted through the dialog; the empty
state when there are no rules."""
import pytest
from playwright.sync_api import expect

from .test_api_alerts import CONFIG, SILENT

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def test_a_file_rule_is_listed_and_muted_through_the_dialog(tmp_path, redis_server, scope,
                                                            page):
    config = tmp_path / "scope.toml"
    config.write_text(CONFIG)
    dashboard = scope(redis_server.url, "--config", str(config), "--alert-interval", "1")
    page.goto(dashboard.url + "/alerts")
    grid = page.locator("#alerts-grid")
    expect(grid.locator(".ag-row")).to_have_count(2, timeout=20_000)
    silent = grid.locator(".ag-row", has_text=SILENT)
    expect(silent.locator("[col-id=state]")).to_have_text("firing", timeout=30_000)
    expect(silent.locator("[col-id=source]")).to_have_text("file")
    expect(page.locator(".page-header")).to_contain_text("1 firing")
    cause = page.locator(".alerts-active-item", has_text=SILENT).locator(".alerts-cause")
    expect(cause).to_have_attribute("href", "/tasks?" + cause.get_attribute("href")
                                    .split("?", 1)[1])
    expect(page.locator("#alerts-history")).to_contain_text(SILENT)
    expect(page.locator("#alerts-failures")).to_contain_text("No failed deliveries")

    page.locator("#alerts-rule").click()
    page.get_by_role("option", name=SILENT, exact=True).click()
    page.locator("#alerts-mute-60").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(SILENT)
    page.locator("#alerts-confirm-ok").click()
    expect(silent.locator("[col-id=state]")).to_have_text("muted", timeout=20_000)
    expect(page.locator(".page-header")).to_contain_text("1 muted")
    assert page.problems == []


def test_no_rules_shows_how_to_add_one(redis_server, scope, page):
    dashboard = scope(redis_server.url)
    page.goto(dashboard.url + "/alerts")
    expect(page.locator("#alerts-empty")).to_be_visible(timeout=20_000)
    expect(page.locator("#alerts-empty")).to_contain_text("[[alerts]]")
    expect(page.locator("#alerts-empty")).to_contain_text("New rule")  # open mode: admin
    expect(page.locator("#alerts-active")).to_contain_text("Nothing firing or pending")
    assert page.problems == []
