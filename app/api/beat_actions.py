"""POST /api/beat/<entry>/run (operator), /enable and /disable (admin): the /beat page's
actions (beat/actions.py), with their refusals as JSON: 403 read-only or a role that may
not, 404 an entry no schedule source lists, 409 an entry only its code can switch off."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..auth.roles import Forbidden
from ..beat import actions
from ..services import current
from . import api
from .flower import ApiError, as_json

_STATUS = ((Forbidden, 403), (actions.UnknownEntry, 404), (actions.NotSwitchable, 409))


def _answer(act: Callable[[], dict[str, Any]]):
    try:
        return as_json(act())
    except tuple(kind for kind, _ in _STATUS) as exc:
        status = next(code for kind, code in _STATUS if isinstance(exc, kind))
        raise ApiError(str(exc), status) from None


@api.post("/api/beat/<text:entry>/run")
def beat_run(entry: str):
    """Send the entry's task now with its args, kwargs and routing; the new task's id."""
    def run() -> dict[str, Any]:
        task_id = actions.run_now(current(), entry)
        return {"task-id": task_id, "entry": entry}

    return _answer(run)


def _switch(entry: str, enabled: bool):
    def switch() -> dict[str, Any]:
        switched = actions.set_enabled(current(), entry, enabled)
        return {"entry": entry, "source": switched.entry.source,
                "enabled": switched.entry.enabled, "changed": switched.changed}

    return _answer(switch)


@api.post("/api/beat/<text:entry>/enable")
def beat_enable(entry: str):
    return _switch(entry, True)


@api.post("/api/beat/<text:entry>/disable")
def beat_disable(entry: str):
    return _switch(entry, False)
