"""The task grid's bulk actions: retry or revoke the selected rows or every task matching
the filter. Each first shows its dry run in the confirmation dialog (how many match, how
many would be sent, the refusals and their reasons); a confirmed run answers at once for a
small set, or starts a job whose progress is shown here, with a Cancel."""
from __future__ import annotations

from collections import Counter
from typing import Any
from urllib.parse import urlencode

from dash import Input, Output, State, callback, ctx, dcc, html, no_update

from ..auth.roles import Forbidden
from ..broker.gate import ControlError
from ..bulk import actions, jobs
from ..bulk.targets import Plan, SelectionError
from ..services import current
from .confirm import ConfirmModal
from .refresh import INTERVAL
from .toast import TOAST, toast
from .toolbar import toolbar_group

PREFIX = "tasks-bulk"
BUTTONS = {f"{PREFIX}-retry-selected": ("retry", "selected"),
           f"{PREFIX}-retry-all": ("retry", "all"),
           f"{PREFIX}-revoke-selected": ("revoke", "selected"),
           f"{PREFIX}-revoke-all": ("revoke", "all")}
SELECTED, RESULT, JOB = f"{PREFIX}-selected", f"{PREFIX}-result", f"{PREFIX}-job"
CANCEL, CANCEL_WRAP = f"{PREFIX}-cancel", f"{PREFIX}-cancel-wrap"
_DONE = {"retry": "retried", "revoke": "revoked"}
MODAL = ConfirmModal(PREFIX)
_REASONS_SHOWN = 8  # distinct refusal reasons listed in the dialog


def _button(button_id: str, label: str) -> html.Button:
    return html.Button(label, id=button_id, n_clicks=0, className="button")


def bulk_toolbar() -> html.Div:
    ids = list(BUTTONS)
    return html.Div([
        toolbar_group(html.Span("none selected", id=SELECTED, className="muted"),
                      _button(ids[0], "Retry selected"), _button(ids[2], "Revoke selected"),
                      label="selection"),
        toolbar_group(_button(ids[1], "Retry all matching"),
                      _button(ids[3], "Revoke all matching"), label="filter"),
        html.Div([html.Span(id=RESULT, role="status"),
                  html.Div(html.Button("Cancel job", id=CANCEL, n_clicks=0,
                                       className="button danger"), id=CANCEL_WRAP,
                           hidden=True)], className="bulk-result"),
        dcc.Store(id=JOB), MODAL.layout(),
    ], className="bulk-actions")


def _body(scope: str, selected: list[dict] | None, params: dict | None) -> dict[str, Any]:
    if scope == "selected":
        return {"ids": [str(row["uuid"]) for row in selected or [] if row.get("uuid")]}
    return {"filter": urlencode(params or {}, doseq=True)}


def _preview(kind: str, plan: Plan) -> list:
    """The dry run, as the dialog's detail: counts, then the refusals by reason."""
    lines: list[Any] = [html.P(f"Dry run: {plan.matched:,} match, {len(plan.eligible):,} can be "
                    f"{_DONE[kind]}, {plan.refused_count:,} refused.", className="bulk-counts")]
    reasons = Counter(item["reason"] for item in plan.refused)
    if reasons:
        lines.append(html.Ul([html.Li(f"{count:,} × {reason}") for reason, count in
                              reasons.most_common(_REASONS_SHOWN)], className="bulk-refusals"))
    if len(plan.eligible) > actions.SYNC_MAX:
        lines.append(html.P(f"Sent as a job at {actions.DEFAULT_RATE:g} per second; "
                            "its progress shows here.", className="muted"))
    return lines


def _count_selected(rows):
    return f"{len(rows)} selected" if rows else "none selected"


def _ask(*values):
    """The dry run first, always; the dialog shows it and offers the real run."""
    *_clicks, selected, params = values
    keep = (no_update,) * len(MODAL.ask_outputs())
    if not ctx.triggered or not ctx.triggered[0]["value"]:
        return (no_update, *keep)
    kind, scope = BUTTONS[ctx.triggered_id]
    body = _body(scope, selected, params)
    if scope == "selected" and not body["ids"]:
        return ("Select rows first (the boxes at the left of the grid).", *keep)
    services = current()
    try:
        plan = actions.plan(services, actions.parse_request(kind, body))
    except (SelectionError, ValueError) as exc:
        return (f"Not run: {exc}", *keep)
    verb = kind.capitalize()
    refused = services.actions_refused()
    if refused or not plan.eligible:
        why = refused or f"nothing among them can be {_DONE[kind]}"
        return ([*_preview(kind, plan), html.P(f"Not run: {why}.")], *keep)
    targets = [row["uuid"] for row in plan.eligible]
    asked = MODAL.ask(verb, targets, {"kind": kind, **body}, danger=kind == "revoke",
                      detail=None, noun="task")
    body_children = [*asked[2], *_preview(kind, plan)]
    return (no_update, *asked[:2], body_children, *asked[3:])


def _run(_ok, pending):
    if not pending:
        return no_update, no_update, no_update
    kind = pending.pop("kind")
    try:
        status, answer = actions.execute(current(), actions.parse_request(
            kind, {**pending, "dry_run": False}))
    except (ControlError, Forbidden, SelectionError) as exc:
        return f"Not run: {exc}", None, toast(str(exc), "error")
    if status == 202:
        return f"Job started: {answer['eligible']:,} to send.", answer["job"], no_update
    text = (f"{kind.capitalize()}: {len(answer['sent']):,} sent, "
            f"{answer['refused_count']:,} refused.")
    return text, None, toast(text, "ok")


@callback(
    Output(RESULT, "children", allow_duplicate=True), Output(CANCEL_WRAP, "hidden"),
    Output(JOB, "data", allow_duplicate=True),
    Input(INTERVAL, "n_intervals"), Input(JOB, "data"), Input(CANCEL, "n_clicks"),
    State(JOB, "data"), prevent_initial_call=True,
)
def _progress(_tick, _job, _cancel, job_id):
    """A running job's progress, and its Cancel; its report once it has ended."""
    if not job_id:
        return no_update, True, no_update
    engine = current().store.engine
    if ctx.triggered_id == CANCEL:
        current().check_writable()
        jobs.request_cancel(engine, job_id)
    job = jobs.read(engine, job_id)
    if job is None:
        return "The job is gone.", True, None
    counts = (f"{job['kind'].capitalize()} job: {job['done']:,} of {job['total']:,} done, "
              f"{job['sent_count']:,} sent, {job['refused_count']:,} refused")
    if job["state"] == "running":
        return counts + ".", False, no_update
    return f"{counts} — {job['state']}.", True, None


def register_bulk_callbacks(*, grid: str, filter_store: str) -> None:
    """The toolbar's callbacks, for the page holding this grid and its filter store."""
    callback(Output(SELECTED, "children"), Input(grid, "selectedRows"))(_count_selected)
    callback(Output(RESULT, "children"), *MODAL.ask_outputs(),
             *[Input(button, "n_clicks") for button in BUTTONS],
             State(grid, "selectedRows"), State(filter_store, "data"),
             prevent_initial_call=True)(_ask)
    callback(Output(RESULT, "children", allow_duplicate=True), Output(JOB, "data"),
             Output(TOAST, "data", allow_duplicate=True),
             Input(MODAL.ok, "n_clicks"), State(MODAL.pending, "data"),
             prevent_initial_call=True)(_run)
