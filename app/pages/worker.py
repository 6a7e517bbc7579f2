"""`/workers/<name>`: everything the Inspector knows about one worker, and its controls.

Every action that changes the cluster is checked, then confirmed in the page's dialog naming
the worker, then run; its result is written in place and shown as a toast."""
from __future__ import annotations

import time
from urllib.parse import unquote

import dash
from dash import Input, Output, State, callback, ctx, dcc, html, no_update

from ..broker.control import POOL_RESTARTS_OFF, disabled_title
from ..broker.gate import ControlError
from ..components.card import card
from ..components.charts import worker_load_figure
from ..components.confirm import ConfirmModal
from ..components.empty_state import empty_state
from ..components.page_header import page_header
from ..components.panels import box_id, facts_card, limits_table, queue_grid, task_list
from ..components.pill import status_pill
from ..components.refresh import BROWSER_TZ, INTERVAL
from ..components.toast import TOAST, toast
from ..components.toolbar import toolbar, toolbar_group
from ..formatting import human_seconds
from ..series.frames import zone
from ..services import current
from ..workers import detail
from ..workers.actions import Outcome, check_action, confirmation, run_worker_action
from ..workers.frames import worker_samples_frame
from ..workers.liveness import is_online

dash.register_page(__name__, path_template="/workers/<name>", name="Worker",
                   title="Worker · celery-scope", hidden_from_nav=True)

WORKER = "worker-name"
VERSION = "worker-data-version"
STATE, HEADER = "worker-state", "worker-header"
UNKNOWN = "worker-unknown"
OFFLINE = "worker-offline-note"
CONTROLS = "worker-controls"  # fieldset: disabled while offline, and in read-only mode
HEADER_CONTROLS = "worker-header-controls"  # the same, for the header's Shut down
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
QUEUE_BOX = box_id(QUEUE_GRID)
LIMIT_TASK, RATE, SOFT, HARD = ("worker-limit-task", "worker-rate", "worker-soft",
                                "worker-hard")
APPLY_RATE, APPLY_TIME = "worker-apply-rate", "worker-apply-time"
SHUTDOWN = "worker-shutdown"
CHART_SECONDS = 3600  # the chart shows the last hour
MODAL = ConfirmModal("worker")

_BUTTON_ACTIONS = {RESTART: "restart", GROW: "grow", SHRINK: "shrink", AUTOSCALE: "autoscale",
                   ADD_CONSUMER: "add_consumer", APPLY_RATE: "rate_limit",
                   APPLY_TIME: "time_limit", SHUTDOWN: "shutdown"}


def _empty_id(grid_id: str) -> str:
    return f"{grid_id}-empty"


def _button(label: str, button_id: str, tone: str = "") -> html.Button:
    return html.Button(label, id=button_id, n_clicks=0, className=f"button {tone}".strip())


def _number(input_id: str, placeholder: str, **extra) -> dcc.Input:
    return dcc.Input(id=input_id, type="number", step=1, placeholder=placeholder,
                     className="input small", **extra)


def _pool_controls() -> html.Div:
    return toolbar(
        toolbar_group(_button("Restart pool", RESTART)),
        toolbar_group(_number(POOL_N, "n", min=1, value=1), _button("Grow", GROW),
                      _button("Shrink", SHRINK), label="processes"),
        toolbar_group(_number(AUTO_MIN, "min", min=0), _number(AUTO_MAX, "max", min=1),
                      _button("Autoscale", AUTOSCALE), label="autoscale"))


def _limit_controls() -> html.Div:
    return toolbar(
        toolbar_group(dcc.Dropdown(id=LIMIT_TASK, options=[], placeholder="registered task",
                                   className="dropdown"), label="task"),
        toolbar_group(dcc.Input(id=RATE, type="text", placeholder="10/m", className="input"),
                      _button("Set rate limit", APPLY_RATE), label="rate"),
        toolbar_group(_number(SOFT, "soft", min=0), _number(HARD, "hard", min=0),
                      _button("Set time limits", APPLY_TIME), label="seconds"),
        className="limit-controls")


def _tab(label: str, *children) -> dcc.Tab:
    return dcc.Tab(label=label, className="tab", selected_className="tab--selected",
                   children=html.Div(children, className="tab-body"))


def _unknown(hostname: str, prefix: str) -> html.Div:
    """No chart and no controls: there is nothing to show or act on."""
    return html.Div([
        page_header(hostname, pills=[status_pill("unknown", "muted")]),
        empty_state(f"No worker named {hostname} has been seen.",
                    ["Workers show up here after their first event or Inspector reply; "
                     "reload the page once it has started. ",
                     dcc.Link("Back to the dashboard", href=prefix)], id=UNKNOWN),
    ], className="page worker-page")


def layout(name: str | None = None, **_query):
    hostname = unquote(name or "")
    prefix = dash.get_app().config.requests_pathname_prefix
    services = current()
    if services.store.worker(hostname) is None and not services.cache.worker_snapshot(hostname):
        return _unknown(hostname, prefix)
    refused = disabled_title(services.actions_refused())
    return html.Div([
        dcc.Store(id=WORKER, data=hostname),
        dcc.Store(id=VERSION, data=0),
        page_header(hostname, pills=[html.Span(id=STATE)],
                    meta=[html.Span(id=HEADER, className="worker-meta")],
                    actions=[_button("Refresh now", REFRESH),
                             html.Fieldset(_button("Shut down", SHUTDOWN, "danger"),
                                           id=HEADER_CONTROLS, className="plain",
                                           title=refused)]),
        html.P(id=OFFLINE, className="banner banner-warn", hidden=True),
        dcc.Loading(html.Div(id=RESULT, role="status", className="action-result"), type="dot"),
        html.Fieldset(html.Fieldset(dcc.Tabs([
            _tab("Pool", _pool_controls(), html.Div(id=POOL)),
            _tab("Broker", html.Div(id=BROKER)),
            _tab("Queues", toolbar(toolbar_group(
                dcc.Input(id=NEW_QUEUE, type="text", placeholder="queue name", className="input"),
                _button("Add consumer", ADD_CONSUMER))),
                empty_state("The Inspector has not reported any queue for this worker.",
                            id=QUEUES),
                html.Div(queue_grid(QUEUE_GRID), id=QUEUE_BOX)),
            _tab("Tasks", *[task_list(method.capitalize(), grid_id, _empty_id(grid_id), prefix)
                            for method, grid_id in TASK_LISTS.items()]),
            _tab("Limits", _limit_controls(), html.Div(id=TOTALS)),
            _tab("Config", html.Div(id=CONFIG)),
            _tab("System", html.Div(id=SYSTEM)),
        ], className="tabs"), id=BUSY, className="plain"), id=CONTROLS, className="plain",
            title=refused),
        card(dcc.Graph(id=CHART, config={"displaylogo": False}),
             title="Active tasks and load, last hour"),
        MODAL.layout(),
    ], className="page worker-page")


def _header(row, online: bool, inspected: float | None, now: float) -> tuple:
    software = " ".join(filter(None, ((row or {}).get("sw_ident"), (row or {}).get("sw_ver"))))
    meta = [html.Span(software) if software else None,
            html.Span("never inspected" if inspected is None else
                      f"inspected {human_seconds(now - inspected)} ago")]
    return status_pill("online" if online else "offline"), meta


def _note(row, online: bool, refused: str | None, now: float) -> str:
    if not online:
        last = (row or {}).get("last_heartbeat")
        return ("This worker is offline" +
                (f" (last heartbeat {human_seconds(now - last)} ago)" if last else "") +
                ". Showing its last known data; actions are disabled.")
    return f"Actions are disabled: {refused}." if refused else ""


@callback(
    Output(STATE, "children"), Output(HEADER, "children"), Output(OFFLINE, "children"),
    Output(OFFLINE, "hidden"), Output(CONTROLS, "disabled"), Output(HEADER_CONTROLS, "disabled"),
    Output(RESTART, "disabled"), Output(RESTART, "title"),
    Output(POOL, "children"), Output(BROKER, "children"), Output(QUEUES, "hidden"),
    Output(QUEUE_BOX, "hidden"), Output(QUEUE_GRID, "rowData"), Output(CONFIG, "children"),
    Output(SYSTEM, "children"), Output(TOTALS, "children"), Output(LIMIT_TASK, "options"),
    Output(CHART, "figure"),
    *[Output(target, prop) for grid_id in TASK_LISTS.values()
      for target, prop in ((grid_id, "rowData"), (_empty_id(grid_id), "hidden"),
                           (box_id(grid_id), "hidden"))],
    Input(INTERVAL, "n_intervals"), Input(VERSION, "data"), Input(BROWSER_TZ, "data"),
    State(WORKER, "data"),
)
def _render(_ticks, _version, tz_name, hostname):
    services = current()
    now = time.time()
    row = services.store.worker(hostname)
    snapshot = services.cache.worker_snapshot(hostname)
    online = row is not None and is_online(row, now)
    refused = services.actions_refused()
    note = _note(row, online, refused, now)
    restarts_off = detail.pool_restarts_off(snapshot)
    queues = detail.queue_rows(snapshot)
    samples = worker_samples_frame(services.store.worker_samples(hostname, now - CHART_SECONDS))
    task_outputs = []
    for method in TASK_LISTS:
        rows = detail.task_rows(snapshot, method)
        task_outputs += [rows, bool(rows), not rows]
    return (
        *_header(row, online, detail.inspected_at(snapshot), now), note, not note,
        not online or bool(refused), not online or bool(refused),
        restarts_off, POOL_RESTARTS_OFF if restarts_off else None,
        facts_card("Pool", detail.pool_facts(snapshot), "No pool information yet.",
                   "It comes with the worker's next answer to the Inspector."),
        facts_card("Broker connection", detail.broker_facts(snapshot),
                   "No broker information yet."),
        bool(queues), not queues, queues,
        facts_card("Configuration (settings that differ from Celery's defaults)",
                   detail.conf_rows(snapshot), "No configuration reported yet."),
        facts_card("Process", detail.system_facts(snapshot), "No statistics reported yet."),
        limits_table(detail.limit_rows(snapshot)),
        detail.registered_names(snapshot),
        worker_load_figure(samples, zone(tz_name)),
        *task_outputs,
    )


@callback(
    Output(RESULT, "children"), Output(RESULT, "className"), Output(VERSION, "data"),
    Output(TOAST, "data", allow_duplicate=True), *MODAL.ask_outputs(),
    *[Input(button_id, "n_clicks") for button_id in _BUTTON_ACTIONS],
    Input(QUEUE_GRID, "cellRendererData"), Input(REFRESH, "n_clicks"),
    Input(MODAL.ok, "n_clicks"),
    State(WORKER, "data"), State(VERSION, "data"), State(POOL_N, "value"),
    State(AUTO_MIN, "value"), State(AUTO_MAX, "value"), State(NEW_QUEUE, "value"),
    State(LIMIT_TASK, "value"), State(RATE, "value"), State(SOFT, "value"), State(HARD, "value"),
    State(MODAL.pending, "data"),
    running=[(Output(BUSY, "disabled"), True, False),
             (Output(BUSY, "className"), "plain busy", "plain")],
    prevent_initial_call=True,
)
def _act(*args):
    hostname, version, pool_n, auto_min, auto_max, queue, task, rate, soft, hard, pending = \
        args[-11:]
    trigger = ctx.triggered_id
    keep = (no_update,) * len(MODAL.ask_outputs())
    if not ctx.triggered or not ctx.triggered[0]["value"]:
        return (no_update,) * 4 + keep
    services = current()
    if trigger == REFRESH:
        return (*_refresh(services, hostname, version), no_update, *keep)
    if trigger == MODAL.ok:
        if not pending or pending.get("worker") != hostname:
            return (no_update,) * 4 + keep
        outcome = _run(services, hostname, pending["action"], pending.get("params") or {})
        if outcome.ok and pending["action"] != "shutdown":
            _quietly_refresh(services, hostname)
        tone = "ok" if outcome.ok else "error"
        return (outcome.message, f"action-result {tone}", version + 1,
                toast(outcome.message, tone), *keep)
    if trigger == QUEUE_GRID:
        action, params = "cancel_consumer", {"queue": ctx.triggered[0]["value"]["value"]}
    else:
        action = _BUTTON_ACTIONS[trigger]
        params = {"n": pool_n, "min": auto_min, "max": auto_max, "queue": queue, "task": task,
                  "rate": rate, "soft": soft, "hard": hard}
    try:  # refuse before asking: read-only, a role that may only watch, bad input
        services.control()
        refused = services.actions_refused()
        if refused:
            raise ControlError(refused)
        arguments = check_action(action, params)
    except ControlError as exc:
        return str(exc), "action-result error", no_update, no_update, *keep
    verb, explained, danger = confirmation(action, arguments)
    asked = MODAL.ask(verb, [hostname], {"worker": hostname, "action": action,
                                         "params": arguments}, danger=danger, detail=explained)
    return no_update, no_update, no_update, no_update, *asked


def _run(services, hostname: str, action: str, params: dict) -> Outcome:
    try:
        control = services.control()
    except ControlError as exc:  # read-only since the dialog opened, or no cluster yet
        return Outcome(False, str(exc))
    return run_worker_action(control, hostname, action, params)


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
