"""The OpenAPI 3.0 document of the HTTP API, served at `/api/openapi.json`.

Kept as data, next to the routes it describes: tests/test_openapi.py fails when a route of
the URL map is missing here or a path here has no route, validates the document, and the
fuzz test (tests/test_fuzz_api.py) holds the running API to it.

Flower's parameters are read from the query string or a form body alike (the last value
wins); they are documented as query parameters.
"""
from __future__ import annotations

from typing import Any

from flask import Response, abort, request, send_from_directory

from ..series.spec import GROUPS, METRICS, QUICK_RANGES, STATS, UNITS
from ..services import current
from ..tasks.filters import MAX_SEARCH, SORTABLE, TIME_FIELDS
from . import api
from .flower import MAX_NUMBER, MAX_POOL_CHANGE, as_json
from .openapi_alerts import ALERT_PATHS
from .openapi_audit import AUDIT_PATHS
from .openapi_beat import BEAT_PATHS
from .openapi_beat_actions import BEAT_ACTION_PATHS
from .openapi_bulk import BULK_PATHS
from .openapi_schemas import (
    RESPONSES,
    SCHEMAS,
    SECURITY_SCHEMES,
    _json,
    _nullable,
    _operation,
    _param,
    _path,
    _ref,
    _responses,
    _text,
)

Schema = dict[str, Any]


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
               "Text to find in the task id, name, worker, args, kwargs, result or exception."),
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
               "worker only, queue_depth and queue_latency by queue only)."),
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
            "type": "object", "additionalProperties": _ref("Task")}), 400, 503), (
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
                   "Text to find in the task id, name, worker, args, kwargs, result or "
                   "exception.")))},
    "/api/task/types": {"get": _operation(
        "api.list_task_types", "tasks", "Every task name in the history",
        _responses(_json("Names in order.", {"type": "object", "required": ["task-types"],
                                             "properties": {"task-types": LIST}}), 503))},
    "/api/task/info/{taskid}": {"get": _operation(
        "api.task_info", "tasks", "One stored task",
        _responses(_json("The task.", _ref("Task")), 404, 503), (TASK_ID,))},
    "/api/queues/length": {"get": _operation(
        "api.list_queue_lengths", "queues", "Messages ready in each queue the workers consume",
        _responses(_json("Sorted by name.", _ref("QueueLengths")), 503))},
    "/api/queues": {"get": _operation(
        "api.list_queues", "queues", "Every queue's depth, oldest message's wait and consumers",
        _responses(_json("The collector's newest sample of each queue, sorted by name.",
                         _ref("Queues")), 503))},
    "/api/tasks.csv": {"get": _operation(
        "api.tasks_csv", "export", "The filtered, sorted history as CSV, streamed",
        _responses(_text("ISO-8601 UTC times and epoch seconds.", "text/csv"), 400, 503),
        _filter_parameters())},
    "/api/issues": {"get": _operation(
        "api.issues_json", "tasks", "Failures grouped into issues, newest first",
        _responses(_json("Groups by task name, exception type and folded message.",
                         _ref("Issues")), 400, 503),
        (*(parameter for parameter in _filter_parameters()
           if parameter["name"] not in ("time_field", "sort")),
         _param("limit", {"type": "integer", "minimum": 1, "maximum": 500, "default": 50},
                "Groups answered.")))},
    "/api/series": {"get": _operation(
        "api.series_json", "export", "The numbers behind an /explore chart",
        _responses(_json("One row per bucket.", _ref("Series")), 400, 503),
        _series_parameters())},
    "/api/series.csv": {"get": _operation(
        "api.series_download", "export", "The same as CSV",
        _responses(_text("One row per bucket.", "text/csv"), 400, 503), _series_parameters())},
    "/api/quarantine": {"get": _operation(
        "api.quarantine_json", "monitoring", "Events the collector set aside, newest first",
        _responses(_json("A page of entries and the total.", _ref("Quarantine")), 400, 503),
        (_param("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
                "Entries in the page."),
         _param("before", {"type": "integer", "minimum": 1, "maximum": MAX_NUMBER},
                "Only entries with a smaller id (the last id of the previous page).")))},
    "/api/quarantine.csv": {"get": _operation(
        "api.quarantine_csv", "monitoring", "Every quarantined event as CSV, streamed",
        _responses(_text("id, at_utc, at, reason, raw.", "text/csv"), 503))},
    **AUDIT_PATHS,
    **ALERT_PATHS,
    **BEAT_ACTION_PATHS,
    **BULK_PATHS,
    **BEAT_PATHS,
    "/api/openapi.json": {"get": _operation(
        "api.openapi_document", "monitoring", "This document",
        _responses(_json("OpenAPI 3.0.", {"type": "object"})))},
    "/api/docs": {"get": _operation(
        "api.api_reference", "monitoring", "This document, to read (Swagger UI)",
        _responses(_text("An HTML page.", "text/html")))},
    "/api/docs/{version}/{filename}": {"get": _operation(
        "api.api_reference_file", "monitoring", "The reference page's script and stylesheet",
        _responses(_text("Swagger UI's files, from the swagger-ui-bundle package.",
                         "text/javascript"), 404),
        (_path("version", "Swagger UI's version."), _path("filename", "The file's name.")))},
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


# -- the reference to read: Swagger UI, served from its Python package (no CDN) ----------

_REFERENCE_FILES = ("swagger-ui.css", "swagger-ui-bundle.js")
_REFERENCE_START = """window.addEventListener('load', function () {
    var place = document.getElementById('swagger-ui');
    window.ui = SwaggerUIBundle({url: place.dataset.document, dom_id: '#swagger-ui',
        deepLinking: true, validatorUrl: null, defaultModelsExpandDepth: 0,
        presets: [SwaggerUIBundle.presets.apis], layout: 'BaseLayout'});
});
"""
# Light always (Swagger UI has no dark theme); the navbar is the dashboard's own.
_REFERENCE_PAGE = """<!DOCTYPE html>
<html lang="en" data-theme="light"><head><meta charset="utf-8">
<title>API reference · celery-scope</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="{base}_favicon.ico">
<link rel="stylesheet" href="{base}assets/style.css">
<link rel="stylesheet" href="{files}/swagger-ui.css">
</head><body>
<nav class="navbar"><a class="brand" href="{base}">celery-scope</a>
<div class="nav-links"><a class="nav-link" href="{base}">Dashboard</a>
<a class="nav-link" href="{base}tasks">Tasks</a>
<a class="nav-link current" href="{base}api/docs">API reference</a>
<a class="nav-link" href="{document}">openapi.json</a></div></nav>
<main id="swagger-ui" data-document="{document}"></main>
<script src="{files}/swagger-ui-bundle.js"></script>
<script src="{files}/start.js"></script>
</body></html>
"""


def _swagger_ui() -> tuple[str, str]:
    """(its version, its folder), from the swagger-ui-bundle package."""
    from swagger_ui_bundle import swagger_ui_path
    folder = str(swagger_ui_path)
    return folder.rsplit("swagger-ui-", 1)[-1], folder


@api.get("/api/docs")
def api_reference():
    """The document above, to read and try: the same auth as the API guards it."""
    base = request.script_root + current().settings.pathname_prefix
    version, _folder = _swagger_ui()
    page = _REFERENCE_PAGE.format(files=f"{base}api/docs/{version}", base=base,
                                  document=f"{base}api/openapi.json")
    return Response(page, mimetype="text/html")


@api.get("/api/docs/<version>/<filename>")
def api_reference_file(version: str, filename: str):
    """Swagger UI's files under their version (so they may be cached for a year)."""
    current_version, folder = _swagger_ui()
    if version != current_version:
        abort(404)
    if filename == "start.js":
        response = Response(_REFERENCE_START, mimetype="text/javascript")
    elif filename in _REFERENCE_FILES:
        response = send_from_directory(folder, filename)
    else:
        abort(404)
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    return response
