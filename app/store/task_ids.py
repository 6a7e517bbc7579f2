"""Task ids as the store keys them: any id Celery accepts, the longest ones clipped the same
way wherever they come from, so an event, a link and an API call find the same row."""
from __future__ import annotations

import hashlib

ID_CHARS = 255  # task ids; a longer one keeps its head and a digest of the whole


def clip_id(task_id: str) -> str:
    """A task id the store can key on: itself up to ID_CHARS, else its head and a digest of
    the whole (so two long ids sharing a head stay two tasks, and a replay finds its row)."""
    if len(task_id) <= ID_CHARS:
        return task_id
    digest = hashlib.sha256(task_id.encode("utf-8", errors="surrogatepass")).hexdigest()[:16]
    return f"{task_id[:ID_CHARS - 17]}~{digest}"
