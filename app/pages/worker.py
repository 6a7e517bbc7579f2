"""`/workers/<name>`: everything the Inspector knows about one worker, and its controls."""
from __future__ import annotations

import time
from urllib.parse import unquote

import dash
from dash import Input, Output, State, callback, ctx, dcc, html, no_update

from .. import worker_detail as detail
from ..components.charts import worker_load_figure
from ..components.panels import facts_list, queue_grid, simple_table, task_grid
from ..components.refresh import BROWSER_TZ, INTERVAL
from ..control import ControlError, disabled_title
from ..formatting import human_seconds
from ..frames import is_online, worker_samples_frame
from ..series_frames import zone
from ..services import current
from ..worker_actions import run_worker_action

dash.register_page(__name__, path_template="/workers/<name>", name="Worker",
                   title="Worker · celery-scope", hidden_from_nav=True)

WORKER = "worker-name"
VERSION = "worker-data-version"
HEADER = "worker-header"
OFFLINE = "worker-offline-note"
CONTROLS = "worker-controls"  # fieldset: disabled while offline, and in read-only mode
BUSY = "worker-busy"  # inner fieldset: disabled while an action runs
RESULT = "worker-action-result"
REFRESH = "worker-refresh"
POOL, BROKER, QUEUES, CONFIG, SYSTEM, TOTALS = ("worker-pool", "worker-broker", "worker-queues",
                                                 "worker-config", "worker-system", "worker-totals")
CHART = "worker-chart"
TASK_LISTS = {method: f"worker-tasks-{method}" for method in
              ("active", "scheduled", "reserved", "revoked")}
RESTART, GROW, SHRINK, POOL_N = "worker-restart", "worker-grow", "worker-shrink", "worker-pool-n"
AUTOSCALE, AUTO_MIN, AUTO_MAX = "worker-autoscale", "worker-autoscale-min", "worker-autoscale-max"
ADD_CONSUMER, NEW_QUEUE = "worker-add-consumer", "worker-new-queue"
QUEUE_GRID = "worker-queue-grid"  # its row buttons cancel consumers
LIMIT_TASK, RATE, SOFT, HARD = ("worker-limit-task", "worker-rate", "worker-soft",
                                "worker-hard")
APPLY_RATE, APPLY_TIME = "worker-apply-rate", "worker-apply-time"
SHUTDOWN = "worker-shutdown"
NO_QUEUES = "The Inspector has not reported any queue for this worker."
CHART_SECONDS = 3600  # the chart shows the last hour

_BUTTON_ACTIONS = {RESTART: "restart", GROW: "grow", SHRINK: "shrink", AUTOSCALE: "autoscale",
                   ADD_CONSUMER: "add_consumer", APPLY_RATE: "rate_limit",
                   APPLY_TIME: "time_limit", SHUTDOWN: "shutdown"}


def _button(label: str, button_id: str, tone: str = "") -> html.Button:
    return html.Button(label, id=button_id, n_clicks=0, className=f"button {tone}".strip())


def _pool_controls() -> html.Div:
    return html.Div([
        _button("Restart pool", RESTART),
        html.Span([html.Label("processes", htmlFor=POOL_N, className="muted"),
                   dcc.Input(id=POOL_N, type="number", min=1, step=1, value=1,
                             className="input small"),
                   _button("Grow", GROW), _button("Shrink", SHRINK)], className="group"),
        html.Span([dcc.Input(id=AUTO_MIN, type="number", min=0, step=1, placeholder="min",
                             className="input small"),
                   dcc.Input(id=AUTO_MAX, type="number", min=1, step=1, placeholder="max",
                             className="input small"),
                   _button("Autoscale", AUTOSCALE)], className="group"),
    ], className="toolbar")


def _queue_controls() -> html.Div:
    return html.Div([dcc.Input(id=NEW_QUEUE, type="text", placeholder="queue name",
                               className="input", debounce=False),
                     _button("Add consumer", ADD_CONSUMER)], className="toolbar")


def _limit_controls() -> html.Div:
    return html.Div([
        dcc.Dropdown(id=LIMIT_TASK, options=[], placeholder="registered task",
                     className="dropdown"),
        html.Span([dcc.Input(id=RATE, type="text", placeholder="rate, e.g. 10/m",
                             className="input"), _button("Set rate limit", APPLY_RATE)],
                  className="group"),
        html.Span([dcc.Input(id=SOFT, type="number", min=0, placeholder="soft s",
                             className="input small"),
                   dcc.Input(id=HARD, type="number", min=0, placeholder="hard s",
                             className="input small"),
                   _button("Set time limits", APPLY_TIME)], className="group"),
    ], className="toolbar")


def _tab(label: str, *children) -> dcc.Tab:
    return dcc.Tab(label=label, children=html.Div(children, className="tab-body"))


def layout(name: str | None = None, **_query):
    hostname = unquote(name or "")
    prefix = dash.get_app().config.requests_pathname_prefix
    return html.Div([
        dcc.Store(id=WORKER, data=hostname),
        dcc.Store(id=VERSION, data=0),
        html.Div([html.H1(hostname, className="title"), html.Div(id=HEADER, className="meta"),
                  _button("Refresh now", REFRESH)], className="page-header"),
        html.P(id=OFFLINE, className="banner banner-warn", hidden=True),
        html.Fieldset(html.Fieldset([
            html.Div([
                dcc.ConfirmDialogProvider(
                    _button("Shut down", SHUTDOWN, "danger"), id=f"{SHUTDOWN}-confirm",
                    message=f"Shut down worker {hostname}? It stops taking tasks and exits; "
                            "something outside celery-scope must start it again."),
                dcc.Loading(html.Div(id=RESULT, role="status", className="action-result"),
                            type="dot"),
            ], className="toolbar"),
            dcc.Tabs([
                _tab("Pool", _pool_controls(), html.Div(id=POOL)),
                _tab("Broker", html.Div(id=BROKER)),
                _tab("Queues", _queue_controls(), html.P(NO_QUEUES, id=QUEUES,
                                                      className="empty-state"),
                     queue_grid(QUEUE_GRID)),
                _tab("Tasks", *[item for method, grid_id in TASK_LISTS.items()
                                for item in (html.H3(method.capitalize()),
                                             task_grid(grid_id, prefix))]),
                _tab("Limits", _limit_controls(), html.Div(id=TOTALS)),
                _tab("Config", html.Div(id=CONFIG)),
                _tab("System", html.Div(id=SYSTEM)),
            ], className="tabs"),
        ], id=BUSY, className="plain"), id=CONTROLS, className="plain",
            title=disabled_title(current().actions_refused())),
        dcc.Graph(id=CHART, config={"displaylogo": False}),
    ], className="page")


@callback(
    Output(HEADER, "children"), Output(OFFLINE, "children"), Output(OFFLINE, "hidden"),
    Output(CONTROLS, "disabled"), Output(POOL, "children"), Output(BROKER, "children"),
    Output(QUEUES, "hidden"), Output(QUEUE_GRID, "rowData"), Output(CONFIG, "children"),
    Output(SYSTEM, "children"),
    Output(TOTALS, "children"), Output(LIMIT_TASK, "options"), Output(CHART, "figure"),
    *[Output(grid_id, "rowData") for grid_id in TASK_LISTS.values()],
    Input(INTERVAL, "n_intervals"), Input(VERSION, "data"), Input(BROWSER_TZ, "data"),
    State(WORKER, "data"),
)
def _render(_ticks, _version, tz_name, hostname):
    services = current()
    now = time.time()
    row = services.store.worker(hostname)
    snapshot = services.cache.worker_snapshot(hostname)
    if row is None and not snapshot:
        message = f"Worker {hostname!r} has never reported to this dashboard."
        empty = html.P(message, className="empty-state")
        return ("unknown worker", message, False, True, empty, empty, False, [], empty, empty, empty,
                [], worker_load_figure(worker_samples_frame([]), "Active tasks and load",
                                   zone(tz_name)),
                *[[] for _ in TASK_LISTS])
    online = row is not None and is_online(row, now)
    inspected = detail.inspected_at(snapshot)
    header = [html.Span("online" if online else "offline", className=f"badge badge-"
                        f"{'online' if online else 'offline'}"),
              html.Span(" ".join(filter(None, (row or {}).get("sw_ident") and
                                        [row["sw_ident"], row.get("sw_ver")] or [])) or ""),
              html.Span("never inspected" if inspected is None else
                        f"inspected {human_seconds(now - inspected)} ago")]
    offline_note = ""
    refused = services.actions_refused()
    if not online:
        last = (row or {}).get("last_heartbeat")
        offline_note = ("This worker is offline" +
                        (f" (last heartbeat {human_seconds(now - last)} ago)" if last else "") +
                        ". Showing its last known data; actions are disabled.")
    elif refused:
        offline_note = f"Actions are disabled: {refused}."
    queues = detail.queue_rows(snapshot)
    samples = worker_samples_frame(services.store.worker_samples(hostname, now - CHART_SECONDS))
    return (
        header, offline_note, not offline_note, not online or bool(refused),
        facts_list(detail.pool_facts(snapshot), "No pool information yet."),
        facts_list(detail.broker_facts(snapshot), "No broker information yet."),
        bool(queues), queues,
        facts_list(detail.conf_rows(snapshot), "No configuration reported yet."),
        facts_list(detail.system_facts(snapshot), "No statistics reported yet."),
        simple_table(["Task", "Processed by this worker"], detail.task_totals(snapshot),
                     "This worker has not processed any task since it started."),
        detail.registered_names(snapshot),
        worker_load_figure(samples, "Active tasks and load, last hour", zone(tz_name)),
        *[detail.task_rows(snapshot, method) for method in TASK_LISTS],
    )


@callback(
    Output(RESULT, "children"), Output(RESULT, "className"), Output(VERSION, "data"),
    *[Input(button_id, "n_clicks") for button_id in _BUTTON_ACTIONS if button_id != SHUTDOWN],
    Input(f"{SHUTDOWN}-confirm", "submit_n_clicks"),
    Input(QUEUE_GRID, "cellRendererData"),
    Input(REFRESH, "n_clicks"),
    State(WORKER, "data"), State(VERSION, "data"), State(POOL_N, "value"),
    State(AUTO_MIN, "value"), State(AUTO_MAX, "value"), State(NEW_QUEUE, "value"),
    State(LIMIT_TASK, "value"), State(RATE, "value"), State(SOFT, "value"), State(HARD, "value"),
    running=[(Output(BUSY, "disabled"), True, False),
             (Output(BUSY, "className"), "plain busy", "plain")],
    prevent_initial_call=True,
)
def _act(*args):
    hostname, version, pool_n, auto_min, auto_max, queue, task, rate, soft, hard = args[-10:]
    trigger = ctx.triggered_id
    if not ctx.triggered or not ctx.triggered[0]["value"]:
        return no_update, no_update, no_update
    services = current()
    if trigger == REFRESH:
        return _refresh(services, hostname, version)
    if trigger == QUEUE_GRID:
        action, params = "cancel_consumer", {"queue": ctx.triggered[0]["value"]["value"]}
    else:
        action = _BUTTON_ACTIONS[trigger.removesuffix("-confirm")]
        params = {"n": pool_n, "min": auto_min, "max": auto_max, "queue": queue, "task": task,
                  "rate": rate, "soft": soft, "hard": hard}
    try:
        outcome = run_worker_action(services.control(), hostname, action, params)
    except ControlError as exc:
        return str(exc), "action-result error", no_update
    if action != "shutdown":
        _quietly_refresh(services, hostname)
    return outcome.message, f"action-result {'ok' if outcome.ok else 'error'}", version + 1


def _quietly_refresh(services, hostname: str) -> None:
    """Re-inspect the worker so the page shows what the action changed."""
    try:
        services.inspector.refresh(hostname)
    except Exception:  # noqa: BLE001 — the action's own result is what the user needs
        services.cache.request_inspection(hostname)


def _refresh(services, hostname: str, version: int):
    try:
        result = services.inspector.refresh(hostname)
    except Exception as exc:  # noqa: BLE001 — broker errors of any transport
        return f"Refresh failed: {exc}", "action-result error", no_update
    if not result.answered:
        return (f"{hostname} did not answer within {services.settings.inspect_timeout:g} s.",
                "action-result error", version + 1)
    return (f"Refreshed in {result.seconds * 1000:.0f} ms.", "action-result ok", version + 1)
