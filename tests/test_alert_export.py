"""`celery-scope alerts export --format prometheus`: the rules as a Prometheus rule file that
parses as YAML, with expressions over the series /metrics serves."""
from __future__ import annotations

import subprocess

import pytest

from celery_scope.alerts.prometheus_rules import duration, prometheus_rules
from celery_scope.alerts.rules import parse_rules

yaml = pytest.importorskip("yaml")

CONFIG = '''
[[notifiers]]
name = "ops"
kind = "webhook"
url = "http://127.0.0.1:9/hook"

[[alerts]]
name = "charge \\"failures\\"\\nline two"
kind = "failure_ratio"
task = "shop.tasks.charge"
threshold = 0.2
window = "5m"
min_count = 10
for = "30s"
notify = ["ops"]
labels = {team = "pay: ments"}
description = "Card payments fail: look at the gateway"

[[alerts]]
name = "slow queue"
kind = "queue_latency"
queue = "celery"
threshold = "2m"

[[alerts]]
name = "workers"
kind = "worker_offline"
for = "1m"

[[alerts]]
name = "stuck"
kind = "stuck_started"
threshold = "10m"

[[alerts]]
name = "queued failures"
kind = "failure_count"
queue = "celery"
threshold = 5
'''


def test_durations_are_prometheus_durations():
    assert [duration(s) for s in (30, 90, 300, 7200, 86400, 0.2)] == \
        ["30s", "90s", "5m", "2h", "1d", "1s"]


def test_export_parses_with_the_expected_expressions(tmp_path):
    config = tmp_path / "scope.toml"
    config.write_text(CONFIG)
    done = subprocess.run(["celery-scope", "alerts", "export", "--format", "prometheus",
                           "--config", str(config), "--store",
                           f"sqlite:///{tmp_path / 'h.db'}"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    document = yaml.safe_load(done.stdout)
    (group,) = document["groups"]
    assert group["name"] == "celery-scope"
    rules = {rule["alert"]: rule for rule in group["rules"]}
    assert set(rules) == {'charge "failures"\nline two', "slow queue", "workers"}
    ratio = rules['charge "failures"\nline two']
    assert ratio["expr"] == (
        '(sum by (task) (increase(flower_events_total{type="task-failed", '
        'task="shop.tasks.charge"}[5m])) / sum by (task) (increase(flower_events_total'
        '{type=~"task-succeeded|task-failed", task="shop.tasks.charge"}[5m]))) > 0.2 and '
        'sum by (task) (increase(flower_events_total{type=~"task-succeeded|task-failed", '
        'task="shop.tasks.charge"}[5m])) >= 10')
    assert ratio["for"] == "30s"
    assert ratio["labels"] == {"team": "pay: ments"}
    assert ratio["annotations"]["summary"] == "Card payments fail: look at the gateway"
    assert rules["slow queue"]["expr"] == 'celery_queue_latency_seconds{queue="celery"} > 120'
    assert rules["workers"]["expr"] == "flower_worker_online == 0"
    assert rules["workers"]["for"] == "1m"
    assert '# "stuck" (stuck_started) is not exported: /metrics has no series' in done.stdout
    assert '# "queued failures" (failure_count) is not exported: Flower\'s task series ' \
           'carry no queue label' in done.stdout


def test_no_exportable_rule_is_an_empty_list():
    rules = parse_rules([{"name": "o", "kind": "orphaned"}])
    assert yaml.safe_load(prometheus_rules(rules)) == \
        {"groups": [{"name": "celery-scope", "rules": []}]}
