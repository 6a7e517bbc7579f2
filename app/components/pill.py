"""Status pills: a short word on a tinted background, one colour per meaning."""
from __future__ import annotations

from typing import Any

from dash import html

# Task and worker states → the tone the stylesheet colours them with.
STATE_TONES = {
    "SUCCESS": "good", "online": "good", "FAILURE": "bad", "offline": "muted",
    "RETRY": "warn", "REVOKED": "purple", "REJECTED": "purple", "STARTED": "info",
    "RECEIVED": "neutral", "PENDING": "neutral",
}


def status_pill(text, tone: str | None = None, *, id: str | None = None,
                title: str | None = None) -> html.Span:
    """`text` is shown as text; without `tone` the state's own colour is used."""
    chosen = tone or STATE_TONES.get(str(text), "neutral")
    extra: dict[str, Any] = {key: value for key, value in (("id", id), ("title", title)) if value}
    return html.Span(text, className=f"pill tone-{chosen}", **extra)
