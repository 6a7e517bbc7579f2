"""The HTTP API (Flask blueprint): JSON errors, and the task history export.

A store that cannot be reached makes any route of the app (pages' requests too) answer 503
`{"error": "store unreachable"}`; a stream it cuts short is aborted (see streaming.py).
"""
from __future__ import annotations

from datetime import datetime, timezone
from itertools import chain

from flask import Blueprint, Response, jsonify, request, stream_with_context
from flask.blueprints import BlueprintSetupState
from werkzeug.routing import PathConverter

from ..broker.control import ReadOnly, UnknownWorker
from ..broker.gate import BrokerUnavailable, ControlError
from ..query_string import FilterError
from ..services import current
from ..store.outage import STORE_ERRORS, STORE_UNREACHABLE, is_unreachable
from ..tasks import queries as task_queries
from ..tasks.filters import TaskFilter, parse_filter
from .streaming import marked_incomplete, started

api = Blueprint("api", __name__)


class AnyText(PathConverter):
    """`<text:name>`: Werkzeug's `path` (slashes allowed) that takes line breaks too, so a
    worker, task name or id holding one reaches its route, which judges it (404 "Unknown
    task", a PENDING result...), instead of an HTML 404 from the router."""

    regex = r"[^/][\s\S]*?"


def _add_text_converter(state: BlueprintSetupState) -> None:
    state.app.url_map.converters.setdefault("text", AnyText)


# Before the routes below are registered: their rules are compiled with this converter.
api.record_once(_add_text_converter)


def error(message: str, status: int) -> tuple[Response, int]:
    return jsonify(error=message), status


# Typed errors from anywhere below a route become JSON with the right status (Flask picks
# the handler of the most specific class).
_STATUS_OF = ((FilterError, 400), (UnknownWorker, 404), (BrokerUnavailable, 503),
              (ReadOnly, 403), (ControlError, 400))
for _kind, _status in _STATUS_OF:
    api.register_error_handler(_kind, lambda exc, status=_status: error(str(exc), status))


def _store_unreachable(exc: Exception):
    """Any route of the app: a store outage is a 503 to retry, noted for the banner and
    /metrics; any other database error stays a 500 (a bug, logged as such)."""
    if not is_unreachable(exc):
        raise exc
    current().reads.failed(exc)
    return error(STORE_UNREACHABLE, 503)


for _store_error in STORE_ERRORS:
    api.app_errorhandler(_store_error)(_store_unreachable)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@api.before_request
def _refuse_changes_when_read_only():
    """Read-only mode: every request that may change the cluster is refused here, before
    its route runs (so before any 404/400 guard and any broker call)."""
    if request.method not in SAFE_METHODS:
        current().check_writable()


def export_filename(task_filter: TaskFilter, now: float) -> str:
    """tasks_<from>_<to>.csv in UTC, 'all' for an open end: the name says what it holds."""
    since, until = task_filter.window(now)

    def stamp(moment: float | None, open_end: str) -> str:
        if moment is None:
            return open_end
        return datetime.fromtimestamp(moment, timezone.utc).strftime("%Y%m%dT%H%M%SZ")

    return f"tasks_{stamp(since, 'start')}_{stamp(until, 'now' if until is None else '')}.csv"


@api.get("/api/tasks.csv")
def tasks_csv():
    """Stream the filtered, sorted task history as CSV (same parameters as the grid)."""
    now = datetime.now(timezone.utc).timestamp()
    task_filter = parse_filter(request.args.to_dict(flat=False), now)
    engine = current().store.engine
    records = started(task_queries.export_records(engine, task_filter, now=now))
    chunks = marked_incomplete(chain([task_queries.csv_line(task_queries.export_header())],
                                     (text for _, text in records)))
    headers = {"Content-Disposition": f'attachment; filename="{export_filename(task_filter, now)}"',
               "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
    return Response(stream_with_context(chunks), mimetype="text/csv", headers=headers)


from . import (  # noqa: F401 — their routes attach to `api`
    alerts,
    audit,
    beat,
    beat_actions,
    bulk,
    flower,
    history,
    issues,
    openapi,
    purge,
    quarantine,
    queues,
    series,
    task_control,
    workers,
)
