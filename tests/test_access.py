"""Who may reach what, on a real celery-scope with users configured, over real HTTP.

The matrix walks every Flask URL rule and every Dash page, so a new route or page cannot be
left out: one that the classification below does not know fails the test."""
import base64
import http.cookiejar
import json
import re
import subprocess
import sys
import urllib.error
import urllib.request
from urllib.parse import urlencode

import dash
import pytest
from playwright.sync_api import expect

from celery_scope import create_app
from celery_scope.auth.credentials import hash_password
from celery_scope.config import resolve

pytestmark = pytest.mark.integration

PASSWORDS = {"ann": "ann-password", "otto": "otto-password", "ada": "ada-password",
             "tess": "tess-password"}
ROLES = {"ann": "viewer", "otto": "operator", "ada": "admin", "tess": "viewer"}
ADMIN_ROUTES = {"api.worker_shutdown", "api.worker_pool_autoscale", "api.task_rate_limit",
                "api.task_timeout", "api.queue_purge", "api.alert_rule_create",
                "api.alert_rule_update", "api.alert_rule_delete", "api.beat_enable",
                "api.beat_disable"}
SHELL = ("/_dash-component-suites/", "/assets/", "/_dash-layout", "/_dash-dependencies",
         "/_favicon.ico", "/_reload-hash")


@pytest.fixture(scope="module")
def users_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("users") / "users"
    path.write_text("".join(f"{name}:{ROLES[name]}:{hash_password(password)}\n"
                            for name, password in PASSWORDS.items()))
    return path


@pytest.fixture
def guarded(redis_server, scope, users_file):
    return scope(redis_server.url, "--users-file", str(users_file))


def call(url, method="GET", user=None, token=None, body=None, headers=None, opener=None):
    """(status, body, headers) of one request; redirects are not followed."""
    request = urllib.request.Request(url, method=method, data=body, headers=headers or {})
    if user:
        secret = base64.b64encode(f"{user}:{PASSWORDS[user]}".encode()).decode()
        request.add_header("Authorization", f"Basic {secret}")
    if token:
        request.add_header("Authorization", f"Bearer {token}")

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    handlers = [NoRedirect()] + ([opener] if opener else [])
    try:
        with urllib.request.build_opener(*handlers).open(request, timeout=15) as response:
            return response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        return error.code, error.read(), error.headers


def app_routes(tmp_path, users_file):
    """Every URL rule and method of the app, and every page path, built in-process."""
    settings = resolve({"broker": "redis://127.0.0.1:1/0", "store": f"sqlite:///{tmp_path}/h.db",
                        "cache_dir": str(tmp_path / "cache"), "users_file": str(users_file)},
                       environ={})
    app = create_app(settings)
    rules = [(rule, method) for rule in app.server.url_map.iter_rules()
             for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    pages = [page["path_template"] or page["path"] for page in dash.page_registry.values()]
    return rules, pages


def concrete(rule) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>",
                  lambda match: {"filename": "style.css"}.get(match.group(1), "nobody"),
                  rule.rule)


def kind_of(rule, method) -> str:
    path = rule.rule
    if path in ("/healthcheck", "/metrics"):
        return "open"
    if path == "/auth/login":
        return "sign-in"
    if path == "/auth/logout":
        return "sign-out"
    if path == "/_dash-update-component":
        return "callback"
    if path.startswith(SHELL):
        return "shell"
    if path.startswith("/api/"):
        if method == "GET":
            return "read"
        return "admin" if rule.endpoint in ADMIN_ROUTES else "act"
    if method == "GET" and rule.endpoint in ("/", "/<path:path>", "static"):
        return "page"  # Flask's own /static serves nothing here, and only to users
    raise AssertionError(f"unclassified route {method} {path} ({rule.endpoint}): decide who "
                         "may reach it and add it to this test")


# what each identity gets: "in" means through the gate (any answer but 401/403/302)
EXPECTED = {
    "open": {None: "in", "ann": "in", "otto": "in", "ada": "in"},
    "shell": {None: "in", "ann": "in", "otto": "in", "ada": "in"},
    "read": {None: 401, "ann": "in", "otto": "in", "ada": "in"},
    "act": {None: 401, "ann": 403, "otto": "in", "ada": "in"},
    "admin": {None: 401, "ann": 403, "otto": 403, "ada": "in"},
    "page": {None: 302, "ann": "in", "otto": "in", "ada": "in"},
}


def test_access_matrix_has_no_unexpected_allows(guarded, tmp_path, users_file):
    rules, pages = app_routes(tmp_path, users_file)
    checked = 0
    for rule, method in rules:
        kind = kind_of(rule, method)
        if kind not in EXPECTED:
            continue  # callbacks, sign-in and sign-out have their own tests below
        url = guarded.url + concrete(rule)
        for user, expected in EXPECTED[kind].items():
            body = b"{}" if method == "POST" else None
            status, _, _ = call(url, method, user=user, body=body,
                                headers={"Content-Type": "application/json"})
            if expected == "in":
                assert status not in (302, 401, 403), (method, url, user, status)
            else:
                assert status == expected, (method, url, user, status)
            checked += 1
    for template in pages:
        url = guarded.url + re.sub(r"<[a-z_]+>", "nobody", template)
        public = template == "/login"
        for user in (None, "ann"):
            status, _, headers = call(url, user=user)
            if user is None and not public:
                assert status == 302 and "/login?next=" in headers["Location"], (url, status)
            else:  # the not-found page is itself a 404, drawn for those who may see pages
                assert status == (404 if template == "/404" else 200), (url, user, status)
            checked += 1
    assert checked > 150


def callback_body(app_url, trigger, values):
    """The body Dash's renderer posts when `trigger` (a button id) is clicked."""
    dependencies = json.loads(call(f"{app_url}/_dash-dependencies", user="ann")[1])
    dependency = next(dep for dep in dependencies
                      if any(entry["id"] == trigger for entry in dep["inputs"]))

    def ids(entries):
        return [dict(entry, value=values.get(entry["id"])) for entry in entries]
    outputs = [{"id": part.split(".")[0], "property": part.split(".")[1]}
               for part in dependency["output"].strip(".").split("...")]
    return json.dumps({"output": dependency["output"],
                       "outputs": outputs if dependency["output"].startswith("..") else outputs[0],
                       "inputs": ids(dependency["inputs"]), "state": ids(dependency["state"]),
                       "changedPropIds": [f"{trigger}.n_clicks"]}).encode()


def test_a_viewer_calling_a_control_callback_directly_is_refused(guarded):
    body = callback_body(guarded.url, "dashboard-restart", {
        "dashboard-restart": 1, "dashboard-workers": [{"hostname": "w1@host"}]})
    headers = {"Content-Type": "application/json", "Origin": guarded.url}
    status, answer, _ = call(f"{guarded.url}/_dash-update-component", "POST", user="ann",
                             body=body, headers=headers)
    assert status == 200
    assert "your role (viewer) may not worker pool restart" in answer.decode()
    status, answer, _ = call(f"{guarded.url}/_dash-update-component", "POST", body=body,
                             headers=headers)
    assert status == 204 and answer == b""  # before signing in: nothing runs


def sign_in(app_url, user, origin=None):
    jar = http.cookiejar.CookieJar()
    cookies = urllib.request.HTTPCookieProcessor(jar)
    form = urlencode({"username": user, "password": PASSWORDS[user], "next": "/"}).encode()
    status, _, headers = call(f"{app_url}/auth/login", "POST", body=form, opener=cookies,
                              headers={"Origin": origin or app_url,
                                       "Content-Type": "application/x-www-form-urlencoded"})
    return status, headers, jar, cookies


def test_session_writes_need_our_origin(guarded):
    status, _, jar, cookies = sign_in(guarded.url, "otto", origin="http://evil.example")
    assert status == 403 and not list(jar)  # a cross-site sign-in is refused too
    status, headers, jar, cookies = sign_in(guarded.url, "otto")
    assert status == 302 and headers["Location"] == "/"
    cookie = next(iter(jar))
    assert cookie.name == "celery_scope_session" and cookie.has_nonstandard_attr("HttpOnly")
    url = f"{guarded.url}/api/task/revoke/0000-not-a-task"
    for origin in ({}, {"Origin": "http://evil.example"}):
        status, answer, _ = call(url, "POST", opener=cookies, headers=origin)
        assert status == 403 and b"cross-site" in answer
    status, _, _ = call(url, "POST", opener=cookies, headers={"Origin": guarded.url})
    assert status == 200
    status, _, _ = call(f"{guarded.url}/auth/logout", "POST", opener=cookies,
                        headers={"Origin": guarded.url})
    assert status == 302
    assert call(f"{guarded.url}/api/workers", opener=cookies)[0] == 401


def test_tokens_work_until_revoked(guarded):
    def cli(*args):
        return subprocess.run([sys.executable, "-m", "celery_scope", "token", "--store",
                               guarded.store, *args],
                              check=True, capture_output=True, text=True).stdout.strip()
    token = cli("create", "--role", "viewer", "--label", "grafana")
    assert call(f"{guarded.url}/api/workers", token=token)[0] == 200
    assert call(f"{guarded.url}/api/worker/pool/grow/x", "POST", token=token)[0] == 403
    cli("revoke", token.split("_")[1])
    assert call(f"{guarded.url}/api/workers", token=token)[0] == 401
    assert call(f"{guarded.url}/api/workers", token="cst_bogus_x")[0] == 401


def test_failed_sign_ins_are_throttled(guarded):
    for _ in range(5):
        assert call(f"{guarded.url}/api/workers", headers={
            "Authorization": "Basic " + base64.b64encode(b"tess:wrong").decode()})[0] == 401
    assert call(f"{guarded.url}/api/workers", user="tess")[0] == 401  # right, but too late
    assert call(f"{guarded.url}/api/workers", user="ann")[0] == 200  # others are not held
    status, headers, _, _ = sign_in(guarded.url, "tess")
    assert status == 302 and "error=throttled" in headers["Location"]


def test_pages_carry_security_headers(guarded):
    _, _, headers = call(f"{guarded.url}/login")
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.browser
def test_signing_in_and_out_in_the_browser(guarded, page):
    page.goto(guarded.url + "/tasks?state=FAILURE")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.fill("#login-username", "ann")
    page.fill("#login-password", "not-it")
    page.click("#login-submit")
    expect(page.locator("#login-problem")).to_have_text("Wrong user name or password.")
    page.fill("#login-username", "ann")
    page.fill("#login-password", PASSWORDS["ann"])
    page.click("#login-submit")
    expect(page).to_have_url(re.compile(r"/tasks\?state=FAILURE$"))
    expect(page.locator(".account")).to_have_text("ann · viewer")
    page.goto(guarded.url + "/")
    expect(page.get_by_role("button", name="Shut down")).to_be_disabled()
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    page.goto(guarded.url + "/explore")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fexplore"))
    assert page.problems == []


def test_prefix_and_proxy_headers(redis_server, scope, users_file):
    behind = scope(redis_server.url, "--users-file", str(users_file), "--url-prefix", "/scope",
                   "--trusted-proxies", "1")
    status, _, headers = call(f"{behind.url}/scope/tasks")
    assert status == 302 and headers["Location"] == "/scope/login?next=%2Fscope%2Ftasks"
    form = urlencode({"username": "otto", "password": PASSWORDS["otto"],
                      "next": "/scope/tasks"}).encode()
    proxied = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "scope.example",
               "Content-Type": "application/x-www-form-urlencoded"}
    status, _, headers = call(f"{behind.url}/scope/auth/login", "POST", body=form,
                              headers={**proxied, "Origin": "https://scope.example"})
    assert status == 302 and headers["Location"] == "/scope/tasks"
    assert "HttpOnly" in headers["Set-Cookie"] and "SameSite=Lax" in headers["Set-Cookie"]
    status, _, _ = call(f"{behind.url}/scope/auth/login", "POST", body=form,
                        headers={**proxied, "Origin": behind.url})  # not what the proxy saw
    assert status == 403
    status, _, headers = call(f"{behind.url}/scope/auth/login", "POST",
                              body=form.replace(b"%2Fscope%2Ftasks", b"https%3A%2F%2Fevil.example"),
                              headers={**proxied, "Origin": "https://scope.example"})
    assert headers["Location"] == "/scope/"  # never sent to another site
