"""Markup in task data, task names, worker and queue names, from a real worker, stays text.

Anyone able to send a task or start a worker chooses these strings. One redis-server, one
`celery worker -E` whose hostname and queue hold markup, and one `celery-scope` serve the
module; each test opens pages in headless chromium and checks that nothing ran (no dialog,
no console error), that no payload became an element, and that the text reads literally.
The CSV of the same tasks is checked to be spreadsheet-safe.
"""
import csv
import html
import io
import urllib.request
from types import SimpleNamespace
from urllib.parse import quote, unquote
from uuid import uuid4

import pytest
from celery import Celery
from playwright.sync_api import expect

from celery_scope.store.history import HistoryStore

from .helpers import RedisServer, Scope, start_worker, stop_process, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.integration]

# Each payload alerts its own number, so a dialog says which one got through. None holds
# both quote kinds: Celery's repr then keeps it verbatim inside its quotes.
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(2)>"
SVG = '"><svg onload=alert(3)>'
PAYLOADS = [SCRIPT, IMG, SVG]
WORKER = "<img src=x onerror=alert(4)>@xss"
QUEUE = '"><svg onload=alert(5)><b>q</b>'  # <b> is markup Plotly itself would draw
NAME = "cluster.<b>bold</b><img src=x onerror=alert('name')>"  # registered in cluster_tasks
FORMULA = '=HYPERLINK("http://evil.example","click")'
FORMULA_KWARGS = "@SUM(1+1)*cmd|' /C calc'!A0"
TIMEOUT = 15000  # ms, for the page to show what the store holds

# What an injected payload would leave in the DOM: event-handler attributes, the image,
# or a script that calls alert (the page's own scripts never do).
INJECTED = """() => document.querySelectorAll('[onerror], [onload], img[src="x"]').length
    + [...document.scripts].filter(script => script.text.includes('alert(')).length"""


def send_tasks(client):
    """The tasks the pages show; every one but `scheduled` finishes at once."""
    send = client.send_task
    return SimpleNamespace(
        args=send("cluster.echo", args=(PAYLOADS,), queue=QUEUE).id,
        kwargs=send("cluster.echo", kwargs={"value": {"payloads": PAYLOADS}},
                    task_id=f"<svg onload=alert(7)>{uuid4().hex}").id,
        failed=send("cluster.fail", args=(IMG + SCRIPT,)).id,
        named=send(NAME, args=(SVG,)).id,
        formula=send("cluster.echo", args=("x",), argsrepr=FORMULA,
                     kwargsrepr=FORMULA_KWARGS).id,
        scheduled=send("cluster.echo", args=(PAYLOADS,), countdown=3600).id,
    )


def worker_knows(scope, name) -> bool:
    """Whether the Inspector cache lists `name` among the worker's registered tasks."""
    from celery_scope.store.cache import SnapshotCache
    cache = SnapshotCache(scope.cache_dir)
    try:
        snapshot = cache.worker_snapshot(WORKER).get("registered") or {}
        return name in (snapshot.get("reply") or [])
    finally:
        cache.close()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    directory = tmp_path_factory.mktemp("xss")
    redis_server = RedisServer(directory).start()
    worker = dashboard = client = store = None
    try:
        worker = start_worker(redis_server.url, WORKER, directory,
                              options=("-Q", f"celery,{QUEUE}"))
        dashboard = Scope(directory, redis_server.url, "--inspect-interval", "2").start()
        client = Celery("client", broker=redis_server.url, set_as_current=False)
        client.conf.task_send_sent_event = True
        store = HistoryStore(dashboard.store)
        wait_until(lambda: store.workers(), 30, "the worker in the store")
        ids = send_tasks(client)
        finished = [ids.args, ids.kwargs, ids.failed, ids.named, ids.formula]
        wait_until(lambda: all((store.task(i) or {}).get("state") in ("SUCCESS", "FAILURE")
                               for i in finished), 30, "every task final")
        wait_until(lambda: worker_knows(dashboard, NAME), 20, "the task names inspected")
        yield SimpleNamespace(ids=ids, store=store, scope=dashboard, base=dashboard.url)
    finally:
        for closable in (store, client):
            if closable is not None:
                closable.close()
        if dashboard is not None:
            dashboard.stop()
        if worker is not None:
            stop_process(worker)
        redis_server.stop()


@pytest.fixture
def dialogs(page):
    """Messages of every dialog the page opens (each dismissed): an alert means a payload ran."""
    opened = []

    def dismiss(dialog):
        opened.append(dialog.message)
        dialog.dismiss()
    page.on("dialog", dismiss)
    return opened


def assert_inert(page, dialogs):
    assert dialogs == [], "a payload ran"
    assert page.evaluate(INJECTED) == 0, "a payload became an element"
    assert page.problems == []


def test_task_grid_shows_markup_as_text(cluster, page, dialogs):
    page.goto(f"{cluster.base}/tasks")
    cells = page.locator("#tasks-grid .ag-cell")
    for payload in PAYLOADS:
        expect(cells.filter(has_text=payload)).not_to_have_count(0, timeout=TIMEOUT)
    expect(cells.filter(has_text=FORMULA)).to_have_count(1)
    expect(page.locator("#tasks-grid .ag-cell[col-id='name']", has_text=NAME)).to_have_count(1)
    expect(page.locator("#tasks-grid a.task-link", has_text=cluster.ids.kwargs)).to_have_count(1)
    workers = page.locator("#tasks-grid a.worker-link")
    expect(workers.first).to_have_text(WORKER)
    assert unquote(workers.first.get_attribute("href")) == f"/workers/{WORKER}"
    assert_inert(page, dialogs)


def open_task(page, cluster, task_id):
    page.goto(f"{cluster.base}/tasks/{quote(task_id, safe='')}")
    expect(page.locator("h1")).to_have_text(task_id, timeout=TIMEOUT)
    expect(page.locator("#task-header .pill")).not_to_have_text("UNKNOWN")


def test_task_pages_show_markup_as_text(cluster, page, dialogs):
    ids = cluster.ids
    open_task(page, cluster, ids.args)
    for payload in PAYLOADS:
        expect(page.locator("#task-args")).to_contain_text(payload)
        expect(page.locator("#task-result")).to_contain_text(payload)
    expect(page.locator("dt:text-is('Queue') + dd")).to_have_text(QUEUE)
    expect(page.locator("dt:text-is('Worker') + dd a")).to_have_text(WORKER)
    assert_inert(page, dialogs)

    open_task(page, cluster, ids.kwargs)  # its id holds markup too
    for payload in PAYLOADS:
        expect(page.locator("#task-kwargs")).to_contain_text(payload)
    assert_inert(page, dialogs)

    open_task(page, cluster, ids.failed)
    expect(page.locator("#task-exception")).to_contain_text(IMG + SCRIPT)
    expect(page.locator("#task-traceback")).to_contain_text(f"failed on purpose: {IMG + SCRIPT}")
    assert_inert(page, dialogs)

    open_task(page, cluster, ids.named)
    expect(page.locator("#task-header .task-name")).to_have_text(NAME)
    expect(page.get_by_text(SVG, exact=False).first).to_be_visible()
    assert_inert(page, dialogs)


def show_hover(page, chart, trace_name):
    """Hover the first non-empty point of the line named `trace_name`, as Plotly would
    (the figure names lines with escaped text, which Plotly shows as the literal name)."""
    curve = page.evaluate("""([chart, name]) => {
        const plot = document.querySelector(`#${chart} .js-plotly-plot`);
        const curve = plot.data.findIndex(trace => trace.name === name);
        if (curve >= 0) {
            const point = plot.data[curve].y.findIndex(y => y);
            Plotly.Fx.hover(plot, [{curveNumber: curve, pointNumber: point}]);
        }
        return curve;
    }""", [chart, html.escape(trace_name, quote=False)])
    assert curve >= 0, f"no line named {trace_name!r} (escaped) in #{chart}"


# Plotly draws a legend for two lines or more: the single worker's name shows in the hover
@pytest.mark.parametrize("group, name, legend", [("name", NAME, True), ("queue", QUEUE, True),
                                                 ("worker", WORKER, False)])
def test_explore_shows_names_as_text(cluster, page, dialogs, group, name, legend):
    page.goto(f"{cluster.base}/explore?group={group}&range=1h")
    page.wait_for_selector("#explore-chart .js-plotly-plot .scatterlayer .trace")
    if legend:
        names = page.locator("#explore-chart .legendtext")
        expect(names.filter(has_text=name)).to_have_count(1, timeout=TIMEOUT)
    show_hover(page, "explore-chart", name)
    expect(page.locator("#explore-chart .hoverlayer .hovertext")).to_contain_text(name)
    if group == "name":
        ticks = page.locator("#explore-heatmap .ytick text")
        expect(ticks.filter(has_text=NAME)).to_have_count(1)
    assert page.locator("#explore-chart tspan[style*='bold']").count() == 0
    assert_inert(page, dialogs)


def test_dashboard_and_worker_page_show_names_as_text(cluster, page, dialogs):
    page.goto(cluster.base)
    link = page.locator("a.worker-link", has_text=WORKER)
    expect(link).to_have_text(WORKER, timeout=TIMEOUT)
    assert_inert(page, dialogs)

    link.click()  # the link's encoding leads to the right page
    expect(page.locator("h1")).to_have_text(WORKER, timeout=TIMEOUT)
    page.locator(".tab", has_text="Queues").click()
    expect(page.locator("#worker-queue-grid .ag-cell", has_text=QUEUE).first).to_be_visible(
        timeout=TIMEOUT)
    page.locator(".tab", has_text="Tasks").click()  # the scheduled task, from the Inspector
    scheduled = page.locator(".ag-row", has_text=cluster.ids.scheduled)
    for payload in PAYLOADS:
        expect(scheduled).to_contain_text(payload, timeout=TIMEOUT)
    page.locator(".tab", has_text="Limits").click()
    page.locator("#worker-limit-task").click()
    expect(page.get_by_role("option", name=NAME, exact=True)).to_be_visible()
    page.keyboard.press("Escape")
    assert_inert(page, dialogs)


def test_broker_page_shows_names_as_text(cluster, page, dialogs):
    page.goto(f"{cluster.base}/broker")
    expect(page.locator(".ag-cell[col-id='queue']", has_text=QUEUE)).to_have_count(1,
                                                                                  timeout=TIMEOUT)
    expect(page.locator(".ag-cell[col-id='workers'] a", has_text=WORKER).first).to_be_visible()
    assert_inert(page, dialogs)


def test_broker_chart_legend_shows_queue_names_as_text(cluster, page, dialogs):
    page.goto(f"{cluster.base}/broker")
    for chart in ("#broker-depth-chart", "#broker-latency-chart"):  # each names its queues
        legend = page.locator(f"{chart} .js-plotly-plot .legendtext")
        expect(legend.filter(has_text="celery")).to_have_count(1, timeout=TIMEOUT)
        expect(legend.filter(has_text=QUEUE)).to_have_count(1, timeout=2000)


def test_csv_of_the_tasks_is_spreadsheet_safe(cluster):
    with urllib.request.urlopen(f"{cluster.base}/api/tasks.csv?search=HYPERLINK",
                                timeout=30) as response:
        records = list(csv.DictReader(io.StringIO(response.read().decode(), newline="")))
    assert [record["uuid"] for record in records] == [cluster.ids.formula]
    assert records[0]["args"] == "'" + FORMULA
    assert records[0]["kwargs"] == "'" + FORMULA_KWARGS

    with urllib.request.urlopen(f"{cluster.base}/api/tasks.csv", timeout=30) as response:
        records = {record["uuid"]: record for record in
                   csv.DictReader(io.StringIO(response.read().decode(), newline=""))}
    for task_id in (cluster.ids.args, cluster.ids.failed, cluster.ids.named):
        stored = cluster.store.task(task_id)
        for field in ("name", "worker", "queue", "args", "result", "exception"):
            assert records[task_id][field] == (stored[field] or ""), field  # text, unescaped
