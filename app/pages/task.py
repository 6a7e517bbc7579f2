"""`/tasks/<id>`: one task's fields, lifecycle, payloads, family, and its actions.

The page refreshes on the shared interval until the task has been final for a while
(task_detail.settled); an id the collector has not seen yet gets a "not seen" page that
keeps looking, so the link an "apply again" returns works before the new task's first event.
"""
from __future__ import annotations

import hashlib
import time
from urllib.parse import unquote

import dash
from dash import Input, Output, State, callback, clientside_callback, ctx, dcc, html, no_update

from .. import task_detail as detail
from ..components import task_view as view
from ..components.refresh import INTERVAL
from ..control import ControlError, disabled_title
from ..frames import is_online
from ..services import Services, current
from ..worker_detail import registered_names


def _title(task_id: str | None = None, **_query) -> str:
    return f"Task {unquote(task_id or '')[:64]} · celery-scope"


dash.register_page(__name__, path_template="/tasks/<task_id>", name="Task", title=_title,
                   hidden_from_nav=True)

TASK = "task-uuid"
VERSION = "task-data-version"  # bumped by actions: render now
TICK = "task-tick"  # the shared interval, passed on while the task is not settled
SETTLED = "task-settled"
SIGNATURE = "task-signature"  # what the body shows; unchanged data is not re-rendered
HEADER = "task-header"
BODY = "task-body"
ACTIONS = "task-actions"  # fieldset: hidden for an unknown task, disabled while acting
REVOKE, TERMINATE, APPLY = "task-revoke", "task-terminate", "task-apply"
REVOKE_CONFIRM, TERMINATE_CONFIRM, APPLY_CONFIRM = (f"{REVOKE}-confirm", f"{TERMINATE}-confirm",
                                                    f"{APPLY}-confirm")
SIGNAL = "task-signal"
APPLY_NOTE = "task-apply-note"
RESULT = "task-action-result"

_ACTIONS = {REVOKE_CONFIRM: "revoke", TERMINATE_CONFIRM: "terminate", APPLY_CONFIRM: "apply"}


def _button(label: str, button_id: str, tone: str = "") -> html.Button:
    return html.Button(label, id=button_id, n_clicks=0, className=f"button {tone}".strip())


def _actions(uuid: str) -> html.Fieldset:
    return html.Fieldset([
        html.Div([
            dcc.ConfirmDialogProvider(
                _button("Revoke", REVOKE), id=REVOKE_CONFIRM,
                message=f"Revoke task {uuid}? Workers discard it if it has not started yet; "
                        "a task already running goes on (Terminate stops it)."),
            html.Span([
                html.Label("signal", htmlFor=SIGNAL, className="muted"),
                dcc.Dropdown(id=SIGNAL, options=list(detail.SIGNALS), value=detail.SIGNALS[0],
                             clearable=False, searchable=False, className="dropdown signal"),
                dcc.ConfirmDialogProvider(_button("Terminate", TERMINATE, "danger"),
                                          id=TERMINATE_CONFIRM),
            ], className="group"),
            html.Span([
                dcc.ConfirmDialogProvider(_button("Apply again", APPLY), id=APPLY_CONFIRM),
                html.Span(id=APPLY_NOTE, className="muted"),
            ], className="group"),
        ], className="toolbar"),
        dcc.Loading(html.Div(id=RESULT, role="status", className="action-result"), type="dot"),
    ], id=ACTIONS, className="plain", hidden=True,
        title=disabled_title(current().actions_refused()))


def layout(task_id: str | None = None, **_query):
    uuid = unquote(task_id or "")
    return html.Div([
        dcc.Store(id=TASK, data=uuid),
        dcc.Store(id=VERSION, data=0),
        dcc.Store(id=TICK, data=0),
        dcc.Store(id=SETTLED, data=False),
        dcc.Store(id=SIGNATURE),
        html.Div([html.H1(uuid, className="title"), html.Div(id=HEADER, className="meta")],
                 className="page-header"),
        _actions(uuid),
        html.Div(id=BODY, className="task-body"),
    ], className="page task-page")


# Stop asking the server once the task has settled: a final task does not change.
clientside_callback(
    "function (ticks, settled) { return settled ? window.dash_clientside.no_update : ticks; }",
    Output(TICK, "data"), Input(INTERVAL, "n_intervals"), State(SETTLED, "data"),
    prevent_initial_call=True,
)

clientside_callback(
    """function (signal, uuid) {
        return 'Terminate task ' + uuid + ' with ' + signal + '? The pool process running it ' +
            'gets the signal, and the task is revoked.';
    }""",
    Output(TERMINATE_CONFIRM, "message"), Input(SIGNAL, "value"), State(TASK, "data"),
)


def _registered(services: Services, row: dict | None, now: float) -> set[str]:
    """{the task's name} if the Inspector last saw it registered on a worker online now."""
    name = (row or {}).get("name")
    if not name:
        return set()
    online = {worker["hostname"] for worker in services.store.workers() if is_online(worker, now)}
    for hostname in services.cache.inspected_workers():
        if hostname in online and name in registered_names(
                services.cache.worker_snapshot(hostname)):
            return {name}
    return set()


def _signature(*parts) -> str:
    return hashlib.sha1(repr(parts).encode("utf-8", "surrogatepass")).hexdigest()


@callback(
    Output(HEADER, "children"), Output(BODY, "children"), Output(ACTIONS, "hidden"),
    Output(REVOKE, "disabled"), Output(TERMINATE, "disabled"), Output(APPLY, "disabled"),
    Output(APPLY_NOTE, "children"), Output(APPLY_CONFIRM, "message"),
    Output(SIGNATURE, "data"), Output(SETTLED, "data"),
    Input(TICK, "data"), Input(VERSION, "data"), State(TASK, "data"), State(SIGNATURE, "data"),
)
def _render(_tick, _version, uuid, shown):
    services = current()
    now = time.time()
    row = services.store.task(uuid) if uuid else None
    child_rows = services.store.children(uuid, view.MAX_CHILDREN) if uuid else []
    plan = detail.plan_apply(row, _registered(services, row, now)) if row else None
    signature = _signature(row, child_rows, plan)
    settled = detail.settled(row, now)
    if signature == shown:
        return (*[no_update] * 9, settled)
    prefix = dash.get_app().config.requests_pathname_prefix
    if row is None:
        return ("not seen", view.not_seen(uuid, child_rows, prefix), True, True, True, True, "",
                "", signature, settled)
    final = detail.is_final(row.get("state"))
    note = "" if plan.ok else f"Apply again is unavailable: {plan.problem}."
    refused = services.actions_refused()  # every action would be refused: grey them out
    read_only = bool(refused)
    if refused:
        note = f"Actions are disabled: {refused}."
    queue = f" on queue {plan.queue}" if plan.queue else ""
    message = (f"Send {detail.describe_call(plan)}{queue} as a new task? This one stays as it is."
               if plan.ok else "")
    return (view.header(row), view.details(row, child_rows, prefix), False, final or read_only,
            final or read_only, not plan.ok or read_only, note, message, signature, settled)


def _perform(services: Services, uuid: str, action: str, signal: str | None):
    """Run one action; (children for the result line, ok). Never raises a ControlError."""
    try:
        control = services.control()
        if action == "apply":
            row = services.store.task(uuid)
            plan = detail.plan_apply(row, _registered(services, row, time.time()))
            if not plan.ok:
                return f"Not sent: {plan.problem}.", False
            new_id = control.task_apply(plan.name, plan.args, plan.kwargs, queue=plan.queue)
            prefix = dash.get_app().config.requests_pathname_prefix
            return (["Sent ", html.Code(plan.name), " again as ", view.task_link(prefix, new_id),
                     "."], True)
        if action == "terminate":
            if signal not in detail.SIGNALS:
                return f"Choose one of {', '.join(detail.SIGNALS)}.", False
            result = control.task_terminate(uuid, signal=signal)
        else:
            result = control.task_revoke(uuid)
    except ControlError as exc:
        return str(exc), False
    return result.summary(), result.ok


@callback(
    Output(RESULT, "children"), Output(RESULT, "className"), Output(VERSION, "data"),
    Input(REVOKE_CONFIRM, "submit_n_clicks"), Input(TERMINATE_CONFIRM, "submit_n_clicks"),
    Input(APPLY_CONFIRM, "submit_n_clicks"),
    State(TASK, "data"), State(SIGNAL, "value"), State(VERSION, "data"),
    running=[(Output(ACTIONS, "disabled"), True, False)],
    prevent_initial_call=True,
)
def _act(_revoke, _terminate, _apply, uuid, signal, version):
    if not ctx.triggered or not ctx.triggered[0]["value"]:
        return no_update, no_update, no_update
    children, ok = _perform(current(), uuid, _ACTIONS[ctx.triggered_id], signal)
    return children, f"action-result {'ok' if ok else 'error'}", (version or 0) + 1
