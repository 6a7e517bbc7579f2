"""Bulk retry and revoke (`/api/tasks/retry`, `/api/tasks/revoke`) and their jobs
(`/api/jobs/<id>`). POST acts (a dry run unless `"dry_run": false`); GET with `ids` or
`filter` in the query string is the dry run, open to viewers and in read-only mode, and so
is a POST whose body says `"dry_run": true` to viewers (auth.gate.needed_role)."""
from __future__ import annotations

import json
from typing import Any

from flask import request

from ..auth.roles import Forbidden
from ..bulk import actions, jobs
from ..bulk.targets import SelectionError
from ..services import current
from . import api
from .flower import ApiError, as_json


def _body() -> dict[str, Any]:
    data = request.get_data()
    try:
        body = json.loads(data) if data.strip() else {}
    except ValueError as exc:
        raise ApiError(f"invalid JSON body: {exc}") from None
    if not isinstance(body, dict):
        raise ApiError("the body must be a JSON object")
    return body


def _query_body() -> dict[str, Any]:
    """A GET's dry run: ids (repeated or comma-separated) or filter (the grid's query)."""
    body: dict[str, Any] = {}
    ids = [part for value in request.args.getlist("ids") for part in value.split(",") if part]
    if ids:
        body["ids"] = ids
    if "filter" in request.args:
        body["filter"] = request.args["filter"]
    return body


def _run(kind: str, body: dict[str, Any]):
    try:
        bulk_request = actions.parse_request(kind, body)
        status, answer = actions.execute(current(), bulk_request)
    except SelectionError as exc:
        raise ApiError(str(exc)) from None
    except Forbidden as exc:
        raise ApiError(str(exc), 403) from None
    return as_json(answer, status)


@api.post("/api/tasks/retry")
def tasks_retry():
    return _run("retry", _body())


@api.get("/api/tasks/retry")
def tasks_retry_dry_run():
    return _run("retry", {**_query_body(), "dry_run": True})


@api.post("/api/tasks/revoke")
def tasks_revoke():
    return _run("revoke", _body())


@api.get("/api/tasks/revoke")
def tasks_revoke_dry_run():
    return _run("revoke", {**_query_body(), "dry_run": True})


@api.get("/api/jobs/<text:job_id>")
def job_progress(job_id: str):
    job = jobs.read(current().store.engine, job_id)
    if job is None:
        raise ApiError(f"unknown job {job_id!r}", 404)
    return as_json(job)


@api.route("/api/jobs/<text:job_id>", methods=["DELETE"])
def job_cancel(job_id: str):
    return _cancel(job_id)


@api.post("/api/jobs/<text:job_id>/cancel")
def job_cancel_post(job_id: str):
    return _cancel(job_id)


def _cancel(job_id: str):
    """Ask a running job to stop; it answers its state as it stands (400 if it has ended)."""
    engine = current().store.engine
    job = jobs.read(engine, job_id)
    if job is None:
        raise ApiError(f"unknown job {job_id!r}", 404)
    if not jobs.request_cancel(engine, job_id):
        raise ApiError(f"job {job_id} is not running ({job['state']})")
    return as_json(jobs.read(engine, job_id))
