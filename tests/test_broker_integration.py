"""The broker page end to end: real redis-server, a real `celery worker -E`, celery-scope run
as `celery -A <app> scope` for an app routing tasks to a queue no worker consumes."""
import json
import os
import re
import sys
import time

import pytest
from celery import Celery
from playwright.sync_api import expect

from celery_scope.queues.names import consumers_by_queue
from celery_scope.store.cache import SnapshotCache
from celery_scope.store.history import HistoryStore

from .helpers import TESTS_DIR, Scope, free_port, wait_until

pytestmark = pytest.mark.integration

ORPHANS = "orphans"  # routed to by the app below; no worker consumes it
WORKER = "eater@broker"
QUEUED = 7

# The app celery-scope watches (`celery -A tests.test_broker_integration:routed_app scope`).
routed_app = Celery("routed", broker=os.environ.get("SCOPE_TEST_BROKER", "memory://"),
                    set_as_current=False)
routed_app.conf.task_routes = {"reports.*": {"queue": ORPHANS}}


@pytest.fixture
def dashboard(redis_server, workers, cluster_app, tmp_path):
    """celery-scope sampling every second, a worker on 'celery', QUEUED tasks in 'orphans'."""
    workers(WORKER)
    instance = Scope(tmp_path, None, "--queue-sample-interval", "1", "--inspect-interval", "2",
                     command=(sys.executable, "-m", "celery", "-A",
                              "tests.test_broker_integration:routed_app", "scope"),
                     env={"SCOPE_TEST_BROKER": redis_server.url,
                          "PYTHONPATH": str(TESTS_DIR.parent)})
    try:
        instance.start()
        wait_until(lambda: instance.status().get("broker_connected"), 20, "the collector")
        for number in range(QUEUED):
            cluster_app.send_task("reports.monthly", args=(number,), queue=ORPHANS)
        yield instance
    finally:
        instance.stop()


def latest_depths(store):
    return {row["queue"]: row["messages"] for row in store.latest_queue_samples(0)}


def test_sampler_records_the_depth_of_a_queue_no_worker_consumes(dashboard):
    store = HistoryStore(dashboard.store)
    cache = SnapshotCache(dashboard.cache_dir)
    try:
        wait_until(lambda: latest_depths(store) == {"celery": 0, ORPHANS: QUEUED}, 30,
                   f"samples: celery empty, {QUEUED} in {ORPHANS}")
        consumers = wait_until(lambda: consumers_by_queue(
            {name: cache.worker_snapshot(name) for name in cache.inspected_workers()}), 20,
            "the worker's active_queues in the cache")
        assert consumers == {"celery": [WORKER]}
        orphans = store.queue_samples([ORPHANS], 0)
        # a sample may fall while the tasks are being sent: any count up to QUEUED is true
        assert len(orphans) >= 1 and all(0 <= row["messages"] <= QUEUED for row in orphans)
        listed = json.loads(dashboard.get("/api/queues/length"))["active_queues"]
        assert sorted(queue["name"] for queue in listed) == sorted(latest_depths(store))
    finally:
        cache.close()
        store.close()


def chart_peak(page, queue):
    return page.evaluate("""(queue) => {
        const plot = document.querySelector('#broker-depth-chart .js-plotly-plot');
        const trace = plot && plot.data && plot.data.find(t => t.name === queue);
        return trace ? Math.max(...trace.y.filter(y => y !== null)) : null;
    }""", queue)


@pytest.mark.browser
def test_broker_page_shows_queues_consumers_and_depth_chart(dashboard, page):
    store = HistoryStore(dashboard.store)
    wait_until(lambda: latest_depths(store).get(ORPHANS) == QUEUED, 30, "the orphans sample")
    store.close()

    page.goto(dashboard.url + "/")
    page.locator(".nav-link", has_text="Broker").click()
    expect(page).to_have_url(re.compile(r"/broker$"))
    orphans = page.locator("#broker-queues .ag-row", has_text=ORPHANS)
    expect(orphans.locator("[col-id='messages']")).to_have_text(str(QUEUED), timeout=15000)
    expect(orphans.locator("[col-id='consumers']")).to_have_text("0")
    celery = page.locator("#broker-queues .ag-row", has_text="celery")
    link = celery.get_by_role("link", name=WORKER)
    expect(link).to_be_visible(timeout=15000)  # once the Inspector has seen the worker
    expect(link).to_have_attribute("href", "/workers/eater%40broker")
    expect(celery.locator("[col-id='consumers']")).to_have_text("1")
    expect(page.locator("#broker-header")).to_contain_text("redis://127.0.0.1")
    expect(page.locator("#broker-no-queues")).to_be_hidden()
    # the grid's headers are whole, never cut with an ellipsis
    for header in page.locator("#broker-queues .ag-header-cell-text").all():
        assert header.evaluate("e => e.scrollWidth <= e.clientWidth"), header.inner_text()
    wait_until(lambda: chart_peak(page, ORPHANS) == QUEUED, 15, "the orphans line in the chart")

    page.get_by_label("15 min").check()
    expect(page.locator("#broker-depth-chart .gtitle")).to_contain_text("last 15 min")
    assert chart_peak(page, ORPHANS) == QUEUED

    link.click()
    expect(page).to_have_url(re.compile(r"/workers/eater%40broker$"))
    expect(page.locator("h1")).to_have_text(WORKER)
    assert page.problems == []


@pytest.mark.browser
def test_unreachable_broker_shows_unknown_depths_and_no_password(tmp_path, page):
    dead = Scope(tmp_path, f"redis://:s3cret@127.0.0.1:{free_port()}/0", "--no-enable-events",
                 "--queue-sample-interval", "1").start()
    try:
        page.goto(dead.url + "/broker")
        celery = page.locator("#broker-queues .ag-row", has_text="celery")
        # the first sample waits out the broker's refused connections, slow on a busy machine
        expect(celery.locator("[col-id='messages']")).to_have_text("unknown", timeout=30000)
        expect(page.locator("#broker-header")).to_contain_text("redis://:**@127.0.0.1")
        assert "s3cret" not in page.content()
        expect(page.locator("#broker-depth-chart .js-plotly-plot")).to_be_visible()
        assert page.problems == []

        context = page.context.browser.new_context(timezone_id="Asia/Kolkata")
        kolkata = context.new_page()
        kolkata.goto(dead.url + "/broker")
        # said once, in the header; ICU may name the zone by its old spelling, Asia/Calcutta
        expect(kolkata.locator("#broker-zone")).to_have_text(
            re.compile(r"^Times in Asia/(Kolkata|Calcutta) "), timeout=15000)
        wait_until(lambda: x_axis(kolkata)["title"] == "time", 15, "the chart")
        kolkata_now = time.strftime("%Y-%m-%d %H", time.gmtime(time.time() + 5.5 * 3600))
        right_edge = x_axis(kolkata)["range"][1].replace("T", " ")
        assert right_edge.startswith(kolkata_now)  # its wall clock, not UTC's
        context.close()
    finally:
        dead.stop()


def x_axis(page):
    return page.evaluate("""() => {
        const axis = document.querySelector('#broker-depth-chart .js-plotly-plot')
            ._fullLayout.xaxis;
        return {title: axis.title.text, range: axis.range};
    }""")
