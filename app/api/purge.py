"""POST /api/queues/purge/<name>: delete every message waiting in a queue (admin only, by
the gate's ADMIN_ENDPOINTS), answering how many went. Recorded by the audit trail."""
from __future__ import annotations

import time

from ..broker.purge import UnknownQueue, known_queues
from ..services import current
from . import api
from .flower import ApiError, as_json, celery_of


@api.post("/api/queues/purge/<text:name>")
def queue_purge(name: str):
    services = current()
    if name not in known_queues(celery_of(services), services.cache, services.store,
                                time.time()):
        raise ApiError(f"Unknown queue '{name}'", 404)
    try:
        removed = services.control().queue_purge(name)
    except UnknownQueue as exc:
        raise ApiError(str(exc), 404) from None
    return as_json({"queue": name, "removed": removed,
                    "message": f"Purged {removed:,} messages from '{name}'"})
