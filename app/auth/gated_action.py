"""One door for an action taken on one target from a page or a route (an alert rule, a beat
entry): read-only, then the caller's role, then the act, which checks its target and input;
every outcome goes to the audit trail, refusals included, and refusals and failures raise on
to the caller, which says them."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..audit.trail import record_outcome
from ..broker.gate import ControlError
from .credentials import rank
from .roles import Forbidden, current_role


def gated_action(services: Any, action: str, target: str, role: str,
                 act: Callable[[], tuple[Any, str]], *, verb: str,
                 params: Mapping[str, Any] | None = None,
                 refusals: tuple[type[Exception], ...] = (ControlError,)) -> Any:
    """Run `act` (its result, the record's detail) once `services` may act and the caller
    holds `role` ("your role may not <verb>"). `params` is read when the record is written,
    so `act` may fill it in; an exception of `refusals` is recorded as refused (an
    unreachable broker as an error), any other as an error."""
    def checked_then_act() -> tuple[Any, str]:
        services.check_writable()
        if rank(current_role()) < rank(role):
            raise Forbidden(f"your role ({current_role() or 'none'}) may not {verb}; it "
                            f"needs {role}")
        return act()
    result, _detail = record_outcome(action, [target], params if params is not None else {},
                                     checked_then_act, lambda done: ("ok", done[1]), refusals)
    return result
