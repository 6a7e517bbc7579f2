"""/api/quarantine and /api/quarantine.csv: the events the collector set aside, newest
first, each with why (refused by the decoder, or by the store) and the raw message."""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime, timezone

from flask import Response, jsonify, stream_with_context

from ..services import current
from ..tasks.csv_guard import guard
from . import api
from .flower import number_arg
from .streaming import marked_incomplete, started

MAX_LIMIT = 1000  # entries in one JSON page
_CSV_PAGE = 500


@api.get("/api/quarantine")
def quarantine_json():
    """A page of entries; pass the last id seen as `before` for the next one."""
    limit = number_arg("limit", int, 100, minimum=1, maximum=MAX_LIMIT)
    before = number_arg("before", int, None, minimum=1)
    store = current().store
    entries = store.quarantined(limit, before)
    return jsonify(total=store.count_quarantined(), entries=entries)


def _csv_rows(store) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["id", "at_utc", "at", "reason", "raw"])
    before = None
    while True:
        entries = store.quarantined(_CSV_PAGE, before)
        for entry in entries:
            moment = datetime.fromtimestamp(entry["at"], timezone.utc).isoformat()
            writer.writerow([entry["id"], moment, entry["at"], guard(entry["reason"]),
                             guard(entry["raw"])])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        if len(entries) < _CSV_PAGE:
            return
        before = entries[-1]["id"]


@api.get("/api/quarantine.csv")
def quarantine_csv():
    """Every entry as CSV, streamed page by page (keyset on id)."""
    store = current().store
    headers = {"Content-Disposition": 'attachment; filename="quarantine.csv"',
               "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
    rows = started(marked_incomplete(_csv_rows(store)))  # an outage before the first byte: 503
    return Response(stream_with_context(rows), mimetype="text/csv", headers=headers)
