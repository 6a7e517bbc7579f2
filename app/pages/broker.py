"""`/broker`: every queue the cluster uses, how many messages wait in it, who consumes it,
and its depth over time, from the collector's samples in the store."""
from __future__ import annotations

import time

import dash
from dash import Input, Output, State, callback, dcc, html, no_update
from dash.exceptions import PreventUpdate

from ..auth.roles import may
from ..broker.control import disabled_title
from ..broker.gate import ControlError
from ..broker.purge import known_queues
from ..broker.queue_lengths import queue_lengths
from ..components.card import card
from ..components.confirm import ConfirmModal
from ..components.empty_state import empty_state
from ..components.page_header import page_header
from ..components.queue_chart import queue_figure
from ..components.queue_table import HIDDEN, NO_QUEUES, NO_QUEUES_HINT, VISIBLE, make_queue_grid
from ..components.refresh import BROWSER_TZ, INTERVAL
from ..components.toast import TOAST, toast
from ..components.toolbar import toolbar, toolbar_group
from ..queues.detail import DEFAULT_WINDOW, WINDOWS, chart_window, queue_rows, samples_frame
from ..queues.overview import consumers
from ..series.frames import zone
from ..services import current
from ..workers.liveness import online_workers

dash.register_page(__name__, path="/broker", name="Broker", title="Broker · celery-scope",
                   order=3)

HEADER = "broker-header"
ZONE_NOTE = "broker-zone"
EMPTY = "broker-no-queues"
GRID = "broker-queues"
WINDOW = "broker-window"
CHART = "broker-depth-chart"
LATENCY_CHART = "broker-latency-chart"
PURGE_QUEUE = "broker-purge-queue"
PURGE = "broker-purge"
PURGE_RESULT = "broker-purge-result"
LATEST_SECONDS = 3600  # the table lists queues sampled within the last hour
MODAL = ConfirmModal("broker")


def purge_refused() -> str | None:
    """Why this request may not purge (read-only mode, a role below admin), or None."""
    services = current()
    refused = services.actions_refused()
    if refused is None and not may("admin"):
        return "purging a queue needs the admin role"
    return refused


def _purge_toolbar() -> html.Div:
    refused = purge_refused()
    return toolbar(toolbar_group(
        dcc.Dropdown(id=PURGE_QUEUE, placeholder="choose a queue", clearable=False,
                     className="purge-queue", disabled=bool(refused)),
        html.Button("Purge…", id=PURGE, className="button danger", n_clicks=0,
                    disabled=bool(refused), title=disabled_title(refused)),
        label="Purge a queue"),
        html.Span(id=PURGE_RESULT, className="action-result", role="status"))


def layout(**_query):
    return html.Div([
        page_header("Broker", meta=[html.Span(id=HEADER, className="broker-facts"),
                                    html.Span(id=ZONE_NOTE)]),
        card([_purge_toolbar(),
              html.Div(empty_state(NO_QUEUES, NO_QUEUES_HINT), id=EMPTY, hidden=True),
              make_queue_grid(GRID)], title="Queues"),
        card([toolbar(dcc.RadioItems(list(WINDOWS), DEFAULT_WINDOW, id=WINDOW, inline=True,
                                     className="radio window-choice")),
              dcc.Graph(id=CHART, config={"displaylogo": False}),
              dcc.Graph(id=LATENCY_CHART, config={"displaylogo": False})],
             title="Queue depth and latency"),
        MODAL.layout(),
    ], className="page broker-page")


@callback(Output(ZONE_NOTE, "children"), Input(BROWSER_TZ, "data"))
def _zone_note(tz_name):
    return f"Times in {zone(tz_name).key} (this browser's zone)"


@callback(Output(HEADER, "children"), Output(GRID, "rowData"), Output(EMPTY, "hidden"),
          Output(GRID, "style"), Output(CHART, "figure"), Output(LATENCY_CHART, "figure"),
          Input(INTERVAL, "n_intervals"),
          Input(WINDOW, "value"), Input(BROWSER_TZ, "data"))
def _refresh(_ticks, window, tz_name):
    services = current()
    now = time.time()
    status = services.cache.collector_status() or {}
    rows = queue_rows(services.store.latest_queue_samples(now - LATEST_SECONDS),
                      consumers(services.cache), online_workers(services.store.workers(), now),
                      services.settings.pathname_prefix, now)
    seconds, bucket = chart_window(window)
    samples = services.store.queue_samples(None, now - seconds, bucket_seconds=bucket)
    interval = services.settings.queue_sample_interval
    frame, shown = samples_frame(samples), window or DEFAULT_WINDOW
    empty = f"No samples in this window yet: the collector samples every {interval:g} s."
    figure = queue_figure(frame, "messages", f"Messages ready per queue (peak per {bucket} s),"
                          f" last {shown}", empty, now - seconds, now, zone(tz_name))
    latency = queue_figure(frame, "latency_seconds", f"Oldest waiting message per queue (peak"
                           f" per {bucket} s), last {shown}", empty, now - seconds, now,
                           zone(tz_name))
    header = [html.Span(status.get("broker") or "broker not known yet", className="broker-url"),
              html.Span(f"queue depths and the oldest message's wait sampled every "
                        f"{interval:g} s")]
    return header, rows, bool(rows), VISIBLE if rows else HIDDEN, figure, latency


@callback(Output(PURGE_QUEUE, "options"), Input(GRID, "rowData"))
def _purge_choices(rows):
    return sorted({str(row["queue"]) for row in rows or [] if row.get("queue")})


@callback(*MODAL.ask_outputs(), Output(PURGE_RESULT, "children", allow_duplicate=True),
          Output(PURGE_RESULT, "className", allow_duplicate=True),
          Input(PURGE, "n_clicks"), State(PURGE_QUEUE, "value"), prevent_initial_call=True)
def _ask_purge(clicks, queue):
    """Name the queue and its depth, asked of the broker now, before anything is deleted."""
    keep = (no_update,) * len(MODAL.ask_outputs())
    if not clicks:
        raise PreventUpdate
    try:
        depth = _check_purge(queue)
    except ControlError as exc:
        return *keep, str(exc), "action-result error"
    waiting = (f"Deletes the {depth:,} message{'s' if depth != 1 else ''} waiting in it now "
               "(and any that arrive before you confirm)" if depth else
               "It is empty now; any message that arrives before you confirm is deleted")
    detail = (f"{waiting}; tasks already delivered to a worker are not touched. This cannot "
              "be undone.")
    return *MODAL.ask("Purge", [queue], {"queue": queue}, danger=True, detail=detail,
                      noun="queue"), "", "action-result"


def _check_purge(queue: str | None) -> int:
    """The three gates before the dialog opens; the queue's depth, asked live."""
    refused = purge_refused()
    if refused:
        raise ControlError(refused)
    services = current()
    app = services.control().app  # read-only and "no cluster yet" are refused here
    if not queue or queue not in known_queues(app, services.cache, services.store,
                                              time.time()):
        raise ControlError("Choose one of the queues listed below.")
    settings = services.settings
    return queue_lengths(app, [queue], settings.inspect_timeout, settings.broker_api)[0][
        "messages"]


@callback(Output(PURGE_RESULT, "children"), Output(PURGE_RESULT, "className"),
          Output(TOAST, "data", allow_duplicate=True),
          Input(MODAL.ok, "n_clicks"), State(MODAL.pending, "data"), prevent_initial_call=True)
def _purge(confirmed, pending):
    queue = str((pending or {}).get("queue") or "")
    if not confirmed or not queue:
        raise PreventUpdate
    try:
        removed = current().control().queue_purge(queue)
    except ControlError as exc:
        message = f"Not purged: {exc}"
        return message, "action-result error", toast(message, "error")
    message = f"Purged {removed:,} message{'s' if removed != 1 else ''} from {queue}."
    return message, "action-result ok", toast(message, "ok")
