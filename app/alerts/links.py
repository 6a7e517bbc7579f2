"""The page that shows an alert's cause, as the link a notification carries: the task grid
filtered to the tasks in question (over the alert's window), /broker for a queue, the
worker's page for a worker. Every link starts with the dashboard's public base URL."""
from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

from ..tasks.filters import TaskFilter
from .rules import Rule

QUEUE_KINDS = frozenset({"queue_latency", "queue_depth", "no_consumer"})
# kind -> (states shown, the lifecycle time the window applies to, the grid's order)
TASK_VIEWS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "failure_ratio": (("FAILURE",), "failed", "-failed"),
    "failure_count": (("FAILURE",), "failed", "-failed"),
    "runtime_p95": (("SUCCESS",), "succeeded", "-runtime"),
    "stuck_started": (("STARTED",), "started", "started"),
    "orphaned": ((), "started", "-started"),
    "dead_mans_switch": ((), "received", "-received"),
}


def alert_url(base_url: str, rule: Rule, labels: Mapping[str, str], started_at: float) -> str:
    """The link for one alert of `rule` with `labels`, which began at `started_at`.
    `base_url` ends with "/" (settings.public_base_url)."""
    if rule.kind in QUEUE_KINDS:
        return f"{base_url}broker"
    if rule.kind == "worker_offline":
        worker = labels.get("worker") or rule.worker or ""
        return f"{base_url}workers/{quote(worker, safe='')}"
    states, time_field, sort = TASK_VIEWS[rule.kind]
    task = labels.get("task") or rule.task
    since = None if rule.kind in ("stuck_started", "dead_mans_switch") else \
        started_at - rule.window
    view = TaskFilter(states=states, names=(task,) if task else (), worker=rule.worker,
                      queue=rule.queue, time_field=time_field, since=since, sort=sort)
    return f"{base_url}tasks?{view.to_query_string()}"
