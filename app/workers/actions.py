"""Turn a button press on a worker page into one control call and a message for the page."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..broker.control import Control, ControlResult, _name, _positive_int
from ..broker.gate import ControlError


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


# action name → (check the form values as Control checks them, call Control with them).
# Checking first lets the page refuse bad input before asking for a confirmation; the call
# happens after the role check that looking the method up on a GuardedControl makes.
_Params = Mapping[str, Any]
_ACTIONS: dict[str, tuple[Callable[[_Params], dict[str, Any]],
                          Callable[[Control, str, dict[str, Any]], ControlResult]]] = {
    "restart": (lambda p: {}, lambda c, w, a: c.worker_pool_restart(w)),
    "grow": (lambda p: _count(p),
             lambda c, w, a: c.worker_pool_grow(w, a["n"])),
    "shrink": (lambda p: _count(p),
               lambda c, w, a: c.worker_pool_shrink(w, a["n"])),
    "autoscale": (lambda p: _bounds(p), lambda c, w, a: c.worker_pool_autoscale(w, **a)),
    "add_consumer": (lambda p: {"queue": _name("queue", p.get("queue"))},
                     lambda c, w, a: c.worker_queue_add_consumer(w, a["queue"])),
    "cancel_consumer": (lambda p: {"queue": _name("queue", p.get("queue"))},
                        lambda c, w, a: c.worker_queue_cancel_consumer(w, a["queue"])),
    "rate_limit": (lambda p: {"task": _required(p, "task", "a task"),
                              "rate": _required(p, "rate", "a rate such as 10/m")},
                   lambda c, w, a: c.task_rate_limit(a["task"], a["rate"], w)),
    "time_limit": (lambda p: _time_limits(p),
                   lambda c, w, a: c.task_time_limit(a["task"], a["soft"], a["hard"], w)),
    "shutdown": (lambda p: {}, lambda c, w, a: c.worker_shutdown(w)),
}
ACTIONS = tuple(_ACTIONS)

# action → (the confirmation's verb, what it does, whether it is dangerous)
_CONFIRM = {
    "restart": ("Restart pool", "Its pool processes are replaced; running tasks finish first.",
                False),
    "grow": ("Grow pool", "Adds {n} pool process(es).", False),
    "shrink": ("Shrink pool", "Removes {n} pool process(es) once they are idle.", False),
    "autoscale": ("Autoscale", "The pool keeps between {min} and {max} processes.", False),
    "add_consumer": ("Add consumer", "It starts taking tasks from queue {queue}.", False),
    "cancel_consumer": ("Cancel consumer", "It stops taking tasks from queue {queue}.", True),
    "rate_limit": ("Set rate limit", "{task} runs at most {rate} on this worker.", False),
    "time_limit": ("Set time limits", "{task}: soft limit {soft_text}, hard limit {hard_text}.",
                   False),
    "shutdown": ("Shut down", "It stops taking tasks, finishes the ones running and exits; "
                 "something outside celery-scope must start it again.", True),
}


def _count(params: _Params) -> dict[str, int]:
    value = params.get("n")
    return {"n": 1 if value in (None, "") else _positive_int("number of processes", value)}


def _bounds(params: _Params) -> dict[str, int]:
    low = _positive_int("min", params.get("min"), zero=True)
    high = _positive_int("max", params.get("max"))
    if low > high:
        raise ControlError(f"autoscale min ({low}) must not exceed max ({high})")
    return {"min": low, "max": high}


def _time_limits(params: _Params) -> dict[str, Any]:
    soft = _optional_float("soft limit", params.get("soft"))
    hard = _optional_float("hard limit", params.get("hard"))
    if soft is not None and hard is not None and soft > hard:
        raise ControlError("the soft limit must not exceed the hard limit")
    return {"task": _required(params, "task", "a task"), "soft": soft, "hard": hard}


def _required(params: _Params, key: str, what: str) -> str:
    value = params.get(key)
    if value in (None, "") or (isinstance(value, str) and not value.strip()):
        raise ControlError(f"choose {what} first")
    return str(value).strip()


def check_action(action: str, params: _Params) -> dict[str, Any]:
    """The action's arguments from the form values; ControlError says what is wrong."""
    if action not in _ACTIONS:
        raise ControlError(f"unknown action {action!r}")
    return _ACTIONS[action][0](params)


def confirmation(action: str, arguments: Mapping[str, Any]) -> tuple[str, str, bool]:
    """(verb, detail, danger) for the confirmation of `action` with checked `arguments`."""
    verb, detail, danger = _CONFIRM[action]
    texts = {key: "none" if arguments.get(key) is None else f"{arguments[key]:g} s"
             for key in ("soft", "hard") if key in arguments}
    return verb, detail.format(**arguments, **{f"{k}_text": v for k, v in texts.items()}), danger


def run_worker_action(control: Control, worker: str, action: str,
                      params: _Params) -> Outcome:
    """Check and run one action; every failure becomes a sentence, never an exception."""
    try:
        result = _call(control, worker, action, params)
    except ControlError as exc:
        return Outcome(False, _capitalised(str(exc)))
    return Outcome(result.ok, result.sentence())


def _call(control: Control, worker: str, action: str, params: _Params) -> ControlResult:
    return _ACTIONS[action][1](control, worker, check_action(action, params))


def _capitalised(text: str) -> str:
    """Control's errors are phrases ("choose a task first"); the page shows sentences."""
    first = text[:1] if text.startswith("celery-scope") else text[:1].upper()
    return (first + text[1:]).rstrip(".") + "."


def describe_round(answered: list[str], silent: list[str], seconds: float) -> Outcome:
    """The message after a forced Inspector round."""
    if not answered and not silent:
        return Outcome(False, "no worker is online: nothing to refresh")
    message = (f"{len(answered)} of {len(answered) + len(silent)} workers replied in "
               f"{seconds * 1000:.0f} ms")
    if silent:
        message += f"; no reply from {', '.join(silent)}"
    return Outcome(not silent, message + ".")
