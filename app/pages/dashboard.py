"""`/`: the cluster at a glance: headline numbers and the worker table, refreshed live."""
from __future__ import annotations

import time

import dash
import pandas as pd
from celery import states
from dash import Input, Output, State, callback, clientside_callback, ctx, dcc, html, no_update

from ..components.charts import throughput_figure
from ..components.refresh import BROWSER_TZ, INTERVAL
from ..components.summary import make_summary_cards
from ..components.worker_table import NO_WORKERS, make_worker_grid
from ..control import ControlError, disabled_title
from ..frames import dashboard_summary, grid_records, worker_frame
from ..series import build_series
from ..series_frames import zone
from ..series_spec import SeriesSpec
from ..services import current
from ..worker_actions import describe_round, run_bulk_action

dash.register_page(__name__, path="/", name="Dashboard", title="celery-scope", order=0)

SUMMARY = "dashboard-summary"
WORKER_GRID = "dashboard-workers"
EMPTY = "dashboard-no-workers"
REFRESH = "dashboard-refresh"
RESTART = "dashboard-restart"
SHUTDOWN = "dashboard-shutdown"
CONFIRM = "dashboard-shutdown-confirm"
RESULT = "dashboard-action-result"
TOOLBAR = "dashboard-toolbar"
SELECTED = "dashboard-selected"
RECENT_SECONDS = 300  # the "last 5 minutes" of the summary cards
THROUGHPUT = "dashboard-throughput"
CHART_BUCKET = 60  # the throughput chart: the last hour per minute


def layout(**_query):
    prefix = dash.get_app().config.requests_pathname_prefix
    refused = current().actions_refused()
    return html.Div([
        html.Section(make_summary_cards({}), id=SUMMARY, className="cards"),
        dcc.Graph(id=THROUGHPUT, config={"displaylogo": False}, className="chart"),
        dcc.Link("Explore throughput, failures and latency over any window →",
                 href=f"{prefix}explore?metric=succeeded&range=24h", className="more-link"),
        html.H2("Workers"),
        html.Fieldset([
            html.Button("Refresh", id=REFRESH, n_clicks=0, className="button",
                        title="Ask every online worker for fresh Inspector data now"),
            html.Span([
                html.Span("none selected", id=SELECTED, className="muted"),
                html.Button("Restart pool", id=RESTART, n_clicks=0, className="button",
                            disabled=bool(refused)),
                html.Button("Shut down", id=SHUTDOWN, n_clicks=0, className="button danger",
                            disabled=bool(refused)),
            ], className="group",
                title=disabled_title(refused) or "Acts on the selected workers"),
            dcc.Loading(html.Div(id=RESULT, role="status", className="action-result"),
                        type="dot"),
        ], id=TOOLBAR, className="plain toolbar"),
        dcc.ConfirmDialog(id=CONFIRM),
        html.P(NO_WORKERS, id=EMPTY, className="empty-state", hidden=True),
        make_worker_grid(WORKER_GRID, prefix),
    ], className="page")


@callback(Output(SUMMARY, "children"), Output(WORKER_GRID, "rowData"), Output(EMPTY, "hidden"),
          Output(THROUGHPUT, "figure"), Input(INTERVAL, "n_intervals"), Input(BROWSER_TZ, "data"))
def _refresh(_, tz_name):
    services = current()
    now = time.time()
    workers = worker_frame(services.store.workers(), now)
    recent = services.store.count_states_since(now - RECENT_SECONDS, [states.SUCCESS, states.FAILURE])
    summary = make_summary_cards(dashboard_summary(workers, recent))
    finished = pd.concat([build_series(services.store.engine, SeriesSpec(
        metric=metric, range="1h", bucket=CHART_BUCKET), now).frame
        for metric in ("succeeded", "failed")], axis=1)
    figure = throughput_figure(finished, "Tasks finished per minute, last hour", zone(tz_name))
    return summary, grid_records(workers), not workers.empty, figure


clientside_callback(
    "function (rows) { return rows && rows.length ? rows.length + ' selected' : 'none selected'; }",
    Output(SELECTED, "children"), Input(WORKER_GRID, "selectedRows"),
)


@callback(Output(CONFIRM, "message"), Output(CONFIRM, "displayed"),
          Output(RESULT, "children", allow_duplicate=True),
          Output(RESULT, "className", allow_duplicate=True),
          Input(SHUTDOWN, "n_clicks"), State(WORKER_GRID, "selectedRows"),
          prevent_initial_call=True)
def _ask_before_shutdown(_clicks, selected):
    names = [row["hostname"] for row in selected or []]
    if not names:
        return no_update, False, "Select the workers to shut down first.", "action-result error"
    message = (f"Shut down {len(names)} worker(s): {', '.join(names)}? They stop taking tasks "
               "and exit; something outside celery-scope must start them again.")
    return message, True, "", ""


@callback(Output(RESULT, "children"), Output(RESULT, "className"),
          Input(REFRESH, "n_clicks"), Input(RESTART, "n_clicks"),
          Input(CONFIRM, "submit_n_clicks"), State(WORKER_GRID, "selectedRows"),
          running=[(Output(TOOLBAR, "disabled"), True, False)],
          prevent_initial_call=True)
def _act(_refresh, _restart, _shutdown, selected):
    services = current()
    try:
        if ctx.triggered_id == REFRESH:
            now = time.time()
            online = worker_frame(services.store.workers(), now).query("status == 'online'")
            result = services.inspector.refresh(expected=list(online["hostname"]))
            outcome = describe_round(result.answered, result.silent, result.seconds)
        else:
            action = "restart" if ctx.triggered_id == RESTART else "shutdown"
            names = [row["hostname"] for row in selected or []]
            outcome = run_bulk_action(services.control(), names, action)
    except (ControlError, OSError) as exc:
        return str(exc), "action-result error"
    return outcome.message, f"action-result {'ok' if outcome.ok else 'error'}"
