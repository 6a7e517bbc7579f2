"""GET /api/issues: failures grouped into issues over a window, newest first (the /issues
page's numbers), with the task grid's filters (triage/request.py)."""
from __future__ import annotations

import time
from dataclasses import asdict

from flask import jsonify, request, url_for

from ..services import current
from ..triage.queries import issue_report
from ..triage.request import parse_request
from . import api


@api.get("/api/issues")
def issues_json():
    now = time.time()
    report = issue_report(current().store.engine,
                          parse_request(request.args.to_dict(flat=False), now), now)
    tasks_url = url_for("api.issues_json").rsplit("/api/issues", 1)[0] + "/tasks?search=issue:"
    groups = [{**asdict(issue), "tasks_url": tasks_url + issue.issue} for issue in report.issues]
    return jsonify(total_failures=report.total_failures, total_issues=report.total_issues,
                   total_recovered=report.total_recovered, total_dead=report.total_dead,
                   start=report.start, end=report.end, bucket_seconds=report.bucket_seconds,
                   issues=groups)
