"""Turn a button press on a worker page into one control call and a message for the page."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .control import Control, ControlError, ControlResult


@dataclass(frozen=True)
class Outcome:
    ok: bool
    message: str


def _optional_float(label: str, value: Any) -> float | None:
    if value in (None, ""):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ControlError(f"{label} must be a number of seconds, got {value!r}") from None
    if number <= 0:
        raise ControlError(f"{label} must be more than 0 seconds")
    return number


# action name → how to call Control with the form values
_ACTIONS: dict[str, Callable[[Control, str, Mapping[str, Any]], ControlResult]] = {
    "restart": lambda c, w, p: c.worker_pool_restart(w),
    "grow": lambda c, w, p: c.worker_pool_grow(w, p.get("n") or 1),
    "shrink": lambda c, w, p: c.worker_pool_shrink(w, p.get("n") or 1),
    "autoscale": lambda c, w, p: c.worker_pool_autoscale(w, p.get("min"), p.get("max")),
    "add_consumer": lambda c, w, p: c.worker_queue_add_consumer(w, p.get("queue")),
    "cancel_consumer": lambda c, w, p: c.worker_queue_cancel_consumer(w, p.get("queue")),
    "rate_limit": lambda c, w, p: c.task_rate_limit(
        _required(p, "task", "a task"), _required(p, "rate", "a rate such as 10/m"), w),
    "time_limit": lambda c, w, p: c.task_time_limit(
        _required(p, "task", "a task"), _optional_float("soft limit", p.get("soft")),
        _optional_float("hard limit", p.get("hard")), w),
    "shutdown": lambda c, w, p: c.worker_shutdown(w),
}
ACTIONS = tuple(_ACTIONS)


def _required(params: Mapping[str, Any], key: str, what: str) -> str:
    value = params.get(key)
    if value in (None, "") or (isinstance(value, str) and not value.strip()):
        raise ControlError(f"choose {what} first")
    return str(value).strip()


def run_worker_action(control: Control, worker: str, action: str,
                      params: Mapping[str, Any]) -> Outcome:
    """Run one action; every failure becomes a message, never an exception."""
    if action not in _ACTIONS:
        return Outcome(False, f"unknown action {action!r}")
    try:
        result = _ACTIONS[action](control, worker, params)
    except ControlError as exc:
        return Outcome(False, str(exc))
    return Outcome(result.ok, result.summary())


def run_bulk_action(control: Control, workers: list[str], action: str) -> Outcome:
    """The same action on several workers; one line per worker in the message."""
    if not workers:
        return Outcome(False, "select one or more workers first")
    outcomes = [run_worker_action(control, worker, action, {}) for worker in workers]
    return Outcome(all(outcome.ok for outcome in outcomes),
                   "\n".join(outcome.message for outcome in outcomes))


def describe_round(answered: list[str], silent: list[str], seconds: float) -> Outcome:
    """The message after a forced Inspector round."""
    if not answered and not silent:
        return Outcome(False, "no worker is online: nothing to refresh")
    message = (f"{len(answered)} of {len(answered) + len(silent)} workers replied in "
               f"{seconds * 1000:.0f} ms")
    if silent:
        message += f"; no reply from {', '.join(silent)}"
    return Outcome(not silent, message + ".")
