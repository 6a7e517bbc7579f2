"""Toasts: action results that float in a corner for a few seconds (they are also written
in place by the page that ran the action).

A callback reports one by writing `toast(text, tone)` to TOAST (with allow_duplicate=True);
the shell keeps the last few on screen and the stylesheet fades each out."""
from __future__ import annotations

import itertools
import time
from typing import Any

from dash import Input, Output, State, clientside_callback, dcc, html

TOAST, TOASTS = "toast", "toasts"
_SERIAL = itertools.count()
_ARIA_LIVE: dict[str, Any] = {"aria-live": "polite"}


def toast(text: str, tone: str = "ok") -> dict:
    """`tone` is "ok" or "error"; `text` is shown as text."""
    if tone not in ("ok", "error"):
        raise ValueError("tone must be 'ok' or 'error'")
    return {"text": str(text), "tone": tone, "key": f"{time.time():.6f}-{next(_SERIAL)}"}


def make_toast_region() -> list:
    return [dcc.Store(id=TOAST),
            html.Div(id=TOASTS, className="toasts", role="status", **_ARIA_LIVE)]


# The newest five stay; each renders as text (React escapes it).
clientside_callback(
    """function (message, shown) {
        if (!message) { return window.dash_clientside.no_update; }
        const kept = (shown || []).slice(-4);
        kept.push({namespace: 'dash_html_components', type: 'Div',
                   props: {key: message.key, children: message.text,
                           className: 'toast toast-' + message.tone}});
        return kept;
    }""",
    Output(TOASTS, "children"), Input(TOAST, "data"), State(TOASTS, "children"),
)
