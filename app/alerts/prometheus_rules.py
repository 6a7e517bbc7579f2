"""The alert rules as a Prometheus rule file over the series /metrics serves (app/metrics.py):
Flower's `flower_events_total{worker, type, task}`, `flower_task_runtime_seconds`,
`flower_worker_online`, and `celery_queue_length` / `celery_queue_latency_seconds`.

What /metrics has no series for (tasks stuck in STARTED, orphaned tasks, queues with no
consumer, failures scoped by queue) is written as a comment saying so: a Prometheus
setup then alerts on the rest, and celery-scope's own evaluator on everything.

The YAML is written here, not by a library (the dashboard does not depend on one): every
string is a JSON string, which YAML reads as the same double-quoted scalar.
"""
from __future__ import annotations

import json
import math
from collections.abc import Iterable

from .rules import KINDS, Rule

GROUP = "celery-scope"
FINISHED = 'type=~"task-succeeded|task-failed"'
UNSUPPORTED = {
    "stuck_started": "/metrics has no series of the tasks running now",
    "orphaned": "/metrics has no series of orphaned tasks",
    "no_consumer": "/metrics has no series of a queue's consumers",
}


def duration(seconds: float) -> str:
    """A Prometheus duration: 90s, 5m, 2h, 1d (whole seconds, at least 1s)."""
    whole = max(1, math.ceil(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if whole % size == 0:
            return f"{whole // size}{unit}"
    return f"{whole}s"


def _quoted(text: str) -> str:
    """A PromQL string literal: JSON's escapes are PromQL's."""
    return json.dumps(text)


def _matchers(*parts: str, **labels: str | None) -> str:
    given = [*parts, *(f"{key}={_quoted(value)}" for key, value in labels.items()
                       if value is not None)]
    return "{" + ", ".join(given) + "}" if given else ""


def _number(value: float | None) -> str:
    return "0" if value is None else f"{value:g}"


def expression(rule: Rule) -> str | None:
    """The PromQL that breaches when the rule does, or None (see `why_not`)."""
    if why_not(rule):
        return None
    window, threshold = duration(rule.window), _number(rule.threshold)
    scope = {"task": rule.task, "worker": rule.worker}
    if rule.kind == "failure_ratio":
        failed = _matchers('type="task-failed"', **scope)
        finished = _matchers(FINISHED, **scope)
        return (f"(sum by (task) (increase(flower_events_total{failed}[{window}]))"
                f" / sum by (task) (increase(flower_events_total{finished}[{window}])))"
                f" > {threshold}"
                f" and sum by (task) (increase(flower_events_total{finished}[{window}]))"
                f" >= {rule.min_count}")
    if rule.kind == "failure_count":
        failed = _matchers('type="task-failed"', **scope)
        return f"sum by (task) (increase(flower_events_total{failed}[{window}])) > {threshold}"
    if rule.kind == "runtime_p95":
        buckets = _matchers(**scope)
        return (f"histogram_quantile(0.95, sum by (task, le) "
                f"(rate(flower_task_runtime_seconds_bucket{buckets}[{window}]))) > {threshold}"
                f" and sum by (task) (increase(flower_task_runtime_seconds_count{buckets}"
                f"[{window}])) >= {rule.min_count}")
    if rule.kind == "dead_mans_switch":
        succeeded = _matchers('type="task-succeeded"', task=rule.task)
        return (f"sum(increase(flower_events_total{succeeded}[{duration(rule.threshold or 0)}]))"
                f" < 1 or absent(flower_events_total{succeeded})")
    if rule.kind == "queue_latency":
        return f"celery_queue_latency_seconds{_matchers(queue=rule.queue)} > {threshold}"
    if rule.kind == "queue_depth":
        return f"celery_queue_length{_matchers(queue=rule.queue)} > {threshold}"
    if rule.kind == "worker_offline":
        return f"flower_worker_online{_matchers(worker=rule.worker)} == 0"
    raise ValueError(f"unknown kind {rule.kind!r}")


def why_not(rule: Rule) -> str | None:
    """Why the rule has no Prometheus equivalent, or None when it has one."""
    if rule.kind in UNSUPPORTED:
        return UNSUPPORTED[rule.kind]
    if rule.queue is not None and rule.kind not in ("queue_latency", "queue_depth"):
        return "Flower's task series carry no queue label"
    return None


def _line(key: str, value: str, indent: int) -> str:
    return f"{' ' * indent}{key}: {_quoted(value)}"


def rule_lines(rule: Rule) -> list[str]:
    """One rule of the group's `rules:` list (or a comment)."""
    problem = why_not(rule)
    if problem:
        return [f"      # {_quoted(rule.name)} ({rule.kind}) is not exported: {problem}."]
    lines = [f"      - alert: {_quoted(rule.name)}",
             _line("expr", expression(rule) or "", 8),
             _line("for", duration(rule.for_seconds) if rule.for_seconds else "0s", 8)]
    lines.append("        labels:" + ("" if rule.labels else " {}"))
    lines.extend(_line(key, value, 10) for key, value in sorted(rule.labels.items()))
    lines.append("        annotations:")
    lines.append(_line("summary", rule.description or KINDS[rule.kind], 10))
    lines.append(_line("kind", rule.kind, 10))
    return lines


def prometheus_rules(rules: Iterable[Rule]) -> str:
    """The rule file: one group holding every rule that /metrics can express."""
    lines = ["# Prometheus alerting rules made by `celery-scope alerts export` from the same",
             "# rules celery-scope evaluates, over the series its /metrics serves.",
             "groups:", f"  - name: {_quoted(GROUP)}", "    rules:"]
    body = [line for rule in rules for line in rule_lines(rule)]
    if not any(line.lstrip().startswith("- alert:") for line in body):
        lines[-1] += " []"
    return "\n".join([*lines, *body]) + "\n"
