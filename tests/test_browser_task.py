"""The task page in headless chromium, against a real worker, served under a URL prefix.

One redis-server, one `celery worker -E` and one `celery-scope` serve every test of the
module (starting them is most of the cost); each test sends its own tasks. The prefix
checks that every link the page builds respects it.
"""
import re
from datetime import datetime
from types import SimpleNamespace
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest
from celery import Celery
from playwright.sync_api import expect

from celery_scope.store.cache import SnapshotCache
from celery_scope.store.history import HistoryStore

from .helpers import (
    RedisServer,
    Scope,
    broadcasts,
    start_worker,
    stop_process,
    wait_for,
    wait_until,
)

pytestmark = [pytest.mark.browser, pytest.mark.integration]

WORKER = "tasks@page"
PREFIX = "/ui"
ZONE = "Asia/Kathmandu"  # UTC+05:45: a local time no server default would produce
LOCAL_TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    directory = tmp_path_factory.mktemp("task-page")
    redis_server = RedisServer(directory).start()
    worker = dashboard = client = store = None
    try:
        worker = start_worker(redis_server.url, WORKER, directory, concurrency=2)
        dashboard = Scope(directory, redis_server.url, "--url-prefix", PREFIX,
                                  "--inspect-interval", "2").start()
        client = Celery("client", broker=redis_server.url, set_as_current=False)
        client.conf.task_send_sent_event = True
        store = HistoryStore(dashboard.store)
        wait_until(lambda: store.workers(), 30, "the worker in the store")
        yield SimpleNamespace(client=client, store=store, scope=dashboard, redis=redis_server,
                              base=dashboard.url + PREFIX)
    finally:
        for closable in (store, client):
            if closable is not None:
                closable.close()
        if dashboard is not None:
            dashboard.stop()
        if worker is not None:
            stop_process(worker)
        redis_server.stop()


def stored(cluster, task_id, *states, what=None):
    """The task's row once it is in one of `states` (and its fields are in)."""
    return wait_for(lambda: cluster.store.task(task_id) or {},
                    lambda row: row.get("state") in states, 30,
                    what or f"{task_id} in {'/'.join(states)}")


def click_and_confirm(page, button, task_id: str) -> str:
    """Click an action's button: the page's dialog opens naming the task; confirm it and
    return the dialog's text."""
    button.click()
    dialog = page.locator("#task-confirm")
    expect(dialog).to_be_visible(timeout=10000)
    expect(dialog.locator(".modal-target")).to_have_text([task_id])
    text = dialog.inner_text()
    page.locator("#task-confirm-ok").click()
    expect(dialog).to_be_hidden()
    return text


def test_failed_task_shows_exception_traceback_and_local_timeline(cluster, page):
    task = cluster.client.send_task("cluster.fail", args=("boom",))
    row = stored(cluster, task.id, "FAILURE")
    context = page.context.browser.new_context(timezone_id=ZONE)
    tab = context.new_page()
    problems = []
    tab.on("console", lambda message: message.type == "error" and problems.append(message.text))
    tab.on("pageerror", lambda error: problems.append(str(error)))

    tab.goto(f"{cluster.base}/tasks/{task.id}")
    expect(tab.locator("h1")).to_have_text(task.id, timeout=15000)
    expect(tab.locator("#task-header .pill")).to_have_text("FAILURE")
    expect(tab.locator("#task-exception")).to_contain_text("failed on purpose: boom")
    traceback = tab.locator("#task-traceback")
    expect(traceback).to_contain_text("Traceback (most recent call last)")
    expect(traceback).to_contain_text("ValueError")
    expect(tab.locator(".timeline .step-name")).to_have_text(
        ["Sent", "Received", "Started", "Failed"])
    failed = tab.locator(".timeline .step-failed time")
    expected = datetime.fromtimestamp(row["failed"], ZoneInfo(ZONE))
    expect(failed).to_have_text(expected.strftime("%Y-%m-%d %H:%M:%S.") +
                                f"{expected.microsecond // 1000:03d}")
    # ICU may name the zone by its old spelling, Asia/Katmandu
    expect(failed).to_have_attribute("title", re.compile(r"^Asia/Kath?mandu · \d{4}-.* UTC$"))
    expect(tab.locator("#task-wait")).to_have_text(re.compile(r"^[\d.]+ (ms|s)$"))
    expect(tab.locator("#task-run")).to_have_text(re.compile(r"^[\d.]+ (ms|s)$"))
    expect(tab.locator("#task-args")).to_have_text("('boom',)")
    worker = tab.get_by_role("link", name=WORKER)
    expect(worker).to_have_attribute("href", f"{PREFIX}/workers/tasks%40page")
    expect(tab.get_by_role("button", name="Revoke")).to_be_disabled()  # final: nothing to stop
    context.close()
    assert problems == []


def test_parent_and_child_link_each_other(cluster, page):
    parent = cluster.client.send_task("cluster.add", args=(1, 2))
    child = cluster.client.send_task("cluster.echo", args=("child",), parent_id=parent.id,
                                     root_id=parent.id)
    stored(cluster, parent.id, "SUCCESS")
    stored(cluster, child.id, "SUCCESS")

    page.goto(f"{cluster.base}/tasks/{child.id}")
    parent_link = page.locator("dt:text-is('Parent') + dd a")
    expect(parent_link).to_have_text(parent.id, timeout=15000)
    expect(parent_link).to_have_attribute("href", f"{PREFIX}/tasks/{parent.id}")
    expect(page.locator("dt:text-is('Root') + dd a")).to_have_text(parent.id)
    expect(page.locator("#task-result")).to_have_text("'child'")
    parent_link.click()
    expect(page).to_have_url(re.compile(f"{PREFIX}/tasks/{parent.id}$"))
    expect(page.locator("h1")).to_have_text(parent.id)
    expect(page.locator("#task-result")).to_have_text("3")
    child_link = page.locator("#task-children a.task-link")
    expect(child_link).to_have_text([child.id])
    expect(child_link).to_have_attribute("href", f"{PREFIX}/tasks/{child.id}")
    assert page.problems == []


def test_terminate_with_sigkill_revokes_a_running_task(cluster, page):
    task = cluster.client.send_task("cluster.sleep", args=(60,))
    stored(cluster, task.id, "STARTED")

    page.goto(f"{cluster.base}/tasks/{task.id}")
    expect(page.locator("#task-header .pill")).to_have_text("STARTED", timeout=15000)
    page.locator("#task-signal").click()
    page.get_by_role("option", name="SIGKILL").click()
    message = click_and_confirm(page, page.get_by_role("button", name="Terminate"), task.id)
    assert task.id in message and "SIGKILL" in message
    sentence = f"Sent SIGKILL to 1 task on {WORKER} and revoked it."
    expect(page.locator("#task-action-result.ok")).to_have_text(sentence, timeout=10000)
    expect(page.locator(".toasts .toast").last).to_have_text(sentence)
    # no reload: the page refreshes itself until the task is final
    expect(page.locator("#task-header .pill")).to_have_text("REVOKED", timeout=20000)
    expect(page.locator(".timeline .step-name").last).to_have_text("Revoked")
    expect(page.get_by_role("button", name="Terminate")).to_be_disabled()
    assert cluster.store.task(task.id)["state"] == "REVOKED"
    assert page.problems == []


def test_revoke_asks_first_and_cancel_sends_nothing(cluster, page):
    task = cluster.client.send_task("cluster.add", args=(7, 7), countdown=60)
    stored(cluster, task.id, "RECEIVED")
    page.goto(f"{cluster.base}/tasks/{task.id}")
    revoke = page.get_by_role("button", name="Revoke")
    expect(revoke).to_be_enabled(timeout=15000)

    def cancel():
        revoke.click()
        dialog = page.locator("#task-confirm")
        expect(dialog.locator(".modal-target")).to_have_text([task.id], timeout=10000)
        page.locator("#task-confirm-cancel").click()
        expect(dialog).to_be_hidden()
        page.wait_for_timeout(1500)
    sent = broadcasts(cluster.redis.url, cancel)
    assert [command for command in sent if command["method"] == "revoke"] == []

    sentence = f"Revoked 1 task on {WORKER}."

    def confirm():
        click_and_confirm(page, revoke, task.id)
        expect(page.locator("#task-action-result.ok")).to_have_text(sentence, timeout=10000)
    sent = broadcasts(cluster.redis.url, confirm)
    assert [command["arguments"]["task_id"] for command in sent
            if command["method"] == "revoke"] == [task.id]
    expect(page.locator(".toasts .toast").last).to_have_text(sentence)
    assert page.problems == []


def registered(cluster, name):
    cache = SnapshotCache(cluster.scope.cache_dir)
    try:
        snapshot = cache.worker_snapshot(WORKER).get("registered") or {}
        return name in (snapshot.get("reply") or [])
    finally:
        cache.close()


def test_apply_again_sends_a_new_task_and_links_it(cluster, page):
    task = cluster.client.send_task("cluster.add", args=(2, 3))
    stored(cluster, task.id, "SUCCESS")
    wait_until(lambda: registered(cluster, "cluster.add"), 20, "cluster.add in the Inspector cache")

    page.goto(f"{cluster.base}/tasks/{task.id}")
    apply = page.get_by_role("button", name="Apply again")
    expect(apply).to_be_enabled(timeout=15000)
    assert "cluster.add(2, 3)" in click_and_confirm(page, apply, task.id)
    result = page.locator("#task-action-result.ok")
    expect(result).to_contain_text("again as", timeout=10000)
    new_link = result.locator("a.task-link")
    new_id = new_link.text_content()
    assert new_id and new_id != task.id
    expect(new_link).to_have_attribute("href", f"{PREFIX}/tasks/{new_id}")

    new_link.click()
    expect(page.locator("h1")).to_have_text(new_id)
    expect(page.locator("#task-header .pill")).to_have_text("SUCCESS", timeout=15000)
    expect(page.locator("#task-args")).to_have_text("(2, 3)")
    expect(page.locator("#task-result")).to_have_text("5")
    assert page.problems == []


def test_apply_again_is_refused_for_cut_arguments(cluster, page):
    task = cluster.client.send_task("cluster.echo", args=("x" * 3000,))
    stored(cluster, task.id, "SUCCESS")
    wait_until(lambda: registered(cluster, "cluster.echo"), 20, "cluster.echo registered")

    page.goto(f"{cluster.base}/tasks/{task.id}")
    expect(page.locator("#task-apply-note")).to_contain_text("cut short", timeout=15000)
    expect(page.get_by_role("button", name="Apply again")).to_be_disabled()
    expect(page.locator("#task-args")).to_have_text(re.compile(r"^\('x+\.\.\.',\)$"))
    assert page.problems == []


def test_unknown_id_shows_the_not_seen_page(cluster, page):
    page.goto(f"{cluster.base}/tasks/no-such%20task")
    not_seen = page.locator("#task-not-seen")
    expect(not_seen).to_contain_text("has not seen a task with id no-such task",
                                     timeout=15000)
    back = not_seen.get_by_role("link", name="Back to the dashboard")
    expect(back).to_have_attribute("href", f"{PREFIX}/")
    expect(page.get_by_role("button", name="Revoke")).to_be_hidden()
    back.click()
    expect(page).to_have_url(f"{cluster.base}/")
    assert page.problems == []


def test_not_seen_page_fills_in_when_the_task_arrives(cluster, page):
    task_id = f"late-{uuid4()}"
    page.goto(f"{cluster.base}/tasks/{task_id}")
    expect(page.locator("#task-not-seen")).to_be_visible(timeout=15000)
    cluster.client.send_task("cluster.add", args=(4, 5), task_id=task_id)
    # no reload: the page keeps looking
    expect(page.locator("#task-header .pill")).to_have_text("SUCCESS", timeout=15000)
    expect(page.locator("#task-not-seen")).to_have_count(0)
    expect(page.locator("#task-result")).to_have_text("9")
    assert page.problems == []


def test_markup_in_arguments_is_shown_as_text(cluster, page):
    markup = "<script>window.pwned = 1</script><b>bold</b><img src=x onerror=pwned=2>"
    task = cluster.client.send_task("cluster.echo", args=(markup,))
    stored(cluster, task.id, "SUCCESS")

    page.goto(f"{cluster.base}/tasks/{task.id}")
    expect(page.locator("#task-args")).to_have_text(repr((markup,)), timeout=15000)
    expect(page.locator("#task-result")).to_have_text(repr(markup))
    assert page.locator("#task-body b, #task-body img, #task-body script").count() == 0
    assert page.evaluate("window.pwned") is None
    assert page.problems == []
