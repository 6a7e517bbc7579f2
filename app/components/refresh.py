"""The shell's live-refresh clock, with a pause button and an "Updated HH:MM:SS" indicator,
and the browser's time zone.

Pages listen to INTERVAL, and read BROWSER_TZ (an IANA name) to draw times in the
viewer's own zone: the store keeps UTC epoch seconds, Plotly axes know no zones."""
from __future__ import annotations

from dash import Input, Output, State, clientside_callback, dcc, html

INTERVAL = "refresh-interval"
PAUSE = "refresh-pause"
UPDATED = "refresh-updated"
BROWSER_TZ = "browser-tz"


def make_refresh_controls(seconds: float) -> list:
    return [
        dcc.Interval(id=INTERVAL, interval=int(seconds * 1000)),
        dcc.Store(id=BROWSER_TZ),
        html.Span("Live", id=UPDATED, className="live-indicator", role="status",
                  title=f"Pages refresh every {seconds:g} s"),
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

# Each tick is a refresh the pages act on: say when the last one was, or that they are paused.
clientside_callback(
    """function (ticks, paused) {
        if (paused) { return ['Paused', 'live-indicator paused']; }
        const now = new Date().toLocaleTimeString([], {hour12: false});
        return ['Updated ' + now, 'live-indicator'];
    }""",
    Output(UPDATED, "children"),
    Output(UPDATED, "className"),
    Input(INTERVAL, "n_intervals"),
    Input(INTERVAL, "disabled"),
)

clientside_callback(
    "function (_) { return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC'; }",
    Output(BROWSER_TZ, "data"), Input(BROWSER_TZ, "id"),
)
