"""Accounts, tokens, roles and the guard's pure parts, without a server."""
import subprocess
import sys

import flask
import pytest

from celery_scope import insecure_banner
from celery_scope.auth.credentials import (
    CredentialError,
    TokenStore,
    check_password,
    hash_password,
    load_accounts,
    parse_basic_auth,
    parse_users_file,
)
from celery_scope.auth.gate import same_origin, secret_key
from celery_scope.auth.roles import Forbidden, GuardedControl, check_action
from celery_scope.auth.sign_in import login_message
from celery_scope.auth.sign_in import safe_next as _safe_next
from celery_scope.auth.throttle import LoginThrottle
from celery_scope.auth.users import OPEN_USER, User
from celery_scope.config import ConfigError, resolve
from celery_scope.store.history import HistoryStore


def test_users_file_lines_and_their_errors():
    digest = hash_password("s3cret-pass")
    accounts = parse_users_file(f"# team\n\nann:viewer:{digest}\nbo:admin:{digest}\n")
    assert {name: account.role for name, account in accounts.items()} == {"ann": "viewer",
                                                                         "bo": "admin"}
    assert check_password(accounts["ann"], "s3cret-pass")
    assert not check_password(accounts["ann"], "wrong")
    with pytest.raises(CredentialError, match="line 1: role 'root'"):
        parse_users_file(f"ann:root:{digest}")
    with pytest.raises(CredentialError, match="line 2: expected name:role:password-hash"):
        parse_users_file(f"ann:viewer:{digest}\nbroken")
    with pytest.raises(CredentialError, match="must be a hash"):
        parse_users_file("ann:viewer:plaintext")


def test_flower_basic_auth_users_are_admins():
    accounts = parse_basic_auth("ann:pw1,bo:pw2")
    assert [account.role for account in accounts.values()] == ["admin", "admin"]
    assert check_password(accounts["bo"], "pw2") and not check_password(accounts["bo"], "pw1")
    with pytest.raises(CredentialError):
        parse_basic_auth("justaname")


def test_missing_users_file_is_a_clear_error(tmp_path):
    with pytest.raises(CredentialError, match="cannot read the users file"):
        load_accounts(str(tmp_path / "nope"), None)


def test_tokens_are_stored_hashed_and_refused_after_revoke(store_url):
    store = HistoryStore(store_url)
    tokens = TokenStore(store.engine)
    token = tokens.create("operator", "deploy bot")
    account = tokens.verify(token)
    assert account.role == "operator" and account.name.startswith("token:")
    # The secret is url-safe base64 and may itself hold "_": split at the first one only.
    token_id, _, secret = token.removeprefix("cst_").partition("_")
    assert len(secret) >= 40
    with store.engine.connect() as connection:
        stored = connection.exec_driver_sql("SELECT * FROM api_tokens").all()
    assert secret not in repr(stored)
    assert tokens.verify(token[:-1] + ("x" if token[-1] != "x" else "y")) is None
    assert tokens.revoke(token_id) and not tokens.revoke(token_id)
    assert tokens.verify(token) is None
    assert tokens.list()[0]["revoked"] is not None
    with pytest.raises(CredentialError):
        tokens.create("root")
    store.close()


def test_roles_gate_each_control_action():
    app = flask.Flask(__name__)

    class Control:
        def worker_pool_grow(self, worker, n=1):
            return f"grew {worker}"

        def worker_shutdown(self, worker):
            return "down"

        def get_active_queue_names(self):
            return ["celery"]

    guarded = GuardedControl(Control())
    for role, grow, shutdown in (("viewer", False, False), ("operator", True, False),
                                 ("admin", True, True)):
        with app.test_request_context():
            flask.g.scope_user = User("u", role, "session")
            assert guarded.get_active_queue_names() == ["celery"]  # reading is not acting
            for action, allowed in (("worker_pool_grow", grow), ("worker_shutdown", shutdown)):
                if allowed:
                    assert getattr(guarded, action)("w")
                else:
                    with pytest.raises(Forbidden, match=f"your role \\({role}\\)"):
                        getattr(guarded, action)("w")
    check_action("worker_shutdown")  # outside a request: the command line acts for the operator
    assert OPEN_USER.role == "admin"


def test_login_throttle_per_user_and_address():
    throttle = LoginThrottle()
    for attempt in range(5):
        assert throttle.wait_seconds("ann", "1.2.3.4", 100.0 + attempt) == 0
        throttle.failed("ann", "1.2.3.4", 100.0 + attempt)
    assert throttle.wait_seconds("ann", "1.2.3.4", 110.0) == pytest.approx(290.0)
    assert throttle.wait_seconds("ann", "5.6.7.8", 110.0) == 0  # another address
    assert throttle.wait_seconds("bo", "1.2.3.4", 110.0) == 0  # another user
    assert throttle.wait_seconds("ann", "1.2.3.4", 401.0) == 0  # the window passed


def test_same_origin_and_safe_redirects():
    app = flask.Flask(__name__)
    for headers, expected in (({"Origin": "http://scope.local:5555"}, True),
                              ({"Referer": "http://scope.local:5555/tasks"}, True),
                              ({"Origin": "http://evil.example"}, False),
                              ({}, False)):
        with app.test_request_context("/api/x", method="POST", base_url="http://scope.local:5555",
                                      headers=headers):
            assert same_origin(flask.request) is expected
    assert _safe_next("/tasks?state=FAILURE", "/") == "/tasks?state=FAILURE"
    assert _safe_next("https://evil.example/", "/") == "/"
    assert _safe_next("//evil.example/", "/") == "/"
    assert _safe_next("/other/", "/scope/") == "/scope/"


def test_login_messages_are_fixed_texts():
    assert login_message("invalid", None) == "Wrong user name or password."
    assert login_message("throttled", "42") == "Too many failed attempts: wait 42 s and try again."
    assert login_message("<script>", None) == ""
    assert login_message("throttled", "<b>") == "Too many failed attempts: wait 0 s and try again."


def test_secret_key_is_made_once_and_private(tmp_path):
    settings = resolve({"cache_dir": str(tmp_path / "cache"), "broker": "redis://x"}, environ={})
    first = secret_key(settings)
    assert len(first) >= 40 and secret_key(settings) == first
    assert (tmp_path / "cache" / "secret_key").stat().st_mode & 0o777 == 0o600
    configured = resolve({"secret_key": "k" * 40, "broker": "redis://x"}, environ={})
    assert secret_key(configured) == "k" * 40


def test_beyond_loopback_needs_users_or_an_explicit_insecure_flag(tmp_path):
    with pytest.raises(ConfigError, match="refusing to listen on 0.0.0.0 without authentication"):
        resolve({"address": "0.0.0.0"}, environ={})
    users = tmp_path / "users"
    users.write_text(f"ann:admin:{hash_password('long-password')}\n")
    assert resolve({"address": "0.0.0.0", "users_file": str(users)}, environ={}).auth_configured
    insecure = resolve({"address": "0.0.0.0", "insecure_no_auth": True}, environ={})
    assert "without authentication" in insecure_banner(insecure)[0].children
    assert insecure_banner(resolve({}, environ={})) == []


def test_starting_on_all_interfaces_without_auth_exits_2():
    finished = subprocess.run([sys.executable, "-m", "celery_scope", "--address", "0.0.0.0"],
                              check=False, capture_output=True, text=True, timeout=60)
    assert finished.returncode == 2
    assert "refusing to listen on 0.0.0.0 without authentication" in finished.stderr
