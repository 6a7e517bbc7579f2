"""GET /api/beat (every beat entry with its status, and the sources' problems) and
GET /api/beat/<entry>/runs (the entry's matched runs, newest first). Entry names are text
and may hold slashes (the `text` converter)."""
from __future__ import annotations

import time

from flask import jsonify

from ..beat import view
from ..query_string import parse_time
from ..services import current
from . import api, error
from .flower import arg, number_arg

DEFAULT_SINCE = view.DAY  # seconds back that /runs reaches without `since`


@api.get("/api/beat")
def beat_json():
    services = current()
    now = time.time()
    rows = view.beat_rows(services, now)
    return jsonify(entries=rows, source_problems=view.source_problems(services, rows),
                   tolerance=services.settings.beat_tolerance)


@api.get("/api/beat/<text:entry>/runs")
def beat_entry_runs(entry: str):
    services = current()
    now = time.time()
    since_text = arg("since")
    since = parse_time("since", since_text, now) if since_text else now - DEFAULT_SINCE
    limit = number_arg("limit", int, 100, minimum=1, maximum=view.MAX_RUNS)
    if view.entry(services, entry) is None:
        return error(f"Unknown beat entry {entry!r}", 404)
    return jsonify(entry=entry, since=since, runs=view.entry_runs(services, entry, since, limit))
