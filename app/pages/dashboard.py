"""`/`: the cluster at a glance: headline numbers, the worker table (Flower's dashboard) with
its actions, and the last hour's throughput, refreshed live."""
from __future__ import annotations

import time

import dash
from celery import states
from dash import Input, Output, State, callback, clientside_callback, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from ..broker.control import disabled_title
from ..broker.gate import ControlError
from ..components.card import card
from ..components.charts import throughput_figure
from ..components.confirm import ConfirmModal
from ..components.empty_state import empty_state
from ..components.json_tree import plain
from ..components.page_header import page_header
from ..components.queue_table import longest_wait_card
from ..components.refresh import BROWSER_TZ, INTERVAL
from ..components.summary import make_summary_cards
from ..components.toast import TOAST, toast
from ..components.toolbar import toolbar, toolbar_group
from ..components.worker_table import NO_WORKERS, make_worker_grid
from ..queues.detail import longest_wait
from ..queues.overview import current_queues
from ..series.build import finished_per_bucket
from ..series.frames import zone
from ..services import current
from ..workers.actions import confirmation, describe_round, run_worker_action
from ..workers.frames import dashboard_summary, online_hostnames, worker_records, worker_totals

dash.register_page(__name__, path="/", name="Dashboard", title="celery-scope", order=0)

SUMMARY = "dashboard-summary"
WORKER_GRID = "dashboard-workers"
FILTER = "dashboard-filter"
TOTALS = "dashboard-totals"
EMPTY = "dashboard-no-workers"
REFRESH = "dashboard-refresh"
RESTART = "dashboard-restart"
SHUTDOWN = "dashboard-shutdown"
RESULT = "dashboard-action-result"
TOOLBAR = "dashboard-toolbar"
SELECTED = "dashboard-selected"
RECENT_SECONDS = 300  # the "last 5 minutes" of the summary cards
THROUGHPUT = "dashboard-throughput"
CHART_BUCKET = 60  # the throughput chart: the last hour per minute
MODAL = ConfirmModal("dashboard")

# button → (the action's name, its Control method, the dialog's detail for several workers)
_ACTIONS = {
    RESTART: ("restart", "worker_pool_restart",
              "Their pool processes are replaced; running tasks finish first."),
    SHUTDOWN: ("shutdown", "worker_shutdown",
               "They stop taking tasks, finish the ones running and exit; something outside "
               "celery-scope must start them again."),
}


def layout(**_query):
    prefix = dash.get_app().config.requests_pathname_prefix
    refused = current().actions_refused()
    actions = toolbar_group(
        html.Span("none selected", id=SELECTED, className="muted"),
        html.Button("Restart pool", id=RESTART, n_clicks=0, className="button",
                    disabled=bool(refused)),
        html.Button("Shut down", id=SHUTDOWN, n_clicks=0, className="button danger",
                    disabled=bool(refused)),
        className="dashboard-selection")
    actions.title = disabled_title(refused) or "Acts on the selected workers"
    workers = card([
        html.Fieldset(toolbar(
            dcc.Input(id=FILTER, type="search", placeholder="Filter workers: name, status, "
                      "software", debounce=False, className="input search", autoComplete="off"),
            toolbar_group(html.Button(
                "Refresh", id=REFRESH, n_clicks=0, className="button",
                title="Ask every online worker for fresh Inspector data now")),
            actions), id=TOOLBAR, className="plain"),
        dcc.Loading(html.Div(id=RESULT, role="status", className="action-result"), type="dot"),
        html.Div(empty_state(NO_WORKERS), id=EMPTY, hidden=True),
        make_worker_grid(WORKER_GRID, prefix),
        dcc.Store(id=TOTALS, data=[]),
    ], title="Workers", className="dashboard-workers")
    return html.Div([
        page_header("Dashboard"),
        html.Section(make_summary_cards({}), id=SUMMARY, className="cards"),
        workers,
        dcc.Graph(id=THROUGHPUT, config={"displaylogo": False}, className="chart"),
        dcc.Link("Explore throughput, failures and latency over any window →",
                 href=f"{prefix}explore?metric=succeeded&range=24h", className="more-link"),
        MODAL.layout(),
    ], className="page dashboard")


@callback(Output(SUMMARY, "children"), Output(WORKER_GRID, "rowData"), Output(TOTALS, "data"),
          Output(EMPTY, "hidden"), Output(THROUGHPUT, "figure"),
          Input(INTERVAL, "n_intervals"), Input(BROWSER_TZ, "data"))
def _refresh(_, tz_name):
    services = current()
    now = time.time()
    rows = services.store.workers()
    workers = worker_records(rows, now)
    recent = services.store.count_states_since(now - RECENT_SECONDS,
                                               [states.SUCCESS, states.FAILURE])
    summary = make_summary_cards(dashboard_summary(workers, recent))
    worst = longest_wait(current_queues(services.store, services.cache, now,
                                         now - 3 * services.settings.queue_sample_interval,
                                         rows))
    summary.append(longest_wait_card(worst, services.settings.pathname_prefix + "broker"))
    finished = finished_per_bucket(services.store.engine, "1h", CHART_BUCKET, now)
    figure = throughput_figure(finished, "Tasks finished per minute, last hour", zone(tz_name))
    totals = [worker_totals(workers)] if workers else []
    return plain(summary), workers, totals, bool(workers), figure


# The filter box narrows the rows as you type (AG Grid's quick filter, in the browser); the
# Total row comes with it, so a refresh never puts back an older filter text.
clientside_callback(
    """function (text, totals, options) {
        return Object.assign({}, options,
                             {quickFilterText: text || '', pinnedBottomRowData: totals || []});
    }""",
    Output(WORKER_GRID, "dashGridOptions"),
    Input(FILTER, "value"), Input(TOTALS, "data"), State(WORKER_GRID, "dashGridOptions"),
)

clientside_callback(
    "function (rows) { return rows && rows.length ? rows.length + ' selected' : 'none selected'; }",
    Output(SELECTED, "children"), Input(WORKER_GRID, "selectedRows"),
)


@callback(*MODAL.ask_outputs(), Output(RESULT, "children", allow_duplicate=True),
          Output(RESULT, "className", allow_duplicate=True),
          Input(RESTART, "n_clicks"), Input(SHUTDOWN, "n_clicks"),
          State(WORKER_GRID, "selectedRows"), prevent_initial_call=True)
def _ask(_restart, _shutdown, selected):
    """Name each selected worker before acting; refuse at once what may not run at all."""
    action, method, several = _ACTIONS[ctx.triggered_id]
    names = [str(row["hostname"]) for row in selected or [] if row.get("hostname")]
    keep = (no_update,) * len(MODAL.ask_outputs())
    if not names:
        return *keep, "Select the workers first: tick their boxes in the table.", \
            "action-result error"
    try:
        getattr(current().control(), method)  # read-only mode and the role are checked here
    except ControlError as exc:
        return *keep, str(exc), "action-result error"
    verb, detail, danger = confirmation(action, {})
    pending = {"action": action, "workers": names}
    return *MODAL.ask(verb, names, pending, danger=danger,
                      detail=detail if len(names) == 1 else several), "", "action-result"


@callback(Output(RESULT, "children"), Output(RESULT, "className"),
          Output(TOAST, "data", allow_duplicate=True),
          Input(REFRESH, "n_clicks"), Input(MODAL.ok, "n_clicks"),
          State(MODAL.pending, "data"),
          running=[(Output(TOOLBAR, "disabled"), True, False)],
          prevent_initial_call=True)
def _act(refreshes, confirmed, pending):
    if not (refreshes or confirmed):
        # Dash runs it when the page's buttons appear, as the shell's toast store is older.
        raise PreventUpdate
    services = current()
    try:
        if ctx.triggered_id == REFRESH:
            online = online_hostnames(worker_records(services.store.workers(), time.time()))
            result = services.inspector.refresh(expected=online)
            outcome = describe_round(result.answered, result.silent, result.seconds)
            ok, message = outcome.ok, outcome.message
        else:
            ok, message = _run_confirmed(pending)
    except (ControlError, OSError) as exc:
        ok, message = False, str(exc)
    tone = "ok" if ok else "error"
    return message, f"action-result {tone}", toast(message, tone)


def _run_confirmed(pending) -> tuple[bool, str]:
    """Run the confirmed action on each worker the dialog named; one sentence per worker."""
    action = (pending or {}).get("action")
    names = [str(name) for name in (pending or {}).get("workers") or []]
    if action not in {known for known, _, _ in _ACTIONS.values()} or not names:
        return False, "Nothing to run: choose the workers and the action again."
    control = current().control()
    outcomes = [run_worker_action(control, name, action, {}) for name in names]
    return all(outcome.ok for outcome in outcomes), "\n".join(o.message for o in outcomes)
