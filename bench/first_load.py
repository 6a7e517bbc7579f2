"""What a first visit costs over the wire: the bytes headless chromium receives opening a page
of a running celery-scope with an empty cache, then again with the cache warm, and the
largest responses with their encoding and Cache-Control.

Run:  python bench/first_load.py http://127.0.0.1:5555/ [--path /explore]
(start one with `celery-scope --port 5555` first; /usr/bin/chromium drives the visit)
"""
from __future__ import annotations

import argparse

from playwright.sync_api import sync_playwright

CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def visit(page, url: str) -> list[dict]:
    """Every response of one visit: its URL, bytes on the wire (headers included) and its
    decoded size, as chromium's network layer counted them."""
    session = page.context.new_cdp_session(page)
    session.send("Network.enable")
    responses: dict[str, dict] = {}

    def received(event):
        response = event["response"]
        responses[event["requestId"]] = {
            "url": response["url"], "status": response["status"],
            "encoding": response["headers"].get("content-encoding", response["headers"].get(
                "Content-Encoding", "")),
            "cache": response["headers"].get("cache-control", response["headers"].get(
                "Cache-Control", "")),
            "cached": response.get("fromDiskCache") or response.get("fromMemoryCache")}

    def finished(event):
        if event["requestId"] in responses:
            responses[event["requestId"]]["wire"] = event["encodedDataLength"]

    def data(event):
        if event["requestId"] in responses:
            entry = responses[event["requestId"]]
            entry["decoded"] = entry.get("decoded", 0) + event["dataLength"]

    session.on("Network.responseReceived", received)
    session.on("Network.loadingFinished", finished)
    session.on("Network.dataReceived", data)
    page.goto(url, wait_until="networkidle")
    page.wait_for_selector("._dash-loading", state="detached", timeout=30000)
    page.wait_for_timeout(1500)
    session.detach()
    return list(responses.values())


def report(label: str, responses: list[dict]) -> None:
    wire = sum(entry.get("wire", 0) for entry in responses)
    decoded = sum(entry.get("decoded", 0) for entry in responses)
    print(f"{label}: {len(responses)} responses, {wire / 1e6:.2f} MB over the wire, "
          f"{decoded / 1e6:.2f} MB decoded")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--path", default="/")
    options = parser.parse_args()
    url = options.url.rstrip("/") + options.path
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                             args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
        first = visit(page, url)
        report("first visit (empty cache)", first)
        for entry in sorted(first, key=lambda e: -e.get("decoded", 0))[:6]:
            wire, decoded = entry.get("wire", 0) / 1e3, entry.get("decoded", 0) / 1e3
            print(f"  {wire:9.1f} kB wire {decoded:9.1f} kB  {entry['encoding'] or 'identity':8}"
                  f" {entry['cache'] or '-':28} "
                  f"{entry['url'].split('?')[0][-60:]}")
        report("second visit (warm cache)", visit(page, url))
        browser.close()


if __name__ == "__main__":
    main()
