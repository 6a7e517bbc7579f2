"""The OpenAPI paths of the audit trail and of purging a queue (merged into openapi.py's
PATHS), with the trail's filter parameters."""
from __future__ import annotations

from typing import Any

from ..audit.trail import OUTCOMES
from .flower import MAX_NUMBER
from .openapi_schemas import _json, _operation, _param, _path, _ref, _responses, _text

Schema = dict[str, Any]
LIST = {"type": "array", "items": {"type": "string"}}
LIST_NOTE = " Repeat it, or separate values with commas."


def _audit_parameters() -> tuple[Schema, ...]:
    """The audit trail's filters (unknown parameters are a 400)."""
    return (
        _param("user", LIST, "User names." + LIST_NOTE),
        _param("action", LIST, "Actions, such as worker_pool_grow or queue_purge." + LIST_NOTE),
        _param("outcome", {"type": "array", "items": {
            "type": "string", "enum": list(OUTCOMES)}},
               "Outcomes." + LIST_NOTE),
        _param("since", {"type": "string"},
               "Start: epoch seconds, ISO-8601 (UTC unless it says otherwise), or a duration "
               "ago such as 24h."),
        _param("until", {"type": "string"}, "End: epoch seconds or ISO-8601."),
    )



AUDIT_PATHS: dict[str, dict[str, Schema]] = {
    "/api/queues/purge/{name}": {"post": _operation(
        "api.queue_purge", "queues", "Delete every message waiting in a queue (admin)",
        _responses(_json("How many went.", _ref("Purged")), 403, 404, 503),
        (_path("name", "A queue the cluster uses, or one /broker lists."),))},
    "/api/audit": {"get": _operation(
        "api.audit_json", "monitoring", "The audit trail: actions on the cluster, newest first",
        _responses(_json("A page of records and the total.", _ref("Audit")), 400, 503),
        (*_audit_parameters(),
         _param("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
                "Records in the page."),
         _param("before", {"type": "integer", "minimum": 1, "maximum": MAX_NUMBER},
                "Only records with a smaller id (the last id of the previous page).")))},
    "/api/audit.csv": {"get": _operation(
        "api.audit_csv", "export", "The filtered audit trail as CSV, streamed",
        _responses(_text("id, at_utc, at, user, role, via, action, targets, filter, count, "
                         "params, outcome, detail.", "text/csv"), 400, 503),
        _audit_parameters())},
}
