"""Every page at 1400×900 and 800×900, light and dark, against a real worker: no grid
header cut short, no horizontal scrollbar at 1400 px, the dark palette applied when the
system prefers it, and no console errors."""
import re

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect, sync_playwright

from celery_scope.store.history import HistoryStore

from .conftest import CHROMIUM_ARGS
from .helpers import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.integration]

# What each page shows once it has drawn (its grid's header, its chart, its title).
PAGES = {
    "/": "#dashboard-workers .ag-row",
    "/tasks": "#tasks-grid .ag-row",
    "/explore": "#explore-chart .js-plotly-plot",
    "/broker": ".page",
    "/issues": ".page-header .title",
    "/audit": ".page-header .title",
    "/quarantine": ".page-header .title",
    "/workers/layout@test": ".page-header .title",
    "/tasks/{task_id}": ".page-header .title",
    "/api/docs": "body",  # not a Dash page: only its console is checked
    "/no-such-page": ".empty-state",
}

CUT_HEADERS = """() => [...document.querySelectorAll('.ag-header-cell-text')]
    .filter(text => text.offsetParent !== null && text.scrollWidth > text.clientWidth + 1)
    .map(text => text.textContent)"""
OVERFLOW = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
# The relative luminance of the body's background: near 0 is dark, near 1 light.
BACKGROUND = """() => {
    const [r, g, b] = getComputedStyle(document.body).backgroundColor.match(/\\d+/g).map(Number);
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
}"""


@pytest.fixture
def running_cluster(redis_server, workers, scope, cluster_app):
    workers("layout@test")
    dashboard = scope(redis_server.url)
    store = HistoryStore(dashboard.store)
    ids = [cluster_app.send_task("cluster.add", args=(n, n)).id for n in range(5)]
    ids.append(cluster_app.send_task("cluster.fail", args=("layout",)).id)
    wait_until(lambda: all((store.task(i) or {}).get("state") in ("SUCCESS", "FAILURE")
                           for i in ids), 60, "tasks finished")
    store.close()
    yield dashboard, ids[-1]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_page_fits_and_follows_the_colour_scheme(running_cluster, scheme):
    dashboard, task_id = running_cluster
    found = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                             args=CHROMIUM_ARGS)
        for width in (1400, 800):
            context = browser.new_context(viewport={"width": width, "height": 900},
                                          color_scheme=scheme)
            tab = context.new_page()
            problems: list[str] = []
            tab.on("console", lambda m: m.type == "error" and problems.append(m.text))
            tab.on("pageerror", lambda error: problems.append(str(error)))
            for path, ready in PAGES.items():
                path = path.format(task_id=task_id)
                problems.clear()
                tab.goto(dashboard.url + path)
                where = f"{path} at {width} px ({scheme})"
                try:
                    tab.wait_for_selector(ready, timeout=20000)
                except PlaywrightTimeout:
                    found.append(f"{where}: never showed {ready}")
                    continue
                tab.wait_for_timeout(1500)  # grids size their columns after the first rows
                cut = tab.evaluate(CUT_HEADERS)
                if cut:
                    found.append(f"{where}: headers cut short: {cut}")
                overflow = tab.evaluate(OVERFLOW)
                if width == 1400 and overflow > 0:
                    found.append(f"{where}: scrolls sideways by {overflow} px")
                luminance = tab.evaluate(BACKGROUND)
                if path != "/api/docs" and (scheme == "dark") != (luminance < 0.3):
                    found.append(f"{where}: background luminance {luminance:.2f}")
                # the 404 page's own status is the one expected error
                errors = [text for text in problems
                          if not (path == "/no-such-page" and "404" in text)]
                if errors:
                    found.append(f"{where}: console errors {errors}")
            context.close()
        browser.close()
    assert not found, "\n".join(found)


def test_the_theme_toggle_is_kept_in_the_browser(running_cluster, page):
    dashboard, _ = running_cluster
    page.goto(dashboard.url + "/")
    page.wait_for_selector("#theme-toggle")
    assert page.evaluate(BACKGROUND) > 0.7  # the test browser prefers light
    page.click("#theme-toggle")
    wait_until(lambda: page.evaluate(BACKGROUND) < 0.3, 5, "dark after the toggle")
    page.goto(dashboard.url + "/tasks")
    page.wait_for_selector("#tasks-grid .ag-row")
    assert page.evaluate(BACKGROUND) < 0.3  # kept across pages and reloads
    assert page.evaluate("() => document.documentElement.dataset.theme") == "dark"
    current = page.locator(".nav-link.current")
    assert current.inner_text() == "Tasks"
    live = page.locator("#refresh-updated")
    expect(live).to_have_text(re.compile(r"^Updated \d\d:\d\d:\d\d$"), timeout=10000)
    page.get_by_role("button", name="Pause").click()
    expect(live).to_have_text("Paused")
    assert page.problems == []
