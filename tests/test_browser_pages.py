"""What any page is served with, against a real celery-scope: an unknown path is a 404 with
the styled not-found page (in chromium too), an unknown API path a JSON 404, the API
reference renders from the app alone (no request leaves it), responses are compressed and
versioned files cached for a year while the rest is not."""
import gzip
import json
import re
import urllib.error
import urllib.request
from urllib.parse import urlparse

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.integration]

PLOTLY = "/_dash-component-suites/plotly/package_data/plotly.min.js"
YEAR = "max-age=31536000"


@pytest.fixture
def dashboard(redis_server, scope):
    return scope(redis_server.url)


def fetch(url: str, method: str = "GET", **headers):
    """(status, headers, body) of one request, errors included."""
    request = urllib.request.Request(url, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def test_an_unknown_path_is_a_404_drawn_as_a_page_with_the_ways_back(dashboard, page):
    status, headers, body = fetch(dashboard.url + "/no/such-page")
    assert status == 404 and headers.get_content_type() == "text/html"
    assert b"_dash-config" in body  # the shell, which draws the not-found page
    for known in ("/", "/tasks", "/explore", "/broker", "/workers/w%40h", "/tasks/some-id"):
        assert fetch(dashboard.url + known)[0] == 200, known

    response = page.goto(dashboard.url + "/no/such-page")
    assert response.status == 404
    expect(page.locator("#not-found-path")).to_contain_text("No page at /no/such-page",
                                                            timeout=15000)
    expect(page.locator("h1")).to_have_text("Page not found")
    expect(page.locator(".navbar .nav-link", has_text="Explore")).to_be_visible()
    page.locator("#not-found-path").get_by_role("link", name="Tasks").click()
    expect(page).to_have_url(re.compile(r"/tasks$"))
    # chromium reports the page's own 404 status as a failed load, nothing else went wrong
    assert [problem for problem in page.problems if "status of 404" not in problem] == []


def test_unknown_api_paths_answer_json(dashboard):
    status, headers, body = fetch(dashboard.url + "/api/nope")
    assert (status, headers.get_content_type()) == (404, "application/json")
    assert json.loads(body) == {"error": "no such API path: /api/nope"}
    assert fetch(dashboard.url + "/api/nope", method="POST")[0] == 404
    status, headers, body = fetch(dashboard.url + "/api/worker/shutdown/w%40h")  # POST only
    assert status == 405 and headers["Allow"] == "POST" and "error" in json.loads(body)
    assert fetch(dashboard.url + "/api/workers")[0] == 200


def test_the_api_reference_renders_from_the_app_alone(dashboard, page):
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    response = page.goto(dashboard.url + "/")
    page.get_by_role("link", name="API").click()
    expect(page).to_have_url(re.compile(r"/api/docs$"))
    expect(page.locator(".opblock-summary-path", has_text=re.compile(r"^/api/workers$"))
           ).to_be_visible(timeout=20000)
    expect(page.locator(".opblock-summary-path", has_text="/api/task/info/")).to_be_visible()
    assert response.status == 200
    hosts = {urlparse(url).netloc for url in requested if not url.startswith("data:")}
    assert hosts == {urlparse(dashboard.url).netloc}, "a request left the app"
    assert page.problems == []


def test_responses_are_compressed_and_versioned_files_cached_for_a_year(dashboard):
    status, plain_headers, plain = fetch(dashboard.url + PLOTLY)
    assert status == 200 and "Content-Encoding" not in plain_headers
    status, headers, packed = fetch(dashboard.url + PLOTLY, **{"Accept-Encoding": "gzip"})
    assert headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in headers["Vary"]
    assert gzip.decompress(packed) == plain
    assert len(packed) < 0.35 * len(plain)  # 4.8 MB: about 30 % of it over the wire
    status, headers, brotli = fetch(dashboard.url + PLOTLY, **{"Accept-Encoding": "br"})
    assert headers["Content-Encoding"] == "br" and len(brotli) < len(packed)

    index = fetch(dashboard.url + "/", **{"Accept-Encoding": "gzip"})
    assert index[1]["Content-Encoding"] == "gzip"
    html = gzip.decompress(index[2]).decode()
    renderer = re.search(r'src="([^"]*dash_renderer[^"]*\.js)"', html).group(1)
    stylesheet = re.search(r'href="(/assets/style\.css\?m=[^"]+)"', html).group(1)
    for versioned in (renderer, stylesheet):
        status, headers, _ = fetch(dashboard.url + versioned, **{"Accept-Encoding": "gzip"})
        assert status == 200 and YEAR in headers["Cache-Control"], versioned
        assert headers["Content-Encoding"] == "gzip", versioned
    # what carries no version is never kept for long
    for unversioned in ("/", "/assets/style.css", PLOTLY, "/api/workers", "/_dash-layout"):
        cache = fetch(dashboard.url + unversioned)[1].get("Cache-Control") or ""
        assert "max-age" not in cache, unversioned
