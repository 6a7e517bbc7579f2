"""`/beat`: every periodic task beat runs (the app's beat_schedule, django-celery-beat's
tables, RedBeat's keys), its schedule in words, when it is next due, its last run and how
many ran in 24 h, and whether it runs on time; Run now on each row (operator).

Rows come from beat/view.py; the action from beat/actions.py (its gates and audit record).
"""
from __future__ import annotations

import re
import time
from collections import Counter
from typing import Any
from urllib.parse import quote

import dash
import dash_ag_grid as dag
from dash import Input, Output, State, callback, ctx, html, no_update

from ..beat import actions, view
from ..broker.gate import ControlError
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
from ..components.pill import status_pill
from ..components.refresh import INTERVAL
from ..components.task_view import task_href
from ..components.toast import TOAST, toast
from ..services import current

dash.register_page(__name__, path="/beat", name="Beat", title="Beat · celery-scope", order=2.5)

COUNTS, BANNER, REFUSED = "beat-counts", "beat-banner", "beat-refused"
GRID, EMPTY, RESULT = "beat-grid", "beat-empty", "beat-result"
MODAL = ConfirmModal("beat")
STATUS_TONES = {"on time": "good", "late": "warn", "missed": "bad", "overran": "warn",
                "disabled": "muted", "not run yet": "info"}
NO_ENTRIES = "No periodic tasks"
NO_ENTRIES_HINT = ("Give celery-scope a schedule to read: start it as `celery -A proj scope` "
                   "(or with --app proj) for the app's beat_schedule, --beat-db with "
                   "django-celery-beat's database URL, or --redbeat-redis-url for RedBeat.")
_SECONDS = {"function": "params.value == null ? '' : d3.format('.3~f')(params.value) + ' s'"}
_STATUS_CLASS = {f"beat-status tone-{tone}": f"params.value == '{status}'"
                 for status, tone in STATUS_TONES.items()}
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~])")


def _columns(refused: str | None) -> list[dict[str, Any]]:
    """What an operator looks for first (status, next due, last run) before the entry's
    definition; Run now stays pinned at the right edge, whatever the width."""
    return [
        col_def(field="link", headerName="Name", cellRenderer="markdown", minWidth=150,
                flex=2, filter=True, getQuickFilterText={"function": "params.data.name"}),
        col_def(field="status", headerName="Status", cellClassRules=_STATUS_CLASS,
                tooltipField="problem", minWidth=100, width=110, flex=0, filter=True),
        col_def(field="schedule_text", headerName="Schedule", minWidth=150, flex=2,
                filter=True, tooltipField="schedule_text"),
        col_def(field="next_due", headerName="Next due", valueFormatter=SECONDS_TIME, minWidth=160,
                flex=0, width=165, headerTooltip="In this browser's time zone"),
        col_def(field="last_run_uuid", headerName="Last run", cellRenderer="TaskLink",
                minWidth=110, flex=1),
        col_def(field="last_run_state", headerName="Last state", cellRenderer="StatusBadge",
                minWidth=100, width=105, flex=0),
        col_def(field="last_run_runtime", headerName="Runtime", valueFormatter=_SECONDS,
                minWidth=90, width=95, flex=0),
        col_def(field="runs_24h", headerName="Runs 24 h", type="numericColumn", minWidth=90,
                width=95, flex=0),
        col_def(field="task", headerName="Task", minWidth=140, flex=2, filter=True),
        col_def(field="args", headerName="Args", minWidth=90, flex=1, tooltipField="args"),
        col_def(field="kwargs", headerName="Kwargs", minWidth=90, flex=1,
                tooltipField="kwargs"),
        col_def(field="queue", headerName="Queue", minWidth=90, flex=1, filter=True),
        col_def(field="enabled", headerName="Enabled", minWidth=90, width=90, flex=0),
        col_def(field="name", colId="run", headerName="", cellRenderer="RowActionButton",
                cellRendererParams={"label": "Run now", "disabled": bool(refused)},
                sortable=False, minWidth=100, width=105, flex=0, pinned="right"),
    ]


def entry_href(prefix: str, name: str) -> str:
    return f"{prefix}beat/{quote(name, safe='')}"


def grid_row(row: dict[str, Any], prefix: str) -> dict[str, Any]:
    """A beat row for the grid: the name as a markdown link whose text is escaped (entry
    names are text), the rest as view.beat_rows gives it."""
    text = _MARKDOWN_SPECIAL.sub(r"\\\1", row["name"])
    link = f"[{text}]({entry_href(prefix, row['name'])})"
    return {**row, "link": link, "enabled": "yes" if row["enabled"] else "no"}


def status_pills(rows: list[dict[str, Any]]) -> list[html.Span]:
    counts = Counter(row["status"] for row in rows)
    return [status_pill(f"{counts[status]:,} {status}", tone)
            for status, tone in STATUS_TONES.items() if counts[status]]


def layout(**_query):
    refused = current().actions_refused()
    return html.Div([
        page_header("Beat", meta=[html.Span(id=COUNTS, className="beat-counts")]),
        html.Div(id=BANNER, className="action-result error", role="alert", hidden=True),
        html.Div(id=RESULT, className="action-result", role="status"),
        html.P(f"Run now is off: {refused}" if refused else "", id=REFUSED,
               className="muted", hidden=not refused),
        card([html.Div(empty_state(NO_ENTRIES, NO_ENTRIES_HINT), id=EMPTY, hidden=True),
              dag.AgGrid(id=GRID, columnDefs=_columns(refused), rowData=[],
                         getRowId="params.data.name",
                         defaultColDef={**DEFAULT_COL_DEF, "sortable": True},
                         dashGridOptions=auto_height_options(
                             tooltipShowDelay=300, suppressColumnVirtualisation=True),
                         className=f"{GRID_CLASS} beat-grid", style={"width": "100%"})],
             title="Periodic tasks"),
        MODAL.layout(),
    ], className="page beat-page")


@callback(Output(GRID, "rowData"), Output(GRID, "style"), Output(EMPTY, "hidden"),
          Output(COUNTS, "children"), Output(BANNER, "children"), Output(BANNER, "hidden"),
          Input(INTERVAL, "n_intervals"))
def _refresh(_ticks):
    services = current()
    rows = view.beat_rows(services, time.time())
    problems = view.source_problems(services, rows)
    prefix = dash.get_app().config.requests_pathname_prefix
    banner = [html.Div(problem) for problem in problems]
    return ([grid_row(row, prefix) for row in rows],
            {"width": "100%"} if rows else {"display": "none"}, bool(rows),
            status_pills(rows), banner, not problems)


@callback(Output(RESULT, "children"), Output(TOAST, "data", allow_duplicate=True),
          *MODAL.ask_outputs(),
          Input(GRID, "cellRendererData"), Input(MODAL.ok, "n_clicks"),
          State(MODAL.pending, "data"), prevent_initial_call=True)
def _run(clicked, _ok, pending):
    keep = (no_update,) * len(MODAL.ask_outputs())
    services = current()
    if ctx.triggered_id == GRID:
        name = (clicked or {}).get("value")
        if not isinstance(name, str):  # the grid drew its buttons: nothing was pressed
            return no_update, no_update, *keep
        found = view.entry(services, name)
        if found is None:
            return f"Unknown periodic task {name}", no_update, *keep
        return (no_update, no_update,
                *MODAL.ask("Run now", [found.name], {"entry": found.name}, noun="periodic task",
                           detail=f"Sends {found.task} with its arguments once, now."))
    if not pending or not _ok:
        return no_update, no_update, *keep
    return (*run_and_report(services, pending["entry"]), *keep)


def run_and_report(services, name: str) -> tuple[Any, dict]:
    """Run the entry now: the in-place result (with the new task's link) and the toast."""
    try:
        task_id = actions.run_now(services, name)
    except ControlError as exc:
        return html.Span(str(exc), className="error"), toast(str(exc), "error")
    prefix = dash.get_app().config.requests_pathname_prefix
    return (html.Span([f"{name}: sent as ", html.A(task_id, href=task_href(prefix, task_id),
                                                   className="task-link")]),
            toast(f"{name}: sent as {task_id}", "ok"))
