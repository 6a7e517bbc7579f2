"""The OpenAPI 3.0 document of the HTTP API, served at `/api/openapi.json`.

Kept as data, next to the routes it describes: tests/test_openapi.py fails when a route of
the URL map is missing here or a path here has no route, validates the document, and the
fuzz test (tests/test_fuzz_api.py) holds the running API to it.

Flower's parameters are read from the query string or a form body alike (the last value
wins); they are documented as query parameters.
"""
from __future__ import annotations

from typing import Any

from celery.events.state import Task as EventTask
from flask import request

from ..series_spec import GROUPS, METRICS, QUICK_RANGES, STATS, UNITS
from ..services import current
from ..task_filters import MAX_SEARCH, SORTABLE, TIME_FIELDS
from . import api
from .flower import MAX_NUMBER, MAX_POOL_CHANGE, as_json

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
                503: "Unavailable"}


def _responses(ok: Schema, *errors: int) -> Schema:
    """200, 401 (once users are configured) and the listed error statuses, each
    `{"error": "..."}`."""
    return {"200": ok, **{str(status): {"$ref": f"#/components/responses/{_ERROR_NAMES[status]}"}
                          for status in sorted({401, *errors})}}


def _operation(endpoint: str, tag: str, summary: str, responses: Schema,
               parameters: tuple[Schema, ...] = (), body: Schema | None = None) -> Schema:
    """An operation; its operationId is the Flask endpoint that serves it."""
    operation = {"operationId": endpoint, "tags": [tag], "summary": summary,
                 "responses": responses}
    if parameters:
        operation["parameters"] = list(parameters)
    if body is not None:
        operation["requestBody"] = body
    return operation


# -- parameters ------------------------------------------------------------------------

WORKER = _path("workername", "The worker's hostname, as `celery@host`.")
TASK_NAME = _path("taskname", "A task name, e.g. `proj.tasks.add`.")
TASK_ID = _path("taskid", "A task id.")
BOOLEAN = {"type": "boolean", "default": False}
BOOLEAN_NOTE = " Also y/yes/t/on/1 and n/no/f/off/0."
POOL_N = _param("n", {"type": "integer", "minimum": 1, "maximum": MAX_POOL_CHANGE, "default": 1},
                "Processes to add or remove.")
QUEUE = _param("queue", {"type": "string", "pattern": r"\S"}, "Queue name.", required=True)
OPTIONAL_WORKER = _param("workername", {"type": "string"},
                         "Only this worker (without it, every worker).")
SORT_KEYS = [*SORTABLE, *(f"-{key}" for key in SORTABLE)]
FLOWER_TIME = {"type": "string"}
FLOWER_TIME_NOTE = ("'YYYY-MM-DD HH:MM' in the server's local time (as Flower), epoch "
                    "seconds, or ISO-8601 (UTC unless it says otherwise).")
LIST = {"type": "array", "items": {"type": "string"}}
LIST_NOTE = " Repeat it, or separate values with commas."


def _filter_parameters() -> tuple[Schema, ...]:
    """The task grid's filters, shared by /api/tasks.csv (unknown parameters are a 400)."""
    return (
        _param("state", LIST, "Task states such as SUCCESS or FAILURE." + LIST_NOTE),
        _param("name", LIST, "Task names." + LIST_NOTE),
        _param("worker", {"type": "string"}, "Worker hostname."),
        _param("queue", {"type": "string"}, "Queue (or routing key) the task was sent to."),
        _param("time_field", {"type": "string", "enum": list(TIME_FIELDS),
                              "default": "received"},
               "Which lifecycle time `range`, `since` and `until` apply to."),
        _param("range", {"type": "string", "pattern": r"^\s*\d+(\.\d+)?[smhdwSMHDW]\s*$"},
               "A window ending now, such as 15m, 1h, 24h or 7d (wins over since/until)."),
        _param("since", {"type": "string"},
               "Start: epoch seconds, ISO-8601 (UTC unless it says otherwise), or a duration "
               "ago such as 24h."),
        _param("until", {"type": "string"}, "End: epoch seconds or ISO-8601."),
        _param("runtime_min", {"type": "number", "minimum": 0}, "Shortest runtime, seconds."),
        _param("runtime_max", {"type": "number", "minimum": 0}, "Longest runtime, seconds."),
        _param("search", {"type": "string", "maxLength": MAX_SEARCH},
               "Text to find in args, kwargs, result or exception."),
        _param("sort", {"type": "string", "enum": SORT_KEYS, "default": "-received"},
               "Sort column; a '-' prefix sorts descending."),
    )


def _series_parameters() -> tuple[Schema, ...]:
    """An /explore chart's parameters (unknown parameters are a 400)."""
    return (
        _param("metric", {"type": "string", "enum": list(METRICS), "default": "succeeded"},
               "What to count or measure per bucket."),
        _param("group", {"type": "string", "enum": list(GROUPS)},
               "One series per task name, worker or queue (the worker_* metrics group by "
               "worker only, queue_depth by queue only)."),
        _param("name", LIST, "Only these task names." + LIST_NOTE),
        _param("worker", LIST, "Only these workers." + LIST_NOTE),
        _param("queue", LIST, "Only these queues." + LIST_NOTE),
        _param("state", LIST, "Only tasks in these states." + LIST_NOTE),
        _param("range", {"type": "string", "enum": list(QUICK_RANGES), "default": "24h"},
               "A window ending now (the default unless `since` is given)."),
        _param("since", {"type": "string"}, "Start: epoch seconds or ISO-8601."),
        _param("until", {"type": "string"}, "End: epoch seconds or ISO-8601 (default now)."),
        _param("bucket", {"type": "integer", "minimum": 1, "maximum": 30 * 86400},
               "Bucket size in seconds (automatic without it); at most 5000 buckets."),
        _param("top", {"type": "integer", "minimum": 1, "maximum": 20, "default": 8},
               "Groups shown before the rest fold into 'other'."),
        _param("stat", {"type": "string", "enum": list(STATS), "default": "p95"},
               "The percentile a grouped runtime or wait chart plots."),
        _param("unit", {"type": "string", "enum": list(UNITS), "default": "count"},
               "Counts per bucket, or per second."),
    )


def _task_body(with_timeout: bool) -> Schema:
    """Flower's JSON body for sending a task: args, kwargs, and apply_async options."""
    properties: Schema = {
        "args": {"type": "array", "items": {}, "default": []},
        "kwargs": {"type": "object", "additionalProperties": True, "default": {}},
        "countdown": _nullable("number", description="Seconds to wait before running."),
        "eta": _nullable("string", description="'%Y-%m-%d %H:%M:%S.%f' (Flower's) or "
                                               "ISO-8601."),
        "expires": {"oneOf": [{"type": "string"}, {"type": "number"}], "nullable": True,
                    "description": "A time as `eta`, or seconds from now."},
        "priority": {"type": "integer", "minimum": 0, "maximum": 255},
        "queue": {"type": "string"},
        "routing_key": {"type": "string"},
        "exchange": {"type": "string"},
        "task_id": {"type": "string"},
    }
    if with_timeout:
        properties["timeout"] = {"type": "number", "minimum": 0, "exclusiveMinimum": True,
                                 "description": "Seconds to wait for the result; then the "
                                                "state is answered without a result."}
    return {"required": False, "content": {"application/json": {"schema": {
        "type": "object", "properties": properties, "additionalProperties": True,
        "description": "Other keys are passed to apply_async as options."}}}}


# -- responses -------------------------------------------------------------------------

MESSAGE = _json("Done: Flower's message.", _ref("Message"))
CONTROL = ("The command is sent to the named worker only, which must have reported to this "
           "dashboard; 403 when it refuses or does not answer within the inspect timeout.")
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
    "Unavailable": _json("The broker or the result backend cannot be reached (or is not "
                         "configured), or the collector is still starting.", _ref("Error")),
}

SECURITY_SCHEMES: dict[str, Schema] = {
    "basic": {"type": "http", "scheme": "basic",
              "description": "A user of --users-file or --basic-auth."},
    "token": {"type": "http", "scheme": "bearer",
              "description": "An API token from `celery-scope token create`."},
    "session": {"type": "apiKey", "in": "cookie", "name": "celery_scope_session",
                "description": "A browser signed in on /login."},
}

# -- the paths -------------------------------------------------------------------------

PATHS: dict[str, dict[str, Schema]] = {
    "/api/workers": {"get": _operation(
        "api.list_workers", "workers", "Inspector data per worker, from the cache",
        _responses(_json("{hostname: info}, or {hostname: online} with status=true.", {
            "type": "object", "additionalProperties": {
                "oneOf": [_ref("WorkerInfo"), {"type": "boolean"}]}}), 400, 404, 503),
        (_param("refresh", BOOLEAN, "Ask the workers first (waits for their replies)."
                + BOOLEAN_NOTE),
         _param("workername", {"type": "string"}, "Only this worker."),
         _param("status", BOOLEAN, "Only whether each worker is online." + BOOLEAN_NOTE)))},
    "/api/worker/shutdown/{workername}": {"post": _operation(
        "api.worker_shutdown", "workers", "Shut the worker down (it does not reply)",
        _responses(MESSAGE, 403, 404, 503), (WORKER,))},
    "/api/worker/pool/restart/{workername}": {"post": _operation(
        "api.worker_pool_restart", "workers", "Restart the worker's pool. " + CONTROL,
        _responses(MESSAGE, 403, 404, 503), (WORKER,))},
    "/api/worker/pool/grow/{workername}": {"post": _operation(
        "api.worker_pool_grow", "workers", "Add pool processes. " + CONTROL,
        _responses(MESSAGE, 400, 403, 404, 503), (WORKER, POOL_N))},
    "/api/worker/pool/shrink/{workername}": {"post": _operation(
        "api.worker_pool_shrink", "workers", "Remove pool processes. " + CONTROL,
        _responses(MESSAGE, 400, 403, 404, 503), (WORKER, POOL_N))},
    "/api/worker/pool/autoscale/{workername}": {"post": _operation(
        "api.worker_pool_autoscale", "workers", "Set the autoscaler's bounds. " + CONTROL,
        _responses(MESSAGE, 400, 403, 404, 503), (
            WORKER,
            _param("min", {"type": "integer", "minimum": 0, "maximum": MAX_POOL_CHANGE},
                   "Fewest processes.", required=True),
            _param("max", {"type": "integer", "minimum": 1, "maximum": MAX_POOL_CHANGE},
                   "Most processes (not below min).", required=True)))},
    "/api/worker/queue/add-consumer/{workername}": {"post": _operation(
        "api.worker_queue_add_consumer", "workers", "Consume from a queue. " + CONTROL,
        _responses(MESSAGE, 400, 403, 404, 503), (WORKER, QUEUE))},
    "/api/worker/queue/cancel-consumer/{workername}": {"post": _operation(
        "api.worker_queue_cancel_consumer", "workers", "Stop consuming a queue. " + CONTROL,
        _responses(MESSAGE, 400, 403, 404, 503), (WORKER, QUEUE))},
    "/api/task/apply/{taskname}": {"post": _operation(
        "api.task_apply", "tasks", "Send a task and wait for its result",
        _responses(_json("The result (or, after `timeout`, the state).", _ref("TaskResult")),
                   400, 403, 404, 503), (TASK_NAME,), _task_body(with_timeout=True))},
    "/api/task/async-apply/{taskname}": {"post": _operation(
        "api.task_async_apply", "tasks", "Send a task known to the workers or this app",
        _responses(_json("Sent.", _ref("TaskSent")), 400, 403, 404, 503), (TASK_NAME,),
        _task_body(with_timeout=False))},
    "/api/task/send-task/{taskname}": {"post": _operation(
        "api.task_send", "tasks", "Send a task by name, known or not",
        _responses(_json("Sent.", _ref("TaskSent")), 400, 403, 503), (TASK_NAME,),
        _task_body(with_timeout=False))},
    "/api/task/result/{taskid}": {"get": _operation(
        "api.task_result", "tasks", "The result backend's state, and the result once ready",
        _responses(_json("State; result and traceback once ready.", _ref("TaskResult")),
                   400, 503),
        (TASK_ID, _param("timeout", {"type": "number", "minimum": 0},
                         "Seconds to wait for the result.")))},
    "/api/task/abort/{taskid}": {"post": _operation(
        "api.task_abort", "tasks", "Mark an AbortableTask aborted in the result backend",
        _responses(MESSAGE, 400, 403, 503), (TASK_ID,))},
    "/api/task/revoke/{taskid}": {"post": _operation(
        "api.task_revoke", "tasks", "Revoke a task on every worker",
        _responses(MESSAGE, 400, 403, 503), (
            TASK_ID,
            _param("terminate", BOOLEAN, "Also kill it if it runs." + BOOLEAN_NOTE),
            _param("signal", {"type": "string", "default": "SIGTERM"},
                   "Signal name for terminate, such as SIGTERM or SIGKILL.")))},
    "/api/task/timeout/{taskname}": {"post": _operation(
        "api.task_timeout", "tasks", "Set a task's soft and hard time limits. " + CONTROL,
        _responses(MESSAGE, 400, 403, 404, 503), (
            TASK_NAME, OPTIONAL_WORKER,
            _param("soft", {"type": "number", "minimum": 0}, "Soft limit, seconds."),
            _param("hard", {"type": "number", "minimum": 0},
                   "Hard limit, seconds (not below soft).")))},
    "/api/task/rate-limit/{taskname}": {"post": _operation(
        "api.task_rate_limit", "tasks", "Set a task's rate limit. " + CONTROL,
        _responses(MESSAGE, 400, 403, 404, 503), (
            TASK_NAME, OPTIONAL_WORKER,
            _param("ratelimit", {"type": "string"}, "Tasks per second, or per minute or "
                   "hour such as 10/m or 100/h; 0 removes the limit.", required=True)))},
    "/api/tasks": {"get": _operation(
        "api.list_tasks", "tasks", "The stored history, newest received first",
        _responses(_json("{uuid: task} in order.", {
            "type": "object", "additionalProperties": _ref("Task")}), 400), (
            _param("limit", {"type": "integer", "minimum": 0, "maximum": MAX_NUMBER},
                   "At most this many (without it: every match)."),
            _param("offset", {"type": "integer", "maximum": MAX_NUMBER, "default": 0},
                   "Skip this many (negative counts as 0)."),
            _param("sort_by", {"type": "string", "enum": SORT_KEYS},
                   "Sort column; a '-' prefix sorts descending."),
            _param("workername", {"type": "string"}, "Worker hostname."),
            _param("taskname", {"type": "string"}, "Task name ('All' for any)."),
            _param("state", {"type": "string"},
                   "Task state, or several separated by commas ('All' for any)."),
            *(_param(name, FLOWER_TIME, FLOWER_TIME_NOTE) for name in (
                "received_start", "received_end", "started_start", "started_end")),
            _param("search", {"type": "string", "maxLength": MAX_SEARCH},
                   "Text to find in args, kwargs, result or exception.")))},
    "/api/task/types": {"get": _operation(
        "api.list_task_types", "tasks", "Every task name in the history",
        _responses(_json("Names in order.", {"type": "object", "required": ["task-types"],
                                             "properties": {"task-types": LIST}})))},
    "/api/task/info/{taskid}": {"get": _operation(
        "api.task_info", "tasks", "One stored task",
        _responses(_json("The task.", _ref("Task")), 404), (TASK_ID,))},
    "/api/queues/length": {"get": _operation(
        "api.list_queue_lengths", "queues", "Messages ready in each queue the workers consume",
        _responses(_json("Sorted by name.", _ref("QueueLengths")), 503))},
    "/api/tasks.csv": {"get": _operation(
        "api.tasks_csv", "export", "The filtered, sorted history as CSV, streamed",
        _responses(_text("ISO-8601 UTC times and epoch seconds.", "text/csv"), 400),
        _filter_parameters())},
    "/api/series": {"get": _operation(
        "api.series_json", "export", "The numbers behind an /explore chart",
        _responses(_json("One row per bucket.", _ref("Series")), 400), _series_parameters())},
    "/api/series.csv": {"get": _operation(
        "api.series_download", "export", "The same as CSV",
        _responses(_text("One row per bucket.", "text/csv"), 400), _series_parameters())},
    "/api/openapi.json": {"get": _operation(
        "api.openapi_document", "monitoring", "This document",
        _responses(_json("OpenAPI 3.0.", {"type": "object"})))},
    "/healthcheck": {"get": _operation(
        "healthcheck", "monitoring", "OK while the web server runs (as Flower)",
        _responses(_text("OK (as text/html, like Flower's).", "text/html")))},
    "/metrics": {"get": _operation(
        "metrics", "monitoring", "Prometheus metrics, with Flower's names",
        _responses(_text("The Prometheus text format.", "text/plain")))},
}


def document(server_url: str) -> Schema:
    """The whole document, its paths relative to `server_url` (where the API is served)."""
    return {
        "openapi": "3.0.3",
        "info": {"title": "celery-scope", "version": "1",
                 "description": "Flower 2.2's REST API (same paths, parameters and shapes), "
                                "the task history export and the /explore series. Errors "
                                "are JSON {\"error\": \"...\"}."},
        "servers": [{"url": server_url}],
        "tags": [{"name": name} for name in ("workers", "tasks", "queues", "export",
                                             "monitoring")],
        "paths": PATHS,
        # Open when no users are configured ({}); else any one of these.
        "security": [{}, *({name: []} for name in SECURITY_SCHEMES)],
        "components": {"schemas": SCHEMAS, "responses": RESPONSES,
                       "securitySchemes": SECURITY_SCHEMES},
    }


@api.get("/api/openapi.json")
def openapi_document():
    prefix = current().settings.pathname_prefix.rstrip("/")
    return as_json(document(request.script_root + prefix or "/"))
