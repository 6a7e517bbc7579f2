"""/api/audit and /api/audit.csv: the audit trail, newest first, filtered by user, action,
outcome and time; and the API's catch-all record of every request that may change the
cluster and left no record of its own (refused by the role or read-only gate, a bad
argument, an unknown target, or a route that publishes without the Control)."""
from __future__ import annotations

import json
from typing import Any

from flask import Response, jsonify, request, stream_with_context

from ..audit import queries
from ..audit.trail import record_action, recorded
from ..auth.users import current_user
from ..services import current
from . import api
from .flower import number_arg
from .streaming import marked_incomplete, started

_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_BODY_KEPT = 10_000  # characters of a JSON body kept as the record's parameters


@api.get("/api/audit")
def audit_json():
    """A page of records; pass the last id seen as `before` for the next one."""
    params = request.args.to_dict(flat=False)
    where = queries.parse_audit_filter(params)
    limit = number_arg("limit", int, 100, minimum=1, maximum=queries.MAX_LIMIT)
    before = number_arg("before", int, None, minimum=1)
    engine = current().store.engine
    return jsonify(total=queries.count(engine, where),
                   entries=queries.entries(engine, where, limit, before))


@api.get("/api/audit.csv")
def audit_csv():
    """Every matching record as CSV, streamed page by page (keyset on id)."""
    params = {key: value for key, value in request.args.to_dict(flat=False).items()
              if key not in ("limit", "before")}
    where = queries.parse_audit_filter(params)
    engine = current().store.engine
    headers = {"Content-Disposition": 'attachment; filename="audit.csv"',
               "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
    rows = started(marked_incomplete(queries.csv_rows(engine, where)))
    return Response(stream_with_context(rows), mimetype="text/csv", headers=headers)


def outcome_of(status: int) -> str:
    """2xx ok; 403 and 4xx (a gate, a bad argument, an unknown target) refused; else error."""
    if status < 300:
        return "ok"
    return "refused" if 400 <= status < 500 else "error"


def _params() -> dict[str, Any]:
    """The query string, and the body: a JSON object (Flower's task routes) as it is, a form
    as its fields, anything else by its size."""
    params: dict[str, Any] = {key: values[-1] if len(values) == 1 else values
                              for key, values in request.args.to_dict(flat=False).items()}
    body = request.get_data(cache=True, as_text=True)
    if not body.strip():
        return params
    try:
        parsed = json.loads(body) if len(body) <= MAX_BODY_KEPT else None
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        params["body"] = parsed
    elif request.mimetype == "application/x-www-form-urlencoded" and request.form:
        params.update(request.form.to_dict())
    else:
        params["body"] = f"{len(body):,} characters"
    return params


def _message(response: Response) -> str:
    if response.is_json:
        payload = response.get_json(silent=True) or {}
        if isinstance(payload, dict):
            return str(payload.get("error") or payload.get("message") or payload.get("task-id")
                       or "")
    return ""


@api.after_request
def _record_unrecorded(response: Response) -> Response:
    if (request.method not in _CHANGING or request.endpoint is None or recorded()
            or current_user() is None):
        return response  # reads; no such route; recorded already; an anonymous caller (401)
    action = request.endpoint.removeprefix("api.")
    targets = [str(value) for value in (request.view_args or {}).values()]
    record_action(action, targets=targets, params=_params(),
                  outcome=outcome_of(response.status_code),
                  detail=f"HTTP {response.status_code} {_message(response)}".strip())
    return response
