"""The worker page in headless chromium against a real worker: Inspector data, the styled
tabs, the current limits, actions confirmed in the page's dialog and answered in sentences."""
import re

import pytest
from playwright.sync_api import expect

from celery_scope.store.history import HistoryStore

from .helpers import broadcasts, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.integration]

WORKER = "pooled@browser"
MOMENT = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$")
ACTIONS = {"pool_grow", "pool_shrink", "pool_restart", "shutdown", "add_consumer",
           "cancel_consumer", "rate_limit", "time_limit", "autoscale"}


def process_count(page):
    return page.locator("dt:text-is('Process count') + dd")


def ask(page, button_name: str):
    """Press an action's button; the dialog opens and names this worker."""
    page.get_by_role("button", name=button_name, exact=True).click()
    dialog = page.locator("#worker-confirm")
    expect(dialog).to_be_visible(timeout=10000)
    expect(dialog.locator(".modal-target")).to_have_text([WORKER])
    return dialog


def confirm(page, button_name: str, sentence: str) -> None:
    """Confirm the action; its result is the same sentence in place and as a toast."""
    ask(page, button_name)
    page.locator("#worker-confirm-ok").click()
    expect(page.locator("#worker-confirm")).to_be_hidden()
    expect(page.locator("#worker-action-result.ok")).to_have_text(sentence, timeout=15000)
    expect(page.locator(".toasts .toast").last).to_have_text(sentence)


def cancelled(page, redis_url: str, button_name: str) -> list[str]:
    """Press, then Cancel: the action commands broadcast meanwhile (none, if it works)."""
    def act():
        dialog = ask(page, button_name)
        page.locator("#worker-confirm-cancel").click()
        expect(dialog).to_be_hidden()
        page.wait_for_timeout(1500)
    return [command["method"] for command in broadcasts(redis_url, act)
            if command["method"] in ACTIONS]


def test_worker_page_confirms_every_action_and_answers_in_sentences(
        redis_server, workers, scope, cluster_app, page):
    (process,) = workers(WORKER, concurrency=2,
                         options=("--time-limit", "60", "--soft-time-limit", "30"))
    dashboard = scope(redis_server.url)
    store = HistoryStore(dashboard.store)
    wait_until(lambda: store.workers(), 30, "the worker in the store")
    cluster_app.send_task("cluster.add", args=(1, 2))

    page.goto(dashboard.url + "/")
    page.locator("a.worker-link", has_text=WORKER).click()
    expect(page).to_have_url(re.compile(r"/workers/pooled%40browser$"))
    expect(page.locator("h1")).to_have_text(WORKER)
    expect(page.locator(".page-header .pill")).to_have_text("online", timeout=15000)

    # the tabs are the stylesheet's, not Dash's default boxes
    selected = page.locator(".tabs .tab--selected")
    expect(selected).to_have_text("Pool")
    accent = page.evaluate(
        "getComputedStyle(document.documentElement).getPropertyValue('--accent').trim()")
    looks = selected.evaluate("""element => { const style = getComputedStyle(element);
        return [style.borderBottomWidth, style.borderBottomColor, style.borderTopWidth,
                style.backgroundColor]; }""")
    red, green, blue = (int(accent[index:index + 2], 16) for index in (1, 3, 5))
    assert looks == ["2px", f"rgb({red}, {green}, {blue})", "0px", "rgba(0, 0, 0, 0)"], looks

    page.get_by_role("button", name="Refresh now").click()
    expect(process_count(page)).to_have_text("2", timeout=15000)
    expect(page.get_by_role("button", name="Restart pool")).to_be_enabled()

    assert cancelled(page, redis_server.url, "Grow") == []
    expect(process_count(page)).to_have_text("2")
    confirm(page, "Grow", f"The pool of {WORKER} grows by 1 process.")
    expect(process_count(page)).to_have_text("3", timeout=15000)

    page.locator(".tab", has_text="Queues").click()
    page.locator("#worker-new-queue").fill("extra")
    confirm(page, "Add consumer", f"{WORKER} now consumes from extra.")
    extra_row = page.locator("#worker-queue-grid .ag-row", has_text="extra")
    expect(extra_row).to_be_visible(timeout=15000)
    extra_row.get_by_role("button", name="Cancel consumer").click()
    expect(page.locator("#worker-confirm .modal-body")).to_contain_text("queue extra")
    page.locator("#worker-confirm-ok").click()
    expect(page.locator(".toasts .toast").last).to_have_text(
        f"{WORKER} no longer consumes from extra.", timeout=15000)
    expect(extra_row).to_have_count(0, timeout=15000)

    page.locator(".tab", has_text="Limits").click()
    add_row = page.locator("#worker-limits tr", has_text="cluster.add")
    expect(add_row.locator("td")).to_have_text(["cluster.add", "none", "30 s", "60 s",
                                                re.compile(r"^\d+$")])
    one_line = page.get_by_role("button", name="Refresh now").bounding_box()["height"]
    for name in ("Set rate limit", "Set time limits"):
        assert page.get_by_role("button", name=name).bounding_box()["height"] == one_line
    for field, value in (("#worker-rate", "100/m"), ("#worker-soft", "1200"),
                         ("#worker-hard", "3600")):
        page.locator(field).fill(value)  # the value fits: the input is not clipped
        fits = page.locator(field).evaluate("input => input.scrollWidth <= input.clientWidth")
        box = page.locator(".dash-input-container", has=page.locator(field)).bounding_box()
        assert fits and box["height"] == one_line, (field, box)
    page.locator("#worker-limit-task").click()
    page.get_by_role("option", name="cluster.add").click()
    page.locator("#worker-rate").fill("10/m")
    assert cancelled(page, redis_server.url, "Set rate limit") == []
    confirm(page, "Set rate limit", f"The rate limit of cluster.add on {WORKER} is now 10/m.")
    expect(add_row.locator("td").nth(1)).to_have_text("10/m", timeout=15000)

    # a running task and a scheduled one: their times read alike, to the millisecond
    cluster_app.send_task("cluster.sleep", args=(20,))
    cluster_app.send_task("cluster.add", args=(2, 2), countdown=120)
    page.locator(".tab", has_text="Tasks").click()
    page.get_by_role("button", name="Refresh now").click()
    for method in ("active", "scheduled"):
        cell = page.locator(f"#worker-tasks-{method} .ag-row .ag-cell[col-id='when']")
        expect(cell).to_have_text(MOMENT, timeout=15000)
    expect(page.locator("#worker-tasks-revoked-empty")).to_have_text("No revoked tasks.")
    expect(page.locator("#worker-tasks-revoked-box")).to_be_hidden()

    assert cancelled(page, redis_server.url, "Shut down") == []
    assert process.poll() is None, "cancelling must not shut the worker down"
    confirm(page, "Shut down",
            f"Shutdown sent to {WORKER}: it finishes its running tasks and exits.")
    process.wait(40)
    expect(page.locator("#worker-offline-note")).to_contain_text("offline", timeout=20000)
    expect(page.get_by_role("button", name="Shut down")).to_be_disabled()
    page.locator(".tab", has_text="Pool").click()
    expect(page.get_by_role("button", name="Grow")).to_be_disabled()
    expect(process_count(page)).to_have_text("3")  # the last known data stays
    assert page.problems == []
    store.close()


def test_restart_pool_is_confirmed_and_replaces_the_processes(
        redis_server, workers, scope, page):
    workers(WORKER, concurrency=1)
    dashboard = scope(redis_server.url)
    store = HistoryStore(dashboard.store)
    wait_until(lambda: store.workers(), 30, "the worker in the store")
    page.goto(dashboard.url + "/workers/pooled%40browser")
    expect(page.locator(".page-header .pill")).to_have_text("online", timeout=20000)
    page.get_by_role("button", name="Refresh now").click()
    expect(page.get_by_role("button", name="Restart pool")).to_be_enabled(timeout=15000)
    processes = page.locator("dt:text-is('Processes') + dd")
    expect(processes).to_have_text(re.compile(r"^\d+$"), timeout=15000)
    before = processes.text_content()
    confirm(page, "Restart pool", f"The pool of {WORKER} is restarting.")
    page.get_by_role("button", name="Refresh now").click()
    expect(processes).not_to_have_text(before, timeout=20000)
    assert page.problems == []
    store.close()


def test_unknown_worker_page_shows_an_empty_state_and_no_chart(redis_server, scope, page):
    dashboard = scope(redis_server.url)
    page.goto(dashboard.url + "/workers/nobody%40nowhere")
    empty = page.locator("#worker-unknown")
    expect(empty).to_contain_text("No worker named nobody@nowhere has been seen",
                                  timeout=15000)
    expect(empty.get_by_role("link", name="Back to the dashboard")).to_have_attribute("href", "/")
    page.wait_for_timeout(1500)  # a refresh tick: nothing draws a chart or controls later
    expect(page.locator("#worker-chart, .js-plotly-plot")).to_have_count(0)
    expect(page.get_by_role("button", name="Grow")).to_have_count(0)
    assert page.problems == []
