"""/explore against a real worker: runtime percentiles match known sleeps; in headless
chromium the metric and group change the URL, a zoom shrinks the bucket, a click opens the
task grid filtered to that bucket and group, a double-click zooms back out without opening
it, a fresh store opens on a window that fits its tasks, the chart's title names the
statistic, and times show and are typed in the browser's zone."""
import csv
import io
import re
import time
import urllib.request
from datetime import datetime, timezone
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from celery_scope.store.history import HistoryStore
from celery_scope.store.schema import tasks

from .helpers import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.integration]

SHORT, LONG = 0.2, 0.6  # seconds the sleeping tasks take


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read()


def choose(page, control_id, option):
    page.locator(f"#{control_id}").click()
    page.get_by_role("option", name=option, exact=True).click()
    page.keyboard.press("Escape")


def figure(page) -> dict:
    """The data and x-axis range the chart shows, read from Plotly itself."""
    page.wait_for_selector("#explore-chart .js-plotly-plot .scatterlayer", state="attached")
    return page.evaluate("""() => {
        const plot = document.querySelector('#explore-chart .js-plotly-plot');
        return {names: plot.data.map(trace => trace.name),
                ys: plot.data.map(trace => trace.y),
                range: plot._fullLayout.xaxis.range,
                title: plot._fullLayout.xaxis.title.text};
    }""")


def pixel(page, epoch: float, value: float = 0) -> dict:
    """Where on screen the chart draws (epoch, value): Plotly's axes take the naive local
    time the page plotted, as milliseconds."""
    return page.evaluate("""([epoch, value]) => {
        const plot = document.querySelector('#explore-chart .js-plotly-plot');
        const area = plot.querySelector('.nsewdrag').getBoundingClientRect();
        const layout = plot._fullLayout;
        const local = epoch * 1000 - new Date(epoch * 1000).getTimezoneOffset() * 60000;
        return {x: area.left + layout.xaxis.l2p(local), y: area.top + layout.yaxis.l2p(value)};
    }""", [epoch, value])


@pytest.fixture
def finished_cluster(redis_server, workers, scope, cluster_app):
    workers("explore@test", concurrency=4)
    dashboard = scope(redis_server.url)
    store = HistoryStore(dashboard.store)
    began = time.time()
    ids = [cluster_app.send_task("cluster.sleep", args=(SHORT if n % 2 else LONG,)).id
           for n in range(20)]
    ids += [cluster_app.send_task("cluster.fail", args=(f"r{n}",)).id for n in range(3)]
    wait_until(lambda: all((store.task(i) or {}).get("state") in ("SUCCESS", "FAILURE")
                           for i in ids), 60, "all tasks finished")
    store.close()
    yield dashboard, began, time.time()


def test_runtime_percentiles_match_the_sleeps(finished_cluster):
    dashboard, began, ended = finished_cluster
    # one 30-day bucket holds the whole run (buckets are aligned on the epoch)
    query = (f"metric=runtime&since={began - 5:.3f}&until={ended + 5:.3f}"
             f"&bucket={30 * 86400}&name=cluster.sleep")
    rows = list(csv.DictReader(io.StringIO(fetch(f"{dashboard.url}/api/series.csv?{query}")
                                           .decode())))
    measured = [row for row in rows if row["p50"]]
    assert len(measured) == 1
    found = {stat: float(measured[0][stat]) for stat in ("p50", "p95", "p99", "max")}
    # ten at 0.2 s and ten at 0.6 s: the median lies halfway, the top ones at 0.6 s or a
    # little more (a busy machine wakes a sleeper late), each exactly numpy's over what
    # the worker measured
    store = HistoryStore(dashboard.store)
    with store.engine.connect() as connection:
        runtimes = [runtime for (runtime,) in connection.execute(
            select(tasks.c.runtime).where(tasks.c.name == "cluster.sleep"))]
    store.close()
    assert len(runtimes) == 20 and sorted(runtimes)[10] >= LONG > sorted(runtimes)[9] >= SHORT
    for stat, quantile in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99), ("max", 1.0)):
        assert found[stat] == pytest.approx(float(np.quantile(runtimes, quantile)), abs=1e-6)
    assert found["p50"] == pytest.approx((SHORT + LONG) / 2, abs=0.1)


def test_explore_metric_group_zoom_and_click(finished_cluster, page):
    dashboard, began, ended = finished_cluster
    page.goto(dashboard.url + "/explore?metric=runtime&range=1h")
    info = page.locator("#explore-info")
    expect(info).to_contain_text("10 s buckets", timeout=20000)
    assert figure(page)["names"] == ["p50", "p95", "p99", "max"]

    choose(page, "explore-metric", "Tasks received")
    expect(page).to_have_url(re.compile(r"metric=received"))
    choose(page, "explore-group", "Task name")
    expect(page).to_have_url(re.compile(r"group=name"))
    wait_until(lambda: sorted(figure(page)["names"]) == ["cluster.fail", "cluster.sleep"], 20,
               "one line per task name")
    assert sum(value for value in figure(page)["ys"][0] if value) == 20  # cluster.sleep

    # Drag across the part of the chart where the tasks ran: the zoomed window comes back
    # in finer buckets, and the range turns custom.
    start, end = (pixel(page, epoch) for epoch in (began - 60, ended + 60))
    page.mouse.move(start["x"], start["y"])
    page.mouse.down()
    page.mouse.move(end["x"], end["y"], steps=8)
    page.mouse.up()
    expect(page.locator("#explore-range input[value='custom']")).to_be_checked(timeout=10000)
    expect(page).to_have_url(re.compile(r"since=.*until="), timeout=20000)
    expect(info).not_to_contain_text("10 s buckets", timeout=20000)
    shown = re.search(r"(\d+) s buckets · (\d+) points", info.inner_text())
    assert int(shown.group(1)) < 10
    # Plotly redraws after the figure arrives: wait until every line has its new markers
    page.wait_for_function("""(points) => {
        const traces = document.querySelectorAll('#explore-chart .scatterlayer .trace');
        return traces.length > 0 && [...traces].every(
            trace => trace.querySelectorAll('.points path.point').length === points);
    }""", arg=int(shown.group(2)))

    # Click the bucket holding the most cluster.sleep tasks: the grid opens filtered to it.
    target = page.evaluate("""() => {
        const plot = document.querySelector('#explore-chart .js-plotly-plot');
        const index = plot.data.findIndex(t => t.name === 'cluster.sleep');
        const trace = plot.data[index];
        const best = trace.y.indexOf(Math.max(...trace.y.map(y => y || 0)));
        const marker = plot.querySelectorAll('.scatterlayer .trace')[index]
            .querySelectorAll('.points path.point')[best].getBoundingClientRect();
        return {count: trace.y[best], epoch: trace.customdata[best][0],
                x: marker.left + marker.width / 2, y: marker.top + marker.height / 2};
    }""")
    assert target["count"] >= 1
    # Plotly clicks the point it hovers: let the pointer arrive, as a hand would, first
    page.mouse.move(target["x"], target["y"], steps=5)
    expect(page.locator("#explore-chart .hoverlayer .hovertext")).to_contain_text("cluster.sleep")
    page.mouse.click(target["x"], target["y"])
    expect(page).to_have_url(re.compile(r"/tasks\?"), timeout=15000)
    params = {key: values[0] for key, values in parse_qs(urlparse(page.url).query).items()}
    # the grid may already have written the link back in its own form, which leaves out the
    # default time field: both read the same
    assert params["name"] == "cluster.sleep"
    assert params.get("time_field", "received") == "received"
    assert float(params["since"]) == target["epoch"]
    expect(page.locator("#tasks-count")).to_have_text(
        re.compile(rf"^{target['count']} tasks? match$"), timeout=15000)
    assert page.problems == []


def test_times_show_in_the_browsers_zone_and_bad_links_say_why(finished_cluster, page):
    dashboard, _began, _ended = finished_cluster
    context = page.context.browser.new_context(timezone_id="Asia/Kolkata")
    kolkata = context.new_page()
    kolkata.goto(dashboard.url + "/explore?metric=succeeded&range=15m")
    expect(kolkata.locator("#explore-info")).to_contain_text("5 s buckets", timeout=20000)
    # said once, in the header (Chromium may report the zone by its older name)
    expect(kolkata.locator("#explore-zone")).to_have_text(
        re.compile(r"^Times in Asia/(Kolkata|Calcutta) "), timeout=10000)
    assert figure(kolkata)["title"] == "time"
    right_edge = figure(kolkata)["range"][1]
    utc_now = time.strftime("%Y-%m-%d %H:%M", time.gmtime(time.time() + 5.5 * 3600))
    assert right_edge.replace("T", " ").startswith(utc_now[:13])  # Kolkata wall clock, not UTC

    # A time typed without an offset is Kolkata's; typing it turns the range custom.
    since = time.time() - 3600
    typed = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(since + 5.5 * 3600))
    kolkata.locator("#explore-since").fill(typed)
    kolkata.locator("#explore-since").press("Enter")
    expect(kolkata.locator("#explore-range input[value='custom']")).to_be_checked(timeout=10000)
    expect(kolkata).to_have_url(re.compile(rf"since={int(since)}(&|$)"), timeout=15000)
    context.close()

    page.goto(dashboard.url + "/explore?metric=nonsense")
    expect(page.locator("#explore-problem")).to_contain_text(
        "The link's settings were ignored: metric", timeout=15000)
    expect(page.locator("#explore-info")).to_contain_text("buckets")
    response = urllib.request.Request(f"{dashboard.url}/api/series?bucket=0")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(response, timeout=10)
    assert refused.value.code == 400
    assert b"bucket" in refused.value.read()
    assert page.problems == []


def test_fresh_store_fits_the_window_titles_name_the_statistic_and_double_click_zooms_out(
        finished_cluster, page):
    dashboard, began, ended = finished_cluster
    # The store holds under a minute of tasks: the page opens on the few minutes since them,
    # not on 24 hours with all of it in the last pixel.
    page.goto(dashboard.url + "/explore")
    expect(page.locator("#explore-range input[value='custom']")).to_be_checked(timeout=20000)
    expect(page.locator("#explore-info")).to_contain_text("1 s buckets", timeout=20000)
    start = datetime.fromisoformat(figure(page)["range"][0]).replace(tzinfo=timezone.utc)
    assert began - 180 < start.timestamp() <= began
    assert page.locator("#explore-chart .gtitle").text_content() == "Tasks succeeded per 1 s"

    page.goto(dashboard.url + "/explore?metric=runtime&range=1h")
    expect(page.locator("#explore-chart .gtitle")).to_have_text("Runtime p50, p95, p99, max (s)",
                                                                timeout=20000)
    page.goto(dashboard.url + "/explore?metric=runtime&group=name&stat=p99&range=1h")
    expect(page.locator("#explore-chart .gtitle")).to_have_text("Runtime p99 (s) by task name",
                                                                timeout=20000)
    expect(page.locator("#explore-info")).to_contain_text("10 s buckets", timeout=20000)

    # Zoom onto the run, then double-click on its line: back to the hour, grid not opened.
    # Plotly draws after the figure arrives: drag only once every line is on the chart.
    page.wait_for_function("""() => {
        const plot = document.querySelector('#explore-chart .js-plotly-plot');
        return !!plot && !!plot._fullLayout && !!plot.querySelector('.nsewdrag')
            && plot.data.length > 0
            && plot.querySelectorAll('.scatterlayer .trace').length >= plot.data.length;
    }""")
    left, right = (pixel(page, epoch) for epoch in (began - 60, ended + 60))
    page.mouse.move(left["x"], left["y"])
    page.mouse.down()
    page.mouse.move(right["x"], right["y"], steps=8)
    page.mouse.up()
    expect(page.locator("#explore-range input[value='custom']")).to_be_checked(timeout=10000)
    expect(page.locator("#explore-info")).not_to_contain_text("10 s buckets", timeout=20000)
    peak = page.evaluate("""() => {
        const plot = document.querySelector('#explore-chart .js-plotly-plot');
        const trace = plot.data.find(t => t.name === 'cluster.sleep');
        const best = trace.y.indexOf(Math.max(...trace.y.map(y => y || 0)));
        return {epoch: trace.customdata[best][0], value: trace.y[best]};
    }""")
    point = pixel(page, peak["epoch"], peak["value"])
    page.mouse.move(point["x"], point["y"], steps=5)
    expect(page.locator("#explore-chart .hoverlayer .hovertext")).to_contain_text("cluster.sleep")
    page.mouse.dblclick(point["x"], point["y"])
    expect(page.locator("#explore-range input[value='1h']")).to_be_checked(timeout=10000)
    expect(page.locator("#explore-info")).to_contain_text("10 s buckets", timeout=20000)
    expect(page).to_have_url(re.compile(r"/explore\?.*range=1h"), timeout=10000)
    page.wait_for_timeout(1500)  # a click would have opened the grid by now
    assert "/explore?" in page.url
    assert page.problems == []
