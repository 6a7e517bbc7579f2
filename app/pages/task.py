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

from ..broker.control import disabled_title
from ..broker.gate import ControlError
from ..bulk import actions as bulk
from ..bulk.links import links_of
from ..bulk.targets import retry_refusal
from ..components import task_view as view
from ..components.confirm import ConfirmModal
from ..components.page_header import page_header
from ..components.refresh import INTERVAL
from ..components.toast import TOAST, toast
from ..components.toolbar import toolbar_group
from ..services import Services, current
from ..tasks import detail
from ..workers.detail import registered_names
from ..workers.liveness import is_online


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
REVOKE, TERMINATE, APPLY, RETRY = "task-revoke", "task-terminate", "task-apply", "task-retry"
SIGNAL = "task-signal"
APPLY_NOTE = "task-apply-note"
RESULT = "task-action-result"
MODAL = ConfirmModal("task")

_ACTIONS = {REVOKE: "revoke", TERMINATE: "terminate", APPLY: "apply", RETRY: "retry"}


def _button(label: str, button_id: str, tone: str = "") -> html.Button:
    return html.Button(label, id=button_id, n_clicks=0, className=f"button {tone}".strip())


def _actions() -> html.Fieldset:
    return html.Fieldset([
        _button("Revoke", REVOKE),
        toolbar_group(dcc.Dropdown(id=SIGNAL, options=list(detail.SIGNALS),
                                   value=detail.SIGNALS[0], clearable=False, searchable=False,
                                   className="dropdown signal"),
                      _button("Terminate", TERMINATE, "danger"), label="signal"),
        toolbar_group(_button("Retry", RETRY, "primary"), _button("Apply again", APPLY)),
    ], id=ACTIONS, className="plain task-actions", hidden=True,
        title=disabled_title(current().actions_refused()))


def layout(task_id: str | None = None, **_query):
    uuid = unquote(task_id or "")
    return html.Div([
        dcc.Store(id=TASK, data=uuid),
        dcc.Store(id=VERSION, data=0),
        dcc.Store(id=TICK, data=0),
        dcc.Store(id=SETTLED, data=False),
        dcc.Store(id=SIGNATURE),
        page_header(uuid, pills=[html.Span(id=HEADER, className="task-header")],
                    actions=[_actions()]),
        html.P(id=APPLY_NOTE, className="muted task-apply-note"),
        dcc.Loading(html.Div(id=RESULT, role="status", className="action-result"), type="dot"),
        html.Div(id=BODY, className="task-body"),
        MODAL.layout(),
    ], className="page task-page")


# Stop asking the server once the task has settled: a final task does not change.
clientside_callback(
    "function (ticks, settled) { return settled ? window.dash_clientside.no_update : ticks; }",
    Output(TICK, "data"), Input(INTERVAL, "n_intervals"), State(SETTLED, "data"),
    prevent_initial_call=True,
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
    Output(APPLY_NOTE, "children"), Output(SIGNATURE, "data"), Output(SETTLED, "data"),
    Output(RETRY, "disabled"), Output(RETRY, "title"),
    Input(TICK, "data"), Input(VERSION, "data"), State(TASK, "data"), State(SIGNATURE, "data"),
)
def _render(_tick, _version, uuid, shown):
    services = current()
    now = time.time()
    row = services.store.task(uuid) if uuid else None
    child_rows = services.store.children(uuid, view.MAX_CHILDREN) if uuid else []
    plan = detail.plan_apply(row, _registered(services, row, now)) if row else None
    links = links_of(services.store.engine, uuid) if uuid else (None, [])
    signature = _signature(row, child_rows, plan, links)
    settled = detail.settled(row, now)
    if signature == shown:
        return (*[no_update] * 8, settled, no_update, no_update)
    prefix = dash.get_app().config.requests_pathname_prefix
    if row is None:
        return (view.not_seen_pill(), view.not_seen(uuid, child_rows, prefix), True, True, True,
                True, "", signature, settled, True, None)
    retry_problem = retry_refusal({**row, "retried_as": links[1][-1] if links[1] else None})
    final = detail.is_final(row.get("state"))
    note = "" if plan.ok else f"Apply again is unavailable: {plan.problem}."
    refused = services.actions_refused()  # every action would be refused: grey them out
    read_only = bool(refused)
    if refused:
        note = f"Actions are disabled: {refused}."
    return (view.header(row), view.details(row, child_rows, prefix, links), False,
            final or read_only, final or read_only, not plan.ok or read_only, note, signature,
            settled, bool(retry_problem) or read_only,
            f"Not retried: {retry_problem}" if retry_problem else None)


def _plan(services: Services, uuid: str) -> detail.ApplyPlan:
    row = services.store.task(uuid)
    return detail.plan_apply(row, _registered(services, row, time.time()))


def _question(services: Services, uuid: str, action: str, signal: str | None) -> tuple:
    """What the dialog asks before `action`; ControlError if it cannot run at all."""
    services.control()  # read-only, or no cluster yet
    refused = services.actions_refused()
    if refused:
        raise ControlError(refused)
    if action == "terminate":
        if signal not in detail.SIGNALS:
            raise ControlError(f"Choose one of {', '.join(detail.SIGNALS)}.")
        return ("Terminate", f"The pool process running it gets {signal}, and the task is "
                "revoked.", True)
    if action == "revoke":
        return ("Revoke", "Workers discard it if it has not started yet; a task already "
                "running goes on (Terminate stops it).", False)
    if action == "retry":
        preview = bulk.plan(services, bulk.parse_request("retry", {"ids": [uuid]}))
        if preview.refused:
            raise ControlError(f"Not retried: {preview.refused[0]['reason']}.")
        row = preview.eligible[0]
        route = ", ".join(f"{key.replace('_', ' ')} {row[key]}" for key in
                          ("queue", "exchange", "routing_key") if row.get(key)) or "default"
        return ("Retry", f"Dry run: its arguments round-trip exactly. It is sent again as a "
                f"new task linked to this one, routed as recorded ({route}).", False)
    plan = _plan(services, uuid)
    if not plan.ok:
        raise ControlError(f"Not sent: {plan.problem}.")
    queue = f" on queue {plan.queue}" if plan.queue else ""
    return ("Apply again", f"Sends {detail.describe_call(plan)}{queue} as a new task; this one "
            "stays as it is.", False)


def _perform(services: Services, uuid: str, action: str, signal: str | None):
    """Run one action: (children for the result line, the toast's text, ok). Never raises
    a ControlError."""
    try:
        control = services.control()
        if action == "apply":
            plan = _plan(services, uuid)
            if not plan.ok:
                return (f"Not sent: {plan.problem}.",) * 2 + (False,)
            assert plan.name is not None  # a plan with no problem names its task
            new_id = control.task_apply(plan.name, plan.args, plan.kwargs, queue=plan.queue)
            prefix = dash.get_app().config.requests_pathname_prefix
            return (["Sent ", html.Code(plan.name), " again as ", view.task_link(prefix, new_id),
                     "."], f"Sent {plan.name} again as {new_id}.", True)
        if action == "retry":
            return _retry(services, uuid)
        if action == "terminate":
            if signal not in detail.SIGNALS:
                return (f"Choose one of {', '.join(detail.SIGNALS)}.",) * 2 + (False,)
            result = control.task_terminate(uuid, signal=signal)
        else:
            result = control.task_revoke(uuid)
    except ControlError as exc:
        return str(exc), str(exc), False
    return result.sentence(), result.sentence(), result.ok


def _retry(services: Services, uuid: str):
    _, answer = bulk.execute(services, bulk.parse_request("retry", {"ids": [uuid],
                                                                    "dry_run": False}))
    if not answer["sent"]:
        reason = answer["refused"][0]["reason"] if answer["refused"] else "nothing was sent"
        return (f"Not retried: {reason}.",) * 2 + (False,)
    new_id = answer["sent"][0]["new_id"]
    prefix = dash.get_app().config.requests_pathname_prefix
    return (["Retried as ", view.task_link(prefix, new_id), "."], f"Retried as {new_id}.", True)


@callback(
    Output(RESULT, "children"), Output(RESULT, "className"), Output(VERSION, "data"),
    Output(TOAST, "data", allow_duplicate=True), *MODAL.ask_outputs(),
    Input(REVOKE, "n_clicks"), Input(TERMINATE, "n_clicks"), Input(APPLY, "n_clicks"),
    Input(RETRY, "n_clicks"), Input(MODAL.ok, "n_clicks"),
    State(TASK, "data"), State(SIGNAL, "value"), State(VERSION, "data"),
    State(MODAL.pending, "data"),
    running=[(Output(ACTIONS, "disabled"), True, False)],
    prevent_initial_call=True,
)
def _act(_revoke, _terminate, _apply, _retry_clicks, _ok, uuid, signal, version, pending):
    keep = (no_update,) * len(MODAL.ask_outputs())
    if not ctx.triggered or not ctx.triggered[0]["value"]:
        return (no_update,) * 4 + keep
    services = current()
    if ctx.triggered_id == MODAL.ok:
        if not pending or pending.get("task") != uuid:
            return (no_update,) * 4 + keep
        children, text, ok = _perform(services, uuid, pending["action"], pending.get("signal"))
        tone = "ok" if ok else "error"
        return (children, f"action-result {tone}", (version or 0) + 1, toast(text, tone), *keep)
    action = _ACTIONS[ctx.triggered_id]
    try:
        verb, explained, danger = _question(services, uuid, action, signal)
    except ControlError as exc:
        return str(exc), "action-result error", no_update, no_update, *keep
    asked = MODAL.ask(verb, [uuid], {"task": uuid, "action": action, "signal": signal},
                      danger=danger, detail=explained, noun="task")
    return no_update, no_update, no_update, no_update, *asked
