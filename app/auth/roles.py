"""Roles and what each may do: the signed-in user, the role checks every control
action passes, and the Control wrapper that applies them wherever an action comes from."""
from __future__ import annotations

import functools
import inspect
from typing import TYPE_CHECKING, Any

from ..audit.trail import record_outcome
from ..broker.control import Control, ControlResult
from ..broker.gate import ControlError
from .credentials import rank
from .users import current_user

# Control actions a role below `admin` may not take: they change how workers run.
ADMIN_ACTIONS = frozenset({"worker_shutdown", "worker_pool_autoscale", "task_rate_limit",
                           "task_time_limit", "queue_purge"})


CONTROL_ACTIONS = frozenset({
    "worker_shutdown", "worker_pool_restart", "worker_pool_grow", "worker_pool_shrink",
    "worker_pool_autoscale", "worker_queue_add_consumer", "worker_queue_cancel_consumer",
    "task_revoke", "task_terminate", "task_rate_limit", "task_time_limit", "task_apply",
    "queue_purge",
})


# Flower API routes (by view function) that change workers' settings, and purging a
# queue: admin only.
ADMIN_ENDPOINTS = frozenset({"api.worker_shutdown", "api.worker_pool_autoscale",
                             "api.task_rate_limit", "api.task_timeout", "api.queue_purge"})

# API routes (by view function) that act, unless the body asks `"dry_run": true` in so many
# words: a dry run is reading, so a viewer may ask one. The real run's role (operator, admin
# over a threshold) is checked again where it runs (bulk.actions.check_allowed).
DRY_RUN_ENDPOINTS = frozenset({"api.tasks_retry", "api.tasks_revoke"})

# The arguments of a Control action that name what it acts on; the audit trail keeps
# them as its targets and the other arguments as its parameters.
_TARGET_ARGUMENTS = ("worker", "task_id", "task_name", "workername", "queue_name")


class Forbidden(ControlError):
    """The signed-in role may not take this action."""


def current_role() -> str:
    user = current_user()
    return user.role if user else ""


def may(role: str) -> bool:
    """Whether this request's user holds `role` or a higher one (for pages to disable)."""
    return rank(current_role()) >= rank(role)


def check_action(action: str) -> None:
    needed = "admin" if action in ADMIN_ACTIONS else "operator"
    if rank(current_role()) < rank(needed):
        raise Forbidden(f"your role ({current_role() or 'none'}) may not {action.replace('_', ' ')}"
                        f"; it needs {needed}")


# Every attribute of a GuardedControl is its Control's (looked up through __getattr__), so
# to the type checker it is one: callers keep Control's signatures.
if TYPE_CHECKING:
    _ControlInterface = Control
else:
    _ControlInterface = object


class GuardedControl(_ControlInterface):
    """A Control whose actions check the caller's role first and, unless `record` is off,
    leave an audit record each (every page action and the API's control routes pass here).
    A bulk job records its one summary itself and acts through `unrecorded()`."""

    def __init__(self, control: Control, record: bool = True):
        self._control, self._record = control, record

    def unrecorded(self) -> GuardedControl:
        return GuardedControl(self._control, record=False)

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._control, name)
        if name not in CONTROL_ACTIONS:
            return attribute
        check_action(name)
        return _recorded(name, attribute) if self._record else attribute


def _described(result: Any) -> tuple[str, str]:
    """A control call's result as the audit record's (outcome, detail)."""
    if isinstance(result, ControlResult):
        return ("ok" if result.ok else "error"), result.summary()
    if isinstance(result, int):  # a purge: how many messages went
        return "ok", f"{result:,} messages removed"
    return "ok", f"sent as {result}"  # task_apply: the new task's id


def _recorded(action: str, method: Any) -> Any:
    """`method`, recording each call: its targets and parameters, and how it went (a
    refusal of the arguments or the target, a broker or worker error, or ok)."""
    signature = inspect.signature(method)

    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError:
            return method(*args, **kwargs)  # the caller's bug: let Python say so
        bound.apply_defaults()
        params = dict(bound.arguments)
        targets = [text for key in _TARGET_ARGUMENTS if params.get(key) not in (None, "")
                   for text in _text(params[key])]
        params = {key: value for key, value in params.items() if key not in _TARGET_ARGUMENTS}
        return record_outcome(action, targets, params, lambda: method(*args, **kwargs),
                              _described)

    return call


def _text(value: Any) -> list[str]:
    if isinstance(value, (list, tuple, set, frozenset)):
        return [str(item) for item in value]
    return [str(value)]
