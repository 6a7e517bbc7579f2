"""Take the README's screenshots: every page of a running celery-scope, light and dark,
at 1400×900, with Debian's chromium.

Run:  python docs/screenshots.py http://127.0.0.1:5555   (the demo, after a minute or so)
"""
from __future__ import annotations

import json
import sys
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

HERE = Path(__file__).parent
# (file name, path, what to wait for)
PAGES = [
    ("dashboard", "/", "#dashboard-workers .ag-row"),
    ("tasks", "/tasks", "#tasks-grid .ag-row"),
    ("task", "/tasks/{task_id}", ".page-header .title"),
    ("worker", "/workers/{worker}", ".page-header .title"),
    ("explore", "/explore", "#explore-chart .js-plotly-plot"),
    ("broker", "/broker", ".page-header .title"),
    ("issues", "/issues", ".page-header .title"),
    ("alerts", "/alerts", ".page-header .title"),
    ("beat", "/beat", ".page-header .title"),
    ("audit", "/audit", ".page-header .title"),
    ("api-docs", "/api/docs", ".swagger-ui"),
    ("not-found", "/no-such-page", ".empty-state"),
]


def first(url: str, key: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        data = json.loads(response.read())
    return next(iter(data)) if isinstance(data, dict) else data[0][key]


def main(base: str) -> None:
    values = {"task_id": first(f"{base}/api/tasks?limit=20&state=FAILURE", "uuid"),
              "worker": first(f"{base}/api/workers", "hostname")}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                             args=["--headless=new", "--no-sandbox"])
        for scheme in ("light", "dark"):
            context = browser.new_context(viewport={"width": 1400, "height": 900},
                                          color_scheme=scheme)
            page = context.new_page()
            for name, path, ready in PAGES:
                response = page.goto(base + path.format(**values))
                if response is None or (response.status == 404 and name != "not-found"):
                    continue  # a page this version does not have
                page.wait_for_selector(ready, timeout=20000)
                page.wait_for_timeout(2500)
                page.screenshot(path=str(HERE / f"{name}-{scheme}.png"))
            context.close()
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:5555")
