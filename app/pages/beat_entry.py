"""`/beat/<entry>`: one periodic task: its facts, a strip chart of its expected against its
actual fire times over a chosen window, and its runs (each linked to its task page); Run
now (operator) and, for django-celery-beat and RedBeat entries, Enable / Disable (admin)."""
from __future__ import annotations

import time
from urllib.parse import unquote

import dash
import dash_ag_grid as dag
from dash import Input, Output, State, callback, ctx, dcc, html, no_update

from ..auth.roles import may
from ..beat import actions, view
from ..broker.gate import ControlError
from ..components.beat_chart import strip_chart
from ..components.card import card
from ..components.confirm import ConfirmModal
from ..components.empty_state import empty_state
from ..components.grid_defaults import (
    DEFAULT_COL_DEF,
    GRID_CLASS,
    SECONDS_TIME,
    auto_height_options,
    col_def,
)
from ..components.page_header import page_header
from ..components.refresh import BROWSER_TZ, INTERVAL
from ..components.toast import TOAST, toast
from ..services import current
from ..tasks.view import browser_zone
from .beat import run_and_report


def _title(entry: str | None = None, **_query) -> str:
    return f"{unquote(entry or '')[:64]} · Beat · celery-scope"


dash.register_page(__name__, path_template="/beat/<entry>", name="Beat entry", title=_title,
                   hidden_from_nav=True)

ENTRY, WINDOW, CHART, RUNS = "beat-entry-name", "beat-entry-window", "beat-entry-chart", \
    "beat-entry-runs"
RUN, ENABLE, DISABLE = "beat-entry-run", "beat-entry-enable", "beat-entry-disable"
RESULT = "beat-entry-result"
MODAL = ConfirmModal("beat-entry")
WINDOWS = {"1h": 3600.0, "6h": 6 * 3600.0, "24h": 86400.0, "7d": 7 * 86400.0}
SHOWN_RUNS = 200
RUN_COLUMNS = [
    col_def(field="uuid", headerName="Task", cellRenderer="TaskLink", minWidth=260, flex=2),
    col_def(field="state", headerName="State", cellRenderer="StatusBadge", minWidth=100,
            flex=0, width=110),
    col_def(field="received", headerName="Received", valueFormatter=SECONDS_TIME, minWidth=160,
            flex=1),
    col_def(field="runtime", headerName="Runtime (s)", type="numericColumn", minWidth=100,
            flex=0, width=110),
    col_def(field="worker", headerName="Worker", minWidth=140, flex=1),
]


def _facts(entry) -> html.Dl:
    pairs = [("Task", entry.task), ("Schedule", entry.schedule_text),
             ("Args", repr(list(entry.args))), ("Kwargs", repr(entry.kwargs)),
             ("Queue", entry.queue or "(the task's routing)"), ("Source", entry.source),
             ("Enabled", "yes" if entry.enabled else "no")]
    return html.Dl([part for key, value in pairs
                    for part in (html.Dt(key), html.Dd(str(value)))], className="facts")


def layout(entry: str | None = None, **_query):
    name = unquote(entry or "")
    services = current()
    found = view.entry(services, name)
    if found is None:
        return html.Div([page_header(name or "Beat entry"),
                         empty_state("No such periodic task",
                                     "No schedule source lists it (any more).")],
                        className="page beat-entry-page")
    refused = services.actions_refused()
    switch_refused = refused or (None if may("admin") else "enabling and disabling needs admin")
    if found.source not in actions.SWITCHABLE:
        switch_refused = "an entry of the app's beat_schedule is switched in its code"
    buttons = [
        html.Button("Run now", id=RUN, className="button primary", disabled=bool(refused),
                    title=refused or f"Send {found.task} once, now"),
        html.Button("Enable", id=ENABLE, className="button", disabled=bool(switch_refused),
                    title=switch_refused or "Let its beat send it again"),
        html.Button("Disable", id=DISABLE, className="button", disabled=bool(switch_refused),
                    title=switch_refused or "Stop its beat sending it"),
    ]
    return html.Div([
        dcc.Store(id=ENTRY, data=found.name),
        page_header(found.name, actions=buttons, subtitle=found.schedule_text),
        html.Div(id=RESULT, className="action-result", role="status"),
        card(_facts(found), title="Entry"),
        card([dcc.RadioItems([{"label": key, "value": key} for key in WINDOWS], "1h",
                             id=WINDOW, inline=True, className="radio window-choice"),
              dcc.Graph(id=CHART, config={"displaylogo": False})],
             title="Expected against actual fire times"),
        card(dag.AgGrid(id=RUNS, columnDefs=RUN_COLUMNS, rowData=[], getRowId="params.data.uuid",
                        defaultColDef={**DEFAULT_COL_DEF, "sortable": True},
                        dashGridOptions=auto_height_options(), className=GRID_CLASS,
                        style={"width": "100%"}), title="Runs in the window, newest first"),
        MODAL.layout(),
    ], className="page beat-entry-page")


@callback(Output(CHART, "figure"), Output(RUNS, "rowData"),
          Input(INTERVAL, "n_intervals"), Input(WINDOW, "value"), Input(BROWSER_TZ, "data"),
          State(ENTRY, "data"))
def _refresh(_ticks, window, tz_name, name):
    services, until = current(), time.time()
    since = until - WINDOWS.get(window, WINDOWS["1h"])
    times = view.expected_vs_actual(services, name, since, until)
    figure = strip_chart(times["expected"], times["actual"], times.get("missed", []), since,
                         until, browser_zone(tz_name))
    return figure, view.entry_runs(services, name, since, SHOWN_RUNS)


@callback(Output(RESULT, "children"), Output(TOAST, "data", allow_duplicate=True),
          *MODAL.ask_outputs(),
          Input(RUN, "n_clicks"), Input(ENABLE, "n_clicks"), Input(DISABLE, "n_clicks"),
          Input(MODAL.ok, "n_clicks"), State(ENTRY, "data"), State(MODAL.pending, "data"),
          prevent_initial_call=True)
def _act(run, enable, disable, ok, name, pending):
    keep = (no_update,) * len(MODAL.ask_outputs())
    if not ctx.triggered or not ctx.triggered[0]["value"]:
        return no_update, no_update, *keep
    services = current()
    if ctx.triggered_id != MODAL.ok:
        action = {RUN: "run", ENABLE: "enable", DISABLE: "disable"}[ctx.triggered_id]
        found = view.entry(services, name)
        detail = f"Sends {found.task} with its arguments once, now." if action == "run" and \
            found else None
        verb = {"run": "Run now", "enable": "Enable", "disable": "Disable"}[action]
        return (no_update, no_update,
                *MODAL.ask(verb, [name], {"entry": name, "action": action},
                           noun="periodic task", detail=detail))
    if not pending or pending.get("entry") != name:
        return no_update, no_update, *keep
    if pending["action"] == "run":
        return (*run_and_report(services, name), *keep)
    try:
        switched = actions.set_enabled(services, name, pending["action"] == "enable")
    except ControlError as exc:
        return html.Span(str(exc), className="error"), toast(str(exc), "error"), *keep
    state = "enabled" if switched.entry.enabled else "disabled"
    text = f"{name}: {state}" if switched.changed else f"{name}: already {state}"
    return text, toast(text, "ok"), *keep
