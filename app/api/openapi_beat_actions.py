"""The OpenAPI paths of the periodic-task actions (merged into openapi.py's PATHS)."""
from __future__ import annotations

from typing import Any

from .openapi_schemas import _json, _operation, _path, _responses

Schema = dict[str, Any]
ENTRY = _path("entry", "The periodic task's name, as /api/beat lists it.")
_SENT: Schema = {"type": "object", "required": ["task-id", "entry"], "properties": {
    "task-id": {"type": "string", "description": "The new task's id (its page: /task/<id>)."},
    "entry": {"type": "string"}}}
_SWITCHED: Schema = {"type": "object", "required": ["entry", "source", "enabled", "changed"],
                     "properties": {
                         "entry": {"type": "string"},
                         "source": {"type": "string", "enum": ["django", "redbeat"]},
                         "enabled": {"type": "boolean", "description": "As it stands now."},
                         "changed": {"type": "boolean",
                                     "description": "False: it already was as asked."}}}
_NOT_SWITCHABLE = (" An entry of the app's own beat_schedule cannot be switched: 409 "
                   "{\"error\": \"...\"} says so.")


def _switch(verb: str, endpoint: str) -> Schema:
    return {"post": _operation(
        endpoint, "tasks", f"{verb} a django-celery-beat or RedBeat periodic task (admin): "
                           f"its running beat notices within its sync interval."
                           + _NOT_SWITCHABLE,
        _responses(_json("The entry as it stands.", _SWITCHED), 400, 403, 404, 409, 503),
        (ENTRY,))}


BEAT_ACTION_PATHS: dict[str, dict[str, Schema]] = {
    "/api/beat/{entry}/run": {"post": _operation(
        "api.beat_run", "tasks", "Run a periodic task now (operator): its task, args, kwargs, "
                                 "queue, exchange, routing key, priority and headers",
        _responses(_json("Sent.", _SENT), 400, 403, 404, 503), (ENTRY,))},
    "/api/beat/{entry}/enable": _switch("Enable", "api.beat_enable"),
    "/api/beat/{entry}/disable": _switch("Disable", "api.beat_disable"),
}
