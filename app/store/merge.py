"""Pure merge rules: fold Celery events into task and worker rows.

Events reach us out of order (workers buffer task events, several workers and a client
publish concurrently), so a row must come out the same whatever the arrival order:

* the state follows Celery's precedence (``celery.states.precedence``): an event whose
  state logically happens before the current one only fills in missing fields;
* a retried task runs again under the same id, so between RETRY and a non-final state
  the later event (by its timestamp) wins, as in ``celery.events.state.Task.event``;
* lifecycle times and the retry count only grow; nothing known is replaced by None;
* a task with an exception carries its issue's fingerprint (fingerprint.py);
* the worker hook's task-scope-headers event (beat/worker_hook.py) names the periodic task
  that sent the task and nothing else: it never changes a known state, time or counter.
"""
from __future__ import annotations

from typing import Any

from celery import states

from .fingerprint import fingerprint
from .schema import LIFECYCLE_STEPS, TASK_COLUMNS

# Fields each task event carries into the row (the event's `hostname` is handled apart).
_EVENT_FIELDS = {
    "task-sent": ("name", "args", "kwargs", "retries", "eta", "expires", "queue", "exchange",
                  "routing_key", "root_id", "parent_id"),
    "task-received": ("name", "args", "kwargs", "retries", "eta", "expires", "root_id",
                      "parent_id"),
    "task-started": (),
    "task-succeeded": ("result", "runtime"),
    "task-failed": ("exception", "traceback"),
    "task-retried": ("exception", "traceback"),
    "task-revoked": (),
    "task-rejected": (),
}
_EVENT_STATES = {
    "task-sent": states.PENDING,
    "task-received": states.RECEIVED,
    "task-started": states.STARTED,
    "task-succeeded": states.SUCCESS,
    "task-failed": states.FAILURE,
    "task-retried": states.RETRY,
    "task-revoked": states.REVOKED,
    "task-rejected": states.REJECTED,
}
_TEXT_FIELDS = frozenset(("args", "kwargs", "result", "exception", "traceback", "eta", "expires"))
_GROWING_FIELDS = frozenset(LIFECYCLE_STEPS) | {"retries"}
_COUNTED_STATES = {states.SUCCESS: "succeeded", states.FAILURE: "failed", states.RETRY: "retried"}


def event_state(event_type: str) -> str:
    """The task state an event type stands for; custom `task-x` events give state 'X'."""
    return _EVENT_STATES.get(event_type) or event_type[len("task-"):].upper()


def _rank(state: str) -> int:
    # celery's precedence() is an index where lower means "happens later"; invert it.
    return -states.precedence(state)


def takes_state(current: str | None, current_ts: float, new: str, new_ts: float) -> bool:
    """Whether an event in state `new` at `new_ts` replaces the row's current state."""
    if current is None:
        return True
    ready = states.READY_STATES
    if states.RETRY in (current, new) and current not in ready and new not in ready:
        return new_ts >= current_ts
    return (_rank(new), new_ts) >= (_rank(current), current_ts)


def new_task_row(uuid: str) -> dict[str, Any]:
    row = dict.fromkeys(TASK_COLUMNS)
    row["uuid"] = uuid
    return row


def _value(field: str, value: Any) -> Any:
    if value is None:
        return None
    if field in _TEXT_FIELDS and not isinstance(value, str):
        return repr(value)
    return value


HEADERS_EVENT = "task-scope-headers"


def _apply_headers(row: dict[str, Any], event: dict[str, Any]) -> None:
    """The hook's headers: the entry's name fills `periodic_task` (the first one told
    stays, as replays must change nothing). A row this event is the first to create is
    PENDING as of the event — Celery's state for a task nothing else is known of yet —
    which any real event of the task outranks or, at a later time, replaces."""
    name = event.get("periodic_task_name")
    if name and row["periodic_task"] is None:
        row["periodic_task"] = name
    if row["state"] is None:
        row["state"], row["timestamp"] = states.PENDING, event["timestamp"]


def apply_task_event(row: dict[str, Any], event: dict[str, Any]) -> str | None:
    """Fold one task event into `row` in place.

    Returns the counter name ('succeeded', 'failed', 'retried') the event adds to its
    worker's totals, when it moves the task into such a state; otherwise None.
    """
    kind = event["type"]
    if kind == HEADERS_EVENT:
        _apply_headers(row, event)
        return None
    timestamp = event["timestamp"]
    state = event_state(kind)
    step = kind[len("task-"):]
    if step in LIFECYCLE_STEPS:
        previous = row[step]
        row[step] = timestamp if previous is None else max(previous, timestamp)

    updates = {field: _value(field, event.get(field)) for field in _EVENT_FIELDS.get(kind, ())}
    hostname = event.get("hostname")
    if hostname:
        updates["client" if kind == "task-sent" else "worker"] = hostname

    previous_state = row["state"]
    wins = takes_state(previous_state, row["timestamp"] or 0.0, state, timestamp)
    if wins:
        row["state"] = state
        row["timestamp"] = timestamp
    for field, value in updates.items():
        if value is None:
            continue
        if field in _GROWING_FIELDS and row[field] is not None:
            row[field] = max(row[field], value)
        elif wins or row[field] is None:
            row[field] = value
    if row["exception"] is not None and (updates.get("exception") or updates.get("name")):
        row["issue"] = fingerprint(row["name"], row["exception"])  # names its issue

    if wins and state in _COUNTED_STATES and (state == states.RETRY or previous_state != state):
        return _COUNTED_STATES[state]
    return None


def new_worker_row(hostname: str) -> dict[str, Any]:
    return {"hostname": hostname, "status": "online", "first_seen": None, "last_heartbeat": None,
            "freq": None, "pid": None, "sw_ident": None, "sw_ver": None, "sw_sys": None,
            "active": None, "processed": None, "load1": None, "load5": None, "load15": None,
            "succeeded": 0, "failed": 0, "retried": 0}


def apply_worker_event(row: dict[str, Any], event: dict[str, Any]) -> bool:
    """Fold a worker-online/heartbeat/offline event into `row` in place.

    Returns True when the event is the newest seen for the worker (a heartbeat worth sampling).
    """
    timestamp = event["timestamp"]
    if row["first_seen"] is None or timestamp < row["first_seen"]:
        row["first_seen"] = timestamp
    last = row["last_heartbeat"]
    if last is not None and timestamp < last:
        return False
    row["last_heartbeat"] = timestamp
    row["status"] = "offline" if event["type"] == "worker-offline" else "online"
    for field in ("freq", "pid", "sw_ident", "sw_ver", "sw_sys", "active", "processed"):
        value = event.get(field)
        if value is not None:
            row[field] = value
    loadavg = event.get("loadavg")
    if isinstance(loadavg, (list, tuple)) and len(loadavg) == 3:
        row["load1"], row["load5"], row["load15"] = (float(value) for value in loadavg)
    return event["type"] != "worker-offline"
