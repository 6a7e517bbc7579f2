"""/api/alerts against a real celery-scope: rules from the config file and the page with
their state, the history, mutes (operator) and page rules (admin), refusals as JSON and
every change or refusal in the audit trail."""
import json
import time
import urllib.parse

import pytest

from celery_scope.auth.credentials import hash_password

from .helpers import wait_until
from .test_audit import PASSWORDS, ROLES, call

pytestmark = pytest.mark.integration

CHARGE = "charge failures / card"  # a space and a slash, as a path segment
SILENT = "nightly never ran"
CONFIG = f"""
[[notifiers]]
name = "ops"
kind = "webhook"
url = "http://127.0.0.1:9/hook"

[[alerts]]
name = "{CHARGE}"
kind = "failure_ratio"
task = "shop.tasks.charge"
threshold = 0.2
window = "5m"
min_count = 10
for = "30s"
notify = ["ops"]

[[alerts]]
name = "{SILENT}"
kind = "dead_mans_switch"
task = "shop.tasks.nightly"
threshold = "1s"
labels = {{team = "data"}}
"""


def path(name):
    return urllib.parse.quote(name, safe="")


def send(url, method, user, body=None):
    return call(url, method, user=user,
                body=None if body is None else json.dumps(body).encode())


@pytest.fixture
def dashboard(tmp_path, redis_server, scope):
    users = tmp_path / "users"
    users.write_text("".join(f"{name}:{ROLES[name]}:{hash_password(password)}\n"
                             for name, password in PASSWORDS.items()))
    config = tmp_path / "scope.toml"
    config.write_text(CONFIG)
    return scope(redis_server.url, "--users-file", str(users), "--config", str(config),
                 "--alert-interval", "1")


def audit_rows(url, action):
    status, trail = call(f"{url}/api/audit?action={action}", user="vera")
    assert status == 200
    return [(entry["user"], entry["targets"], entry["outcome"]) for entry in
            reversed(trail["entries"])]


def test_rules_with_their_state_history_and_mutes(dashboard):
    url = dashboard.url
    status, answer = call(f"{url}/api/alerts", user="vera")
    assert status == 200 and answer["delivery_failures"] == []
    rules = {rule["name"]: rule for rule in answer["rules"]}
    assert list(rules) == [CHARGE, SILENT]
    charge = rules[CHARGE]
    assert (charge["kind"], charge["source"], charge["state"], charge["alerts"],
            charge["mute"], charge["notify"]) == ("failure_ratio", "file", "ok", [], None,
                                                  ["ops"])
    assert charge["definition"] == {"name": CHARGE, "kind": "failure_ratio", "threshold": 0.2,
                                    "window": "5m", "min_count": 10, "for": "30s",
                                    "task": "shop.tasks.charge", "cooldown": "5m",
                                    "notify": ["ops"]}

    # the dead man's switch fires: nothing named shop.tasks.nightly ever succeeds
    def silent():
        rule = next(r for r in call(f"{url}/api/alerts", user="vera")[1]["rules"]
                    if r["name"] == SILENT)
        return rule if rule["state"] == "firing" else None

    firing = wait_until(silent, 30, "the dead man's switch firing")
    [alert] = firing["alerts"]
    assert alert["labels"] == {"task": "shop.tasks.nightly", "team": "data"}
    assert alert["state"] == "firing" and alert["threshold"] == 1.0 and alert["value"] >= 1.0
    status, history = call(f"{url}/api/alerts/history?rule={path(SILENT)}", user="vera")
    assert status == 200
    assert [(row["rule"], row["status"], row["labels"]) for row in history["history"]] == \
        [(SILENT, "firing", {"task": "shop.tasks.nightly", "team": "data"})]
    assert call(f"{url}/api/alerts/history?rule={path(CHARGE)}", user="vera")[1] == \
        {"history": []}
    assert len(call(f"{url}/api/alerts/history?since=1h&limit=5", user="vera")[1]
               ["history"]) == 1
    for bad in ("since=yesterday-ish", "limit=0", "limit=ten"):
        status, answer = call(f"{url}/api/alerts/history?{bad}", user="vera")
        assert status == 400 and answer["error"], bad

    mute = f"{url}/api/alerts/{path(CHARGE)}/mute"
    status, answer = send(mute, "POST", "vera", {"minutes": 60})
    assert status == 403 and "error" in answer
    before = time.time()
    status, answer = send(mute, "POST", "olga", {"minutes": 60, "reason": "deploying <b>"})
    assert status == 200, answer
    assert answer["by"] == "olga" and answer["reason"] == "deploying <b>"
    assert before + 3600 <= answer["until"] <= time.time() + 3600
    charge = next(r for r in call(f"{url}/api/alerts", user="vera")[1]["rules"]
                  if r["name"] == CHARGE)
    assert charge["mute"] == {"until": answer["until"], "by": "olga",
                              "reason": "deploying <b>"}
    for body, code in [({"minutes": 0}, 400), ({"minutes": "60"}, 400), ({}, 400),
                       ({"minutes": 60, "reason": 5}, 400), ([60], 400)]:
        status, answer = send(mute, "POST", "olga", body)
        assert status == code and answer["error"], body
    status, answer = send(f"{url}/api/alerts/no%20such%20rule/mute", "POST", "olga",
                          {"minutes": 5})
    assert status == 404 and answer == {"error": "unknown alert rule 'no such rule'"}

    assert send(mute, "DELETE", "vera")[0] == 403
    assert send(mute, "DELETE", "olga") == (200, {"rule": CHARGE, "unmuted": True})
    assert send(mute, "DELETE", "olga") == (200, {"rule": CHARGE, "unmuted": False})
    assert next(r for r in call(f"{url}/api/alerts", user="vera")[1]["rules"]
                if r["name"] == CHARGE)["mute"] is None

    rows = audit_rows(url, "alert_mute")
    assert rows[:2] == [("vera", [CHARGE], "refused"), ("olga", [CHARGE], "ok")]
    assert [outcome for _, _, outcome in rows[2:]] == ["refused"] * 6
    assert rows[-1] == ("olga", ["no such rule"], "refused")
    assert audit_rows(url, "alert_unmute") == [("vera", [CHARGE], "refused"),
                                               ("olga", [CHARGE], "ok"),
                                               ("olga", [CHARGE], "ok")]


def test_page_rules_are_for_admins(dashboard):
    url = dashboard.url
    rules = f"{url}/api/alerts/rules"
    table = {"name": "deep / queue", "kind": "queue_depth", "queue": "celery",
             "threshold": 500, "notify": ["ops"]}
    assert send(rules, "POST", "vera", table)[0] == 403
    status, answer = send(rules, "POST", "olga", table)
    assert status == 403 and "needs admin" in answer["error"]
    status, answer = send(rules, "POST", "adam", table)
    assert status == 200, answer
    assert answer["source"] == "page" and answer["definition"]["threshold"] == 500
    status, answer = send(rules, "POST", "adam", table)
    assert status == 409 and "exists already" in answer["error"]
    status, answer = send(rules, "POST", "adam", {**table, "name": CHARGE})
    assert status == 409 and "defined in the config file" in answer["error"]
    for bad, line in [({**table, "name": "x", "threshold": "many"},
                       "alert 'x': threshold must be a number, got 'many'"),
                      ({**table, "name": "x", "notify": ["pager"]},
                       "alert 'x': notify names an unknown notifier 'pager' (ops)"),
                      ({"kind": "queue_depth"}, "alert #1: name is missing"),
                      ([1, 2], "the body must be a JSON object")]:
        status, answer = send(rules, "POST", "adam", bad)
        assert status == 400 and answer["error"].startswith(line), (bad, answer)

    listed = {rule["name"]: rule for rule in call(f"{url}/api/alerts", user="vera")[1]["rules"]}
    assert list(listed) == [CHARGE, SILENT, "deep / queue"]
    assert listed["deep / queue"]["source"] == "page"

    one = f"{rules}/{path('deep / queue')}"
    status, answer = send(one, "PUT", "adam", {**table, "threshold": 800})
    assert status == 200 and answer["definition"]["threshold"] == 800
    status, answer = send(one, "PUT", "adam", {"kind": "queue_depth", "threshold": 900})
    assert status == 200 and answer["name"] == "deep / queue"
    assert send(one, "PUT", "olga", table)[0] == 403
    status, answer = send(f"{rules}/{path(CHARGE)}", "PUT", "adam", table)
    assert status == 409 and "defined in the config file" in answer["error"]
    status, answer = send(f"{rules}/{path(CHARGE)}", "DELETE", "adam")
    assert status == 409 and "defined in the config file" in answer["error"]
    assert send(f"{rules}/nothing", "PUT", "adam", table)[0] == 404
    status, answer = send(one, "PUT", "adam", {**table, "window": "soon"})
    assert status == 400 and answer["error"].startswith("alert 'deep / queue': window:")

    assert send(one, "DELETE", "olga")[0] == 403
    assert send(one, "DELETE", "adam") == (200, {"deleted": "deep / queue"})
    assert send(one, "DELETE", "adam")[0] == 404
    assert [rule["name"] for rule in call(f"{url}/api/alerts", user="vera")[1]["rules"]] == \
        [CHARGE, SILENT]

    assert audit_rows(url, "alert_rule_create")[:3] == [
        ("vera", [], "refused"), ("olga", ["deep / queue"], "refused"),
        ("adam", ["deep / queue"], "ok")]
    assert [outcome for *_, outcome in audit_rows(url, "alert_rule_update")] == \
        ["ok", "ok", "refused", "refused", "refused", "refused"]
    assert audit_rows(url, "alert_rule_delete") == [
        ("adam", [CHARGE], "refused"), ("olga", ["deep / queue"], "refused"),
        ("adam", ["deep / queue"], "ok"), ("adam", ["deep / queue"], "refused")]


def test_read_only_refuses_mutes(tmp_path, redis_server, scope):
    config = tmp_path / "scope.toml"
    config.write_text(CONFIG)
    instance = scope(redis_server.url, "--config", str(config), "--read-only")
    status, answer = call(f"{instance.url}/api/alerts/{path(CHARGE)}/mute", "POST",
                          body=json.dumps({"minutes": 60}).encode())
    assert status == 403 and "read-only" in answer["error"]
    assert call(f"{instance.url}/api/alerts")[1]["rules"][0]["mute"] is None
    status, trail = call(f"{instance.url}/api/audit?action=alert_mute")
    assert [(entry["targets"], entry["outcome"]) for entry in trail["entries"]] == \
        [([CHARGE], "refused")]
