"""The shell's live-refresh clock, with a pause button, and the browser's time zone.

Pages listen to INTERVAL, and read BROWSER_TZ (an IANA name) to draw times in the
viewer's own zone: the store keeps UTC epoch seconds, Plotly axes know no zones."""
from __future__ import annotations

from dash import Input, Output, State, clientside_callback, dcc, html

INTERVAL = "refresh-interval"
PAUSE = "refresh-pause"
BROWSER_TZ = "browser-tz"


def make_refresh_controls(seconds: float) -> list:
    return [
        dcc.Interval(id=INTERVAL, interval=int(seconds * 1000)),
        dcc.Store(id=BROWSER_TZ),
        html.Button("Pause", id=PAUSE, className="button refresh-pause", n_clicks=0,
                    title=f"Pages refresh every {seconds:g} s"),
    ]


# UI-only toggle: stays in the browser.
clientside_callback(
    """function (clicks, disabled) {
        const paused = !disabled;
        return [paused, paused ? 'Resume' : 'Pause'];
    }""",
    Output(INTERVAL, "disabled"),
    Output(PAUSE, "children"),
    Input(PAUSE, "n_clicks"),
    State(INTERVAL, "disabled"),
    prevent_initial_call=True,
)

clientside_callback(
    "function (_) { return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC'; }",
    Output(BROWSER_TZ, "data"), Input(BROWSER_TZ, "id"),
)
