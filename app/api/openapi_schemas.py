"""The OpenAPI document's building blocks: schema helpers and the component schemas,
responses and security schemes every path refers to."""
from __future__ import annotations

from typing import Any

from celery.events.state import Task as EventTask

Schema = dict[str, Any]


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(kind: str, **more: Any) -> Schema:
    return {"type": kind, "nullable": True, **more}


def _param(name: str, schema: Schema, description: str, where: str = "query",
           required: bool = False) -> Schema:
    """An optional query parameter may be given empty: that counts as not given."""
    parameter = {"name": name, "in": where, "required": required or where == "path",
                 "description": description, "schema": schema}
    if where == "query" and not required:
        parameter["allowEmptyValue"] = True
    return parameter


def _path(name: str, description: str) -> Schema:
    return _param(name, {"type": "string", "minLength": 1}, description, "path")


def _json(description: str, schema: Schema) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _text(description: str, mimetype: str) -> Schema:
    return {"description": description, "content": {mimetype: {"schema": {"type": "string"}}}}


_ERROR_NAMES = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
                409: "Conflict", 503: "Unavailable"}


def _responses(ok: Schema, *errors: int) -> Schema:
    """200, 401 (once users are configured) and the listed error statuses, each
    `{"error": "..."}`."""
    return {"200": ok, **{str(status): {"$ref": f"#/components/responses/{_ERROR_NAMES[status]}"}
                          for status in sorted({401, *errors})}}


def _operation(endpoint: str, tag: str, summary: str, responses: Schema,
               parameters: tuple[Schema, ...] = (), body: Schema | None = None) -> Schema:
    """An operation; its operationId is the Flask endpoint that serves it."""
    operation: Schema = {"operationId": endpoint, "tags": [tag], "summary": summary,
                         "responses": responses}
    if parameters:
        operation["parameters"] = list(parameters)
    if body is not None:
        operation["requestBody"] = body
    return operation



TASK_FIELD_TYPES: dict[str, Schema] = {
    **{name: _nullable("number") for name in (
        "received", "sent", "started", "rejected", "succeeded", "failed", "retried", "revoked",
        "timestamp", "runtime", "clock")},
    "retries": _nullable("integer"),
    "children": {"type": "array", "items": {"type": "string"}},
}

SCHEMAS: dict[str, Schema] = {
    "Error": {"type": "object", "required": ["error"],
              "properties": {"error": {"type": "string"}}},
    "Message": {"type": "object", "required": ["message"],
                "properties": {"message": {"type": "string"}}},
    "WorkerInfo": {
        "type": "object",
        "description": "The worker's latest reply to each Inspector method, as Flower's.",
        "properties": {
            "stats": _nullable("object"), "conf": _nullable("object"),
            **{method: _nullable("array") for method in (
                "active_queues", "registered", "scheduled", "active", "reserved", "revoked")},
            "timestamp": _nullable("number", description="When it was inspected, epoch s."),
        }},
    "Task": {
        "type": "object",
        "description": "celery's Task.as_dict() as Flower answers it, plus the queue.",
        "required": [*EventTask._fields, "queue"],
        "properties": {**{name: TASK_FIELD_TYPES.get(name, _nullable("string"))
                          for name in EventTask._fields}, "queue": _nullable("string")}},
    "TaskSent": {"type": "object", "required": ["task-id"], "properties": {
        "task-id": {"type": "string"},
        "state": {"type": "string", "description": "With a result backend only."}}},
    "TaskResult": {"type": "object", "required": ["task-id", "state"], "properties": {
        "task-id": {"type": "string"}, "state": {"type": "string"},
        "result": {"nullable": True,
                   "description": "Once ready: the result if it is JSON, else its repr."},
        "traceback": _nullable("string", description="When the task failed.")}},
    "QueueLengths": {"type": "object", "required": ["active_queues"], "properties": {
        "active_queues": {"type": "array", "items": {
            "type": "object", "required": ["name", "messages"], "properties": {
                "name": {"type": "string"},
                "messages": {"type": "integer", "description": "Messages ready."}}}}}},
    "Queues": {"type": "object", "required": ["queues", "sample_interval"], "properties": {
        "sample_interval": {"type": "number", "description": "Seconds between two samples."},
        "queues": {"type": "array", "items": {
            "type": "object", "required": ["name", "messages", "consumers", "latency_seconds",
                                           "latency_source", "no_consumer"], "properties": {
                "name": {"type": "string"},
                "messages": _nullable("integer", description=(
                    "Messages ready; null: not sampled, or the broker could not be asked.")),
                "consumers": {"type": "integer", "description": "Online consuming workers."},
                "latency_seconds": _nullable("number", description=(
                    "How long the oldest waiting message has waited (0 when the queue is "
                    "empty); null: unknown (RabbitMQ without a publisher timestamp or "
                    "--broker-api, other transports).")),
                "latency_source": _nullable("string", enum=["sent", "first_seen", None],
                                            description=(
                    "sent: from the task-sent event (or the publisher's timestamp); "
                    "first_seen: since the collector first saw the message waiting, a lower "
                    "bound to one sample interval.")),
                "priorities": _nullable("array", description=(
                    "Redis: each priority level holding messages, with its own latency."),
                    items={"type": "object", "properties": {
                        "priority": {"type": "integer"}, "messages": {"type": "integer"},
                        "latency_seconds": _nullable("number"),
                        "latency_source": _nullable("string")}}),
                "no_consumer": {"type": "boolean", "description": (
                    "Messages wait and no online worker consumes the queue.")},
                "sampled_at": _nullable("number", description="Epoch s.")}}}}},
    "Quarantine": {"type": "object", "required": ["total", "entries"], "properties": {
        "total": {"type": "integer"},
        "entries": {"type": "array", "items": {
            "type": "object", "required": ["id", "at", "reason", "raw"], "properties": {
                "id": {"type": "integer"},
                "at": {"type": "number", "description": "When it was set aside, epoch s."},
                "reason": {"type": "string"},
                "raw": {"type": "string", "description": "The message or event as text."}}}}}},
    "Issues": {"type": "object", "required": ["total_failures", "total_issues", "start", "end",
                                              "bucket_seconds", "issues"], "properties": {
        "total_failures": {"type": "integer", "description": "Failures in the window."},
        "total_issues": {"type": "integer", "description": "Groups in the window."},
        "total_recovered": {"type": "integer"}, "total_dead": {"type": "integer"},
        "start": {"type": "number", "description": "The sparklines' start, epoch s."},
        "end": {"type": "number"},
        "bucket_seconds": {"type": "number", "description": "Each sparkline bar's span."},
        "issues": {"type": "array", "items": {"type": "object", "properties": {
            "issue": {"type": "string", "description": "Fingerprint: search issue:<it>."},
            "task_name": {"type": "string"}, "exception_type": {"type": "string"},
            "message": {"type": "string",
                        "description": "Ids, numbers, hex and quoted values folded."},
            "count": {"type": "integer"}, "first_seen": {"type": "number"},
            "last_seen": {"type": "number"},
            "workers": {"type": "integer", "description": "Workers affected."},
            "recovered": {"type": "integer", "description": "Succeeded after a retry."},
            "dead": {"type": "integer", "description": "Failed for good."},
            "retrying": {"type": "integer", "description": "Retried, not finished."},
            "sample_id": {"type": "string", "description": "The newest failure's task id."},
            "sample_exception": {"type": "string"},
            "sparkline": {"type": "array", "items": {"type": "integer"}},
            "tasks_url": {"type": "string", "description": "The task grid of this issue."}}}}}},
    "Purged": {"type": "object", "required": ["queue", "removed", "message"], "properties": {
        "queue": {"type": "string"},
        "removed": {"type": "integer", "description": "Messages deleted."},
        "message": {"type": "string"}}},
    "Audit": {"type": "object", "required": ["total", "entries"], "properties": {
        "total": {"type": "integer"},
        "entries": {"type": "array", "items": {
            "type": "object",
            "required": ["id", "at", "user", "role", "via", "action", "targets", "filter",
                         "count", "params", "outcome", "detail"],
            "properties": {
                "id": {"type": "integer"},
                "at": {"type": "number", "description": "When, epoch seconds."},
                "user": {"type": "string"}, "role": {"type": "string"},
                "via": {"type": "string", "description": "session, basic, token, open or cli."},
                "action": {"type": "string"},
                "targets": {"type": "array", "items": {"type": "string"}},
                "filter": _nullable("string", description="A bulk action's query string."),
                "count": _nullable("integer", description="How many a bulk action touched."),
                "params": {"type": "object"},
                "outcome": {"type": "string", "enum": ["ok", "refused", "error", "dry-run"]},
                "detail": {"type": "string"}}}}}},
    "Series": {"type": "object", "required": ["metric", "group", "unit", "start", "end",
                                              "bucket_seconds", "columns", "rows"],
               "properties": {
                   "metric": {"type": "string"}, "group": _nullable("string"),
                   "unit": {"type": "string"}, "start": {"type": "number"},
                   "end": {"type": "number"}, "bucket_seconds": {"type": "integer"},
                   "columns": {"type": "array", "items": {"type": "string"},
                               "description": "bucket_start, then one column per series."},
                   "rows": {"type": "array", "items": {"type": "array", "items": {
                       "type": "number", "nullable": True}}}}},
}

RESPONSES: dict[str, Schema] = {
    "BadRequest": _json("A malformed parameter or body.", _ref("Error")),
    "Unauthorized": _json("No valid credentials, once users are configured (/metrics and "
                          "/healthcheck stay open unless --auth-metrics).", _ref("Error")),
    "Forbidden": _json("Refused: celery-scope runs read-only (every POST), the caller's role "
                       "may not do this, a signed-in browser's request came from another "
                       "site, or the worker refused the command or did not answer in time.",
                       _ref("Error")),
    "NotFound": _json("An unknown worker, task or task name.", _ref("Error")),
    "Conflict": _json("The change clashes with what exists: a name already taken, or a rule "
                      "defined in the config file.", _ref("Error")),
    "Unavailable": _json("The broker or the result backend cannot be reached (or is not "
                         "configured), the collector is still starting, or the history store "
                         "cannot be reached (\"store unreachable\").", _ref("Error")),
}

SECURITY_SCHEMES: dict[str, Schema] = {
    "basic": {"type": "http", "scheme": "basic",
              "description": "A user of --users-file or --basic-auth."},
    "token": {"type": "http", "scheme": "bearer",
              "description": "An API token from `celery-scope token create`."},
    "session": {"type": "apiKey", "in": "cookie", "name": "celery_scope_session",
                "description": "A browser signed in on /login."},
}

