"""The OpenAPI paths of the periodic-task reads (merged into openapi.py's PATHS)."""
from __future__ import annotations

from typing import Any

from ..beat.status import STATUSES
from ..beat.view import MAX_RUNS
from .openapi_schemas import _json, _nullable, _operation, _param, _path, _responses

Schema = dict[str, Any]
ENTRY = _path("entry", "The periodic task's name, as /api/beat lists it (slashes allowed).")
_TEXT = {"type": "string"}

_ROW: Schema = {"type": "object", "required": ["name", "task", "status"], "properties": {
    "name": _TEXT, "task": _TEXT,
    "schedule_text": {"type": "string", "description": "The schedule in plain words."},
    "args": {"type": "string", "description": "As Celery renders them in events."},
    "kwargs": _TEXT, "queue": _nullable("string"), "enabled": {"type": "boolean"},
    "source": {"type": "string", "enum": ["app", "django", "redbeat"]},
    "next_due": _nullable("number", description="Epoch s; in the past when overdue."),
    "last_run_uuid": _nullable("string"), "last_run_state": _nullable("string"),
    "last_run_runtime": _nullable("number"),
    "last_run_at": _nullable("number", description=(
        "When the newest matched run was sent (or received), else the scheduler's own "
        "record, epoch s.")),
    "runs_24h": {"type": "integer"},
    "total_run_count": _nullable("integer", description="As django-celery-beat or RedBeat "
                                                        "recorded it."),
    "status": {"type": "string", "enum": list(STATUSES)},
    "problem": _nullable("string")}}

BEAT_PATHS: dict[str, dict[str, Schema]] = {
    "/api/beat": {"get": _operation(
        "api.beat_json", "tasks", "Every periodic task (the app's beat_schedule, "
                                  "django-celery-beat, RedBeat) with its next due, last run and "
                                  "status",
        _responses(_json("The entries, and a line per source that could not be read.", {
            "type": "object", "required": ["entries", "source_problems", "tolerance"],
            "properties": {"entries": {"type": "array", "items": _ROW},
                           "source_problems": {"type": "array", "items": _TEXT},
                           "tolerance": {"type": "number", "description": "Seconds."}}}),
            503))},
    "/api/beat/{entry}/runs": {"get": _operation(
        "api.beat_entry_runs", "tasks", "A periodic task's runs (matched by task name and "
                                        "args, or the worker hook), newest first",
        _responses(_json("The runs as task rows.", {
            "type": "object", "required": ["entry", "since", "runs"], "properties": {
                "entry": _TEXT, "since": {"type": "number"},
                "runs": {"type": "array", "items": {"type": "object"}}}}), 400, 404, 503),
        (ENTRY,
         _param("since", {"type": "string"}, "Start: epoch seconds, ISO-8601, or a duration "
                                             "ago such as 24h (default 24h)."),
         _param("limit", {"type": "integer", "minimum": 1, "maximum": MAX_RUNS,
                          "default": 100}, "Runs listed at most.")))},
}
