"""Signing in through OpenID Connect, end to end, against a local provider on loopback:
a real celery-scope process, real HTTP, and the headless browser."""
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from playwright.sync_api import expect

from .helpers import RedisServer, Scope, wait_until
from .oidc_provider import CLIENT_ID, CLIENT_SECRET, OidcProvider

pytestmark = pytest.mark.integration

ALLOWED = ".*@example.com"
ROLES = "otto@example.com=operator|.*@example.com=viewer"
ANN = {"sub": "1", "email": "ann@example.com", "email_verified": True}
OTTO = {"sub": "2", "email": "otto@example.com", "email_verified": True}


@pytest.fixture(scope="module")
def provider():
    server = OidcProvider().start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def fresh_provider(provider):
    provider.user, provider.tamper = dict(ANN), {}


@pytest.fixture(scope="module")
def redis(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


def oauth_options(provider, *extra):
    return ("--oauth2-provider", "oidc", "--oidc-discovery-url", provider.discovery_url,
            "--oauth2-key", CLIENT_ID, "--oauth2-secret", CLIENT_SECRET, "--auth", ALLOWED,
            "--oauth2-roles", ROLES, *extra)


@pytest.fixture(scope="module")
def started(tmp_path_factory, redis, provider):
    """celery-scope processes with OAuth, by directory name; all stopped at the end."""
    instances = []

    def start(name, *extra):
        directory = tmp_path_factory.mktemp(name)
        instance = Scope(directory, redis.url, *oauth_options(provider, *extra)).start()
        instances.append(instance)
        return instance

    yield start
    for instance in instances:
        instance.stop()


@pytest.fixture(scope="module")
def app(started):
    return started("oauth")


@pytest.fixture(scope="module")
def prefixed(started):
    return started("prefixed", "--url-prefix", "/scope", "--trusted-proxies", "1")


def sign_in(app_url, prefix="", change=None, headers=None):
    """Walk the redirects as a browser would: (session, the callback's answer)."""
    session = requests.Session()
    start = session.get(f"{app_url}{prefix}/auth/oauth/start", params={"next": f"{prefix}/tasks"},
                        headers=headers, allow_redirects=False, timeout=15)
    assert start.status_code == 302, start.text
    approved = session.get(start.headers["Location"], allow_redirects=False, timeout=15)
    callback = approved.headers["Location"]
    callback = change(callback) if change else callback
    return session, session.get(callback, allow_redirects=False, timeout=15)


def test_provider_signs_in_with_the_mapped_role(app, provider):
    provider.user = dict(OTTO)
    session, back = sign_in(app.url)
    assert back.status_code == 302 and back.headers["Location"] == "/tasks"
    asked = provider.authorize_requests[-1]
    assert asked["redirect_uri"] == f"{app.url}/auth/oauth/callback"
    assert asked["nonce"] and asked["code_challenge_method"] == "S256"
    assert session.get(f"{app.url}/api/workers", timeout=15).status_code == 200
    grow = f"{app.url}/api/worker/pool/grow/nobody"
    assert session.post(grow, headers={"Origin": app.url}, timeout=15).status_code == 404
    assert session.post(grow, headers={"Origin": "http://evil.example"},
                        timeout=15).status_code == 403  # the Origin rule holds for OAuth too
    session.post(f"{app.url}/auth/logout", headers={"Origin": app.url}, timeout=15)
    assert session.get(f"{app.url}/api/workers", timeout=15).status_code == 401


def test_a_viewer_session_may_not_act(app):
    session, back = sign_in(app.url)
    assert back.status_code == 302
    answer = session.post(f"{app.url}/api/worker/pool/grow/nobody", headers={"Origin": app.url},
                          timeout=15)
    assert answer.status_code == 403 and "viewer" in answer.json()["error"]


def _replace_state(url):
    return re.sub(r"state=[^&]+", "state=forged", url)


@pytest.mark.parametrize("tamper, change, error", [
    pytest.param({}, _replace_state, "oauth_failed", id="forged-state"),
    pytest.param({"state": "someone-elses"}, None, "oauth_failed", id="provider-state"),
    pytest.param({"nonce": "replayed"}, None, "oauth_failed", id="wrong-nonce"),
    pytest.param({"issuer": "http://127.0.0.1:1"}, None, "oauth_failed", id="wrong-issuer"),
    pytest.param({"key": "other"}, None, "oauth_failed", id="bad-signature"),
])
def test_a_tampered_answer_is_refused(app, provider, tamper, change, error):
    provider.tamper = tamper
    session, back = sign_in(app.url, change=change)
    assert back.status_code == 302
    query = parse_qs(urlsplit(back.headers["Location"]).query)
    assert query == {"error": [error], "next": ["/tasks"]}
    assert session.get(f"{app.url}/api/workers", timeout=15).status_code == 401


def test_signing_out_is_not_undone_by_a_request_in_flight(app):
    """A page's refresh call that left with the old cookie is refused (its session ended on
    the server) and must not send the cookie back."""
    session, _ = sign_in(app.url)
    old_cookie = session.cookies.get("celery_scope_session")
    session.post(f"{app.url}/auth/logout", headers={"Origin": app.url}, timeout=15)
    late = requests.get(f"{app.url}/api/workers", cookies={"celery_scope_session": old_cookie},
                        timeout=15)
    assert late.status_code == 401 and "Set-Cookie" not in late.headers
    assert session.get(f"{app.url}/api/workers", timeout=15).status_code == 401


def test_a_callback_works_once(app):
    session, _ = sign_in(app.url)
    session.post(f"{app.url}/auth/logout", headers={"Origin": app.url}, timeout=15)
    replay = session.get(f"{app.url}/auth/oauth/callback?code=x&state=y", allow_redirects=False,
                         timeout=15)
    assert "error=oauth_failed" in replay.headers["Location"]


@pytest.mark.parametrize("user, error", [
    pytest.param({**ANN, "email": "eve@evil.example"}, "oauth_denied", id="not-listed"),
    pytest.param({**ANN, "email_verified": False}, "oauth_unverified", id="unverified"),
])
def test_who_is_not_let_in(app, provider, user, error):
    provider.user = user
    session, back = sign_in(app.url)
    assert f"error={error}" in back.headers["Location"]
    assert session.get(f"{app.url}/api/workers", timeout=15).status_code == 401


def test_a_session_holds_in_another_process(started, provider):
    """Two processes sharing the session key and the store (as web replicas do) accept one
    sign-in, and signing out of one ends it in the other within a second or so."""
    first = started("first", "--secret-key", "shared-test-key")
    second = started("second", "--secret-key", "shared-test-key", "--store", first.store)
    provider.user = dict(OTTO)
    session, _ = sign_in(first.url)
    answer = session.post(f"{second.url}/api/worker/pool/grow/nobody",
                          headers={"Origin": second.url}, timeout=15)
    assert answer.status_code == 404  # through the gate as an operator: the worker is unknown
    copied = {"celery_scope_session": session.cookies["celery_scope_session"]}
    session.post(f"{first.url}/auth/logout", headers={"Origin": first.url}, timeout=15)
    wait_until(lambda: requests.get(f"{second.url}/api/workers", cookies=copied,
                                    timeout=15).status_code == 401, 3,
               "the other process to refuse the signed-out session")


def test_redirect_uri_behind_a_prefix_and_a_proxy(prefixed, provider):
    proxied = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "scope.example"}
    start = requests.get(f"{prefixed.url}/scope/auth/oauth/start", headers=proxied,
                         allow_redirects=False, timeout=15)
    asked = parse_qs(urlsplit(start.headers["Location"]).query)
    assert asked["redirect_uri"] == ["https://scope.example/scope/auth/oauth/callback"]
    session, back = sign_in(prefixed.url, prefix="/scope")
    assert back.headers["Location"] == "/scope/tasks"
    assert session.get(f"{prefixed.url}/scope/api/workers", timeout=15).status_code == 200


def browser_sign_in(page, base, provider_name="OpenID Connect"):
    page.goto(base + "/tasks?state=FAILURE")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_role("link", name=f"Sign in with {provider_name}").click()
    expect(page).to_have_url(re.compile(r"/tasks\?state=FAILURE$"))


@pytest.mark.browser
def test_signing_in_with_the_provider_in_the_browser(app, provider, page):
    expect_no_password = page.locator("#login-password")
    page.goto(app.url + "/login")
    expect(expect_no_password).to_have_count(0)  # no local users: the provider only
    provider.user = dict(OTTO)
    browser_sign_in(page, app.url)
    expect(page.locator(".account")).to_have_text("otto@example.com · operator")
    page.goto(app.url + "/")
    expect(page.get_by_role("button", name="Shut down")).to_be_enabled()  # an operator acts
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    page.goto(app.url + "/explore")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fexplore"))
    assert page.problems == []


@pytest.mark.browser
def test_a_viewer_from_the_provider_sees_buttons_disabled(app, page):
    browser_sign_in(page, app.url)
    expect(page.locator(".account")).to_have_text("ann@example.com · viewer")
    page.goto(app.url + "/")
    expect(page.get_by_role("button", name="Shut down")).to_be_disabled()
    answer = page.request.post(f"{app.url}/api/worker/pool/grow/nobody",
                               headers={"Origin": app.url})
    assert answer.status == 403
    assert page.problems == []


@pytest.mark.browser
def test_an_address_not_listed_is_refused_in_the_browser(app, provider, page):
    provider.user = {**ANN, "email": "eve@evil.example"}
    page.goto(app.url + "/tasks")
    page.get_by_role("link", name="Sign in with OpenID Connect").click()
    expect(page.locator("#login-problem")).to_have_text(
        "This account is not allowed to use celery-scope.")
    expect(page).to_have_url(re.compile(r"/login\?error=oauth_denied&next=%2Ftasks$"))
    expect(page.locator(".account")).to_have_count(0)
    assert page.problems == []


@pytest.mark.browser
def test_signing_in_with_the_provider_under_a_prefix(prefixed, page):
    browser_sign_in(page, prefixed.url + "/scope")
    expect(page).to_have_url(re.compile(r"/scope/tasks\?state=FAILURE$"))
    expect(page.locator(".account")).to_have_text("ann@example.com · viewer")
    assert page.problems == []
