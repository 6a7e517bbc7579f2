"""Alert evaluation end to end: a real redis-server, real `celery worker -E` processes, a
real celery-scope whose config file holds [[alerts]] and [[notifiers]], and real webhook and
SMTP receivers on loopback. Also the evaluator's own rules in-process: a failing rule is
skipped, a store that goes away pauses evaluation without resolving anything."""
from __future__ import annotations

import json
import os
import signal
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from celery_scope.alerts.evaluator import Evaluator
from celery_scope.alerts.rules import parse_rule
from celery_scope.alerts.state_store import AlertStore
from celery_scope.collector.leadership import SoleLeader
from celery_scope.config import resolve
from celery_scope.store.cache import SnapshotCache
from celery_scope.store.history import HistoryStore
from celery_scope.store.merge import new_task_row

from .alert_receivers import HttpReceiver, SmtpReceiver
from .helpers import wait_for, wait_until

INTERVAL = "0.5"  # seconds between two evaluations in these tests


def config_file(path, rules: str, notifiers: str) -> str:
    path.write_text(notifiers + rules)
    return str(path)


def webhook(name: str, url: str) -> str:
    return f'[[notifiers]]\nname = "{name}"\nkind = "webhook"\nurl = "{url}"\ntimeout = 3\n\n'


def mailer(name: str, port: int) -> str:
    return (f'[[notifiers]]\nname = "{name}"\nkind = "email"\nsmtp_host = "127.0.0.1"\n'
            f'smtp_port = {port}\nstarttls = false\nfrom = "scope@example.com"\n'
            f'to = ["ops@example.com"]\n\n')


def bodies(receiver: HttpReceiver, rule: str) -> list[dict]:
    return [body for body in (request.json() for request in receiver.requests)
            if body["rule"] == rule]


def metric_values(dashboard, name: str) -> dict[tuple, float]:
    text = dashboard.get("/metrics")
    return {tuple(sorted(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples if sample.name == name}


def history(store_url: str, rule: str) -> list[dict]:
    store = HistoryStore(store_url)
    try:
        return AlertStore(store.engine).history(rule=rule)
    finally:
        store.close()


def deliveries(store_url: str) -> list[dict]:
    store = HistoryStore(store_url)
    try:
        return AlertStore(store.engine).deliveries()
    finally:
        store.close()


@pytest.mark.integration
def test_a_failure_burst_fires_once_and_resolves_a_muted_rule_sends_nothing(
        redis_server, workers, scope, cluster_app, tmp_path):
    """Twelve failures make one firing and, once they leave the window, one resolved
    message, at the webhook and by mail; the dead man's switch fires once its task stops
    succeeding; a muted rule fires in the store and sends nothing."""
    with HttpReceiver().start() as hook, SmtpReceiver() as mail:
        rules = '''
[[alerts]]
name = "fail burst"
kind = "failure_ratio"
task = "cluster.fail"
threshold = 0.5
window = "6s"
min_count = 5
for = "1s"
notify = ["hook", "mail"]

[[alerts]]
name = "quiet failures"
kind = "failure_count"
threshold = 0
window = "6s"
notify = ["hook"]

[[alerts]]
name = "adds stopped"
kind = "dead_mans_switch"
task = "cluster.add"
threshold = "4s"
notify = ["hook"]
'''
        config = config_file(tmp_path / "scope.toml", rules,
                             webhook("hook", hook.url()) + mailer("mail", mail.port))
        store_url = f"sqlite:///{tmp_path / 'history.db'}"
        muting = HistoryStore(store_url)
        AlertStore(muting.engine).mute("quiet failures", time.time() + 3600, "tester",
                                       "known noise")
        muting.close()
        workers("w1@test", concurrency=4)
        dashboard = scope(redis_server.url, "--config", config, "--alert-interval", INTERVAL,
                          "--public-url", "https://scope.example/ops")
        added = [cluster_app.send_task("cluster.add", args=(1, 2)) for _ in range(3)]
        for result in added:
            result.get(timeout=30)
        last_add = time.time()
        sent = time.time()
        for number in range(12):
            cluster_app.send_task("cluster.fail", args=(f"burst {number}",))

        firing = wait_until(lambda: bodies(hook, "fail burst"), 60, "the burst's firing")[0]
        assert time.time() - sent < 30  # its `for` plus a round, on a loaded machine
        assert (firing["status"], firing["labels"], firing["kind"]) == \
            ("firing", {"task": "cluster.fail"}, "failure_ratio")
        assert firing["value"] == 1.0
        assert firing["url"].startswith("https://scope.example/ops/tasks?state=FAILURE&name="
                                        "cluster.fail")
        assert "cluster.fail" in firing["summary"]

        wait_until(lambda: any(body["status"] == "resolved"
                               for body in bodies(hook, "fail burst")), 60,
                   "the burst's resolved message")
        assert [body["status"] for body in bodies(hook, "fail burst")] == ["firing", "resolved"]
        mails = mail.wait_for_mails(2, 30)
        subjects = sorted(str(message.message["Subject"]) for message in mails)
        assert subjects == ["[celery-scope] FIRING: fail burst",
                            "[celery-scope] RESOLVED: fail burst"]
        assert [row["status"] for row in reversed(history(store_url, "fail burst"))] == \
            ["firing", "resolved"]

        switch = wait_until(lambda: bodies(hook, "adds stopped"), 60,
                            "the dead man's switch")[0]
        assert switch["status"] == "firing" and switch["labels"] == {"task": "cluster.add"}
        assert switch["value"] > 4
        assert switch["started_at"] >= last_add - 1

        # The muted rule fired (its history says so) and sent nothing.
        assert any(row["status"] == "firing" for row in history(store_url, "quiet failures"))
        assert bodies(hook, "quiet failures") == []
        assert len(mail.mails) == 2
        assert metric_values(dashboard, "celery_scope_alert_firing") \
            .get((("rule", "fail burst"),)) == 0.0
        assert metric_values(dashboard, "celery_scope_alert_evaluation_seconds")[()] >= 0


@pytest.mark.integration
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_kill_9_of_a_worker_fires_worker_offline_and_orphans_its_task(
        redis_server, workers, scope, cluster_app, tmp_path, backend, request):
    with HttpReceiver().start() as hook:
        rules = '''
[[alerts]]
name = "worker gone"
kind = "worker_offline"
for = "1s"
notify = ["hook"]

[[alerts]]
name = "lost tasks"
kind = "orphaned"
window = "5m"
notify = ["hook"]
'''
        config = config_file(tmp_path / "scope.toml", rules, webhook("hook", hook.url()))
        store_url = (f"sqlite:///{tmp_path / 'history.db'}" if backend == "sqlite" else
                     request.getfixturevalue("postgres").create_database(
                         f"k{os.getpid()}{int(time.time() * 1000) % 10**8}"))
        (worker,) = workers("doomed@test", options=("--heartbeat-interval", "1"))
        dashboard = scope(redis_server.url, "--config", config, "--alert-interval", INTERVAL,
                          store=store_url)
        long_task = cluster_app.send_task("cluster.sleep", args=(120,))
        reader = HistoryStore(store_url)
        try:
            wait_for(lambda: reader.task(long_task.id), lambda row: row and
                     row["state"] == "STARTED", 60, "the long task to start")
            wait_for(lambda: reader.worker("doomed@test"),
                     lambda row: row and row["freq"] == 1.0, 30, "a heartbeat at 1 s")
            os.killpg(worker.pid, signal.SIGKILL)
            killed = time.time()
            fired = wait_until(lambda: bodies(hook, "worker gone"), 60, "worker_offline")[0]
            # two heartbeat intervals and a second of slack, `for`, a round; generous slack
            assert time.time() - killed < 2 * 1 + 1 + 1 + 15
            assert (fired["status"], fired["labels"]) == ("firing", {"worker": "doomed@test"})
            assert fired["url"].endswith("/workers/doomed%40test")
            row = wait_for(lambda: reader.task(long_task.id),
                           lambda row: row["orphaned"] is not None, 30, "the orphan mark")
            assert row["state"] == "STARTED"
            assert killed - 1 <= row["orphaned"] <= killed + 5
            lost = wait_until(lambda: bodies(hook, "lost tasks"), 30, "the orphaned rule")[0]
            assert lost["labels"] == {"task": "cluster.sleep"} and lost["value"] == 1
        finally:
            reader.close()
        assert dashboard.status().get("broker_connected")


@pytest.mark.integration
def test_a_queue_nobody_consumes_fires_no_consumer_and_latency_and_resolves(
        redis_server, workers, scope, cluster_app, tmp_path):
    """Latency grows in /api/queues and /metrics as the send times say; both rules fire; a
    webhook answering 500 is retried and given up, shown in /metrics and the deliveries;
    once a worker consumes the queue both rules resolve."""
    with HttpReceiver().start() as hook, HttpReceiver(status=500).start() as broken:
        rules = '''
[[alerts]]
name = "celery nobody"
kind = "no_consumer"
queue = "celery"
for = "1s"
notify = ["hook"]

[[alerts]]
name = "celery slow"
kind = "queue_latency"
queue = "celery"
threshold = "3s"
notify = ["hook", "broken"]
'''
        config = config_file(tmp_path / "scope.toml", rules,
                             webhook("hook", hook.url()) + webhook("broken", broken.url()))
        store_url = f"sqlite:///{tmp_path / 'history.db'}"
        dashboard = scope(redis_server.url, "--config", config, "--alert-interval", INTERVAL,
                          "--queue-sample-interval", "1", "--inspect-interval", "1")
        workers("busy@test", options=("-Q", "busy"))  # consumes another queue, not celery
        sent = time.time()
        for number in range(3):
            cluster_app.send_task("cluster.echo", args=(number,))

        def celery():
            queues = json.loads(dashboard.get("/api/queues"))["queues"]
            return next((queue for queue in queues if queue["name"] == "celery"), None)

        queue = wait_for(celery, lambda q: q and (q["latency_seconds"] or 0) >= 3, 60,
                         "the celery queue's latency to pass 3 s")
        assert queue["latency_seconds"] <= time.time() - sent + 1
        assert queue["no_consumer"] and queue["messages"] == 3
        latency = metric_values(dashboard, "celery_queue_latency_seconds")[(("queue", "celery"),)]
        assert 3 <= latency <= time.time() - sent + 1

        nobody = wait_until(lambda: bodies(hook, "celery nobody"), 60, "no_consumer")[0]
        assert (nobody["labels"], nobody["value"]) == ({"queue": "celery"}, 3)
        assert nobody["url"].endswith("/broker")
        slow = wait_until(lambda: bodies(hook, "celery slow"), 60, "queue_latency")[0]
        assert slow["status"] == "firing" and slow["value"] > 3

        given_up = wait_until(lambda: [row for row in deliveries(store_url)
                                       if row["notifier"] == "broken"], 90,
                              "the broken webhook to be given up")[0]
        assert (given_up["ok"], given_up["attempts"]) == (False, 5)
        assert "HTTP 500" in given_up["error"]
        assert len(broken.requests) == 5
        assert metric_values(dashboard, "celery_scope_alert_deliveries_failed_total") == {
            (("notifier", "broken"),): 1.0, (("notifier", "hook"),): 0.0}
        assert metric_values(dashboard, "celery_scope_alert_firing") == {
            (("rule", "celery nobody"),): 1.0, (("rule", "celery slow"),): 1.0}

        workers("drain@test")  # consumes celery
        for rule in ("celery nobody", "celery slow"):
            wait_until(lambda rule=rule: [body for body in bodies(hook, rule)
                                          if body["status"] == "resolved"], 90,
                       f"{rule} to resolve")
        assert [body["status"] for body in bodies(hook, "celery nobody")] == \
            ["firing", "resolved"]


# -- the evaluator in-process: a store that goes away ---------------------------------------

def _move_store(source, target):
    for suffix in ("", "-wal", "-shm"):
        if (source.parent / (source.name + suffix)).exists():
            (source.parent / (source.name + suffix)).rename(target.parent / (target.name + suffix))


def test_a_store_away_pauses_evaluation_without_resolving(tmp_path):
    # a broker named (none is asked): the demo's own rules stay out of the count
    settings = resolve({"broker": "redis://127.0.0.1:1/0",
                        "store": f"sqlite:///{tmp_path / 'h.db'}",
                        "cache_dir": str(tmp_path / "cache")}, environ={})
    store = HistoryStore(settings.store)
    cache = SnapshotCache(settings.cache_dir)
    evaluator = Evaluator(store, cache, settings, SoleLeader())
    now = time.time()
    rows = []
    for number in range(5):
        row = new_task_row(f"t{number}")
        row.update(name="t", state="FAILURE", timestamp=now - 1, received=now - 2)
        rows.append(row)
    store.write(rows)
    alerts = evaluator.alerts
    for name in ("fails", "also fails"):
        alerts.save_rule(parse_rule({"name": name, "kind": "failure_count", "threshold": 1},
                                    source="page"), "tester")
    report = evaluator.evaluate(now)
    assert sorted((rule.name, transition.status) for rule, transition in report.transitions) \
        == [("also fails", "firing"), ("fails", "firing")]
    assert report.paused is None and report.failed == {}
    assert report.cost.cpu_seconds >= 0 and report.cost.rules == 2

    store.engine.dispose()
    _move_store(tmp_path / "h.db", tmp_path / "away.db")
    (tmp_path / "h.db").mkdir()  # the file cannot be opened: an outage, not a refusal
    try:
        away = evaluator.evaluate(now + 1)
    finally:
        store.engine.dispose()
        (tmp_path / "h.db").rmdir()
        _move_store(tmp_path / "away.db", tmp_path / "h.db")
    assert away.paused is not None and away.transitions == []

    back = evaluator.evaluate(now + 2)
    assert back.paused is None and back.transitions == []  # nothing resolved, nothing again
    states = alerts.states()
    assert {rule: [state.state for state in found.values()] for rule, found in states.items()} \
        == {"fails": ["firing"], "also fails": ["firing"]}
    evaluator.stop()
    cache.close()
    store.close()
