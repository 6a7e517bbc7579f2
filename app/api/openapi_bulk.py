"""The OpenAPI paths of bulk retry and revoke and of their jobs (merged into openapi.py's
PATHS)."""
from __future__ import annotations

from typing import Any

from ..bulk.actions import ADMIN_OVER, DEFAULT_RATE, MAX_RATE, SYNC_MAX
from .openapi_schemas import _json, _operation, _param, _path, _responses

Schema = dict[str, Any]
_IDS = {"type": "array", "items": {"type": "string", "minLength": 1}}
_PAIRS = {"type": "array", "items": {"type": "object", "additionalProperties": True}}
_REFUSED = {"type": "array", "items": {"type": "object", "required": ["id", "reason"],
                                       "properties": {"id": {"type": "string"},
                                                      "reason": {"type": "string"}}}}
REPORT: Schema = {"type": "object", "properties": {
    "matched": {"type": "integer"}, "eligible": {"type": "integer"},
    "refused": _REFUSED, "refused_count": {"type": "integer"},
    "sent": _PAIRS, "dry_run": {"type": "boolean"},
    "job": {"type": "string", "description": "Only on 202: the job's id."},
    "state": {"type": "string"}}}
JOB: Schema = {"type": "object", "properties": {
    "id": {"type": "string"}, "kind": {"type": "string", "enum": ["retry", "revoke"]},
    "state": {"type": "string", "enum": ["running", "done", "cancelled", "failed", "lost"]},
    "username": {"type": "string", "nullable": True}, "created": {"type": "number"},
    "updated": {"type": "number"}, "matched": {"type": "integer"},
    "total": {"type": "integer"}, "done": {"type": "integer"},
    "cancel_requested": {"type": "number", "nullable": True},
    "sent": _PAIRS, "sent_count": {"type": "integer"}, "refused": _REFUSED,
    "refused_count": {"type": "integer"}}}
_SELECTION = (f"Either `ids` or `filter` (the task grid's query string, e.g. "
              f"`state=FAILURE&name=proj.charge`). A dry run unless `dry_run` is false. Up "
              f"to {SYNC_MAX} eligible tasks are sent at once (200); more start a job (202) "
              f"sending `rate` per second; more than {ADMIN_OVER:,} need admin. Each refusal "
              "says why.")


def _body(extra: Schema) -> Schema:
    properties: Schema = {
        "ids": _IDS, "filter": {"type": "string"},
        "dry_run": {"type": "boolean", "default": True},
        "rate": {"type": "number", "minimum": 0, "exclusiveMinimum": True,
                 "maximum": MAX_RATE, "default": DEFAULT_RATE},
        **extra}
    return {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "properties": properties, "additionalProperties": False}}}}


def _dry_run_parameters() -> tuple[Schema, ...]:
    return (_param("ids", _IDS, "Task ids (repeat it, or separate them with commas)."),
            _param("filter", {"type": "string"}, "The task grid's query string."))


def _answers() -> Schema:
    responses = _responses(_json("The report (a dry run's sends nothing).", REPORT),
                           400, 403, 503)
    responses["202"] = _json("A job started; its progress is at /api/jobs/{id}.", REPORT)
    return responses


_JOB_ID = (_path("job_id", "A job's id, as the 202 answered."),)
BULK_PATHS: dict[str, dict[str, Schema]] = {
    "/api/tasks/retry": {
        "post": _operation(
            "api.tasks_retry", "tasks",
            "Send failed tasks again with their exact arguments and routing (operator; a "
            '"dry_run": true body is open to viewers). '
            + _SELECTION, _answers(), body=_body({"priority": {
                "type": "integer", "minimum": 0, "maximum": 255,
                "description": "No event records a priority: none leaves the task's own."}})),
        "get": _operation("api.tasks_retry_dry_run", "tasks",
                          "The retry's dry run (viewer; also in read-only mode)",
                          _responses(_json("The dry run.", REPORT), 400, 503),
                          _dry_run_parameters())},
    "/api/tasks/revoke": {
        "post": _operation(
            "api.tasks_revoke", "tasks", "Revoke (or terminate) tasks (operator; a "
            '"dry_run": true body is open to viewers). ' + _SELECTION,
            _answers(), body=_body({"terminate": {"type": "boolean", "default": False},
                                    "signal": {"type": "string", "default": "SIGTERM"}})),
        "get": _operation("api.tasks_revoke_dry_run", "tasks",
                          "The revoke's dry run (viewer; also in read-only mode)",
                          _responses(_json("The dry run.", REPORT), 400, 503),
                          _dry_run_parameters())},
    "/api/jobs/{job_id}": {
        "get": _operation("api.job_progress", "tasks", "A bulk job's progress and report",
                          _responses(_json("The job.", JOB), 404, 503), _JOB_ID),
        "delete": _operation("api.job_cancel", "tasks", "Cancel a running job (operator)",
                             _responses(_json("The job as it stands.", JOB), 400, 403, 404,
                                        503),
                             _JOB_ID)},
    "/api/jobs/{job_id}/cancel": {
        "post": _operation("api.job_cancel_post", "tasks", "Cancel a running job (operator)",
                           _responses(_json("The job as it stands.", JOB), 400, 403, 404, 503),
                           _JOB_ID)},
}
