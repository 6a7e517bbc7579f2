"""`/audit`: the audit trail, newest first: who did what to the cluster, from a page or the
API, and how it went; filtered by user, action, outcome and time, with its CSV."""
from __future__ import annotations

import dash
import dash_ag_grid as dag
from dash import Input, Output, callback, dcc, html

from ..audit import queries, view
from ..components.card import card
from ..components.empty_state import empty_state
from ..components.grid_defaults import (
    DEFAULT_COL_DEF,
    GRID_CLASS,
    SECONDS_TIME,
    auto_height_options,
    col_def,
)
from ..components.page_header import page_header
from ..components.refresh import INTERVAL
from ..components.toolbar import toolbar, toolbar_group
from ..services import current

dash.register_page(__name__, path="/audit", name="Audit", title="Audit · celery-scope",
                   order=8)

USER = "audit-user"
ACTION = "audit-action"
OUTCOME = "audit-outcome"
WINDOW = "audit-window"
GRID = "audit-grid"
EMPTY = "audit-empty"
COUNT = "audit-count"
DOWNLOAD = "audit-csv"

_OUTCOME_CLASS = {f"audit-outcome tone-{tone}": f"params.value == '{outcome}'"
                  for outcome, tone in view.OUTCOME_TONES.items()}
COLUMNS = [
    col_def(field="at", headerName="Time", valueFormatter=SECONDS_TIME, minWidth=170, flex=0,
            width=170, sort="desc", headerTooltip="In this browser's time zone"),
    col_def(field="user", headerName="User", minWidth=110, flex=1),
    col_def(field="role", headerName="Role", minWidth=100, flex=0, width=100),
    col_def(field="action", headerName="Action", minWidth=170, flex=1),
    col_def(field="targets", headerName="Targets", minWidth=180, flex=2, tooltipField="targets"),
    col_def(field="scope", headerName="Filter and count", minWidth=150, flex=1,
            tooltipField="scope"),
    col_def(field="params", headerName="Parameters", minWidth=150, flex=1,
            tooltipField="params"),
    col_def(field="outcome", headerName="Outcome", minWidth=110, flex=0, width=110,
            cellClassRules=_OUTCOME_CLASS),
    col_def(field="detail", headerName="Detail", minWidth=220, flex=3, tooltipField="detail"),
]
NO_RECORDS = "No actions recorded"
NO_RECORDS_HINT = ("Every action that changes the cluster, from a page or the API, is "
                   "recorded here with its user and outcome; none matches these filters yet.")


def _picker(label: str, control) -> html.Div:
    return toolbar_group(control, label=label)


def layout(**_query):
    engine = current().store.engine
    prefix = dash.get_app().config.requests_pathname_prefix
    return html.Div([
        page_header("Audit", meta=[html.Span(id=COUNT, role="status")],
                    actions=[html.A("Download CSV", id=DOWNLOAD, className="button",
                                    download="audit.csv", href=f"{prefix}api/audit.csv")]),
        card([
            toolbar(
                _picker("User", dcc.Dropdown(id=USER, multi=True, placeholder="anyone",
                                             options=queries.known_values(engine, "username"),
                                             className="audit-picker")),
                _picker("Action", dcc.Dropdown(id=ACTION, multi=True, placeholder="any",
                                               options=queries.known_values(engine, "action"),
                                               className="audit-picker wide")),
                _picker("Outcome", dcc.Dropdown(id=OUTCOME, multi=True, placeholder="any",
                                                options=list(view.OUTCOME_TONES),
                                                className="audit-picker")),
                _picker("Since", dcc.RadioItems(list(view.WINDOWS), view.DEFAULT_WINDOW,
                                                id=WINDOW, inline=True,
                                                className="radio window-choice")),
            ),
            html.Div(empty_state(NO_RECORDS, NO_RECORDS_HINT), id=EMPTY, hidden=True),
            dag.AgGrid(id=GRID, columnDefs=COLUMNS, rowData=[], getRowId="params.data.id",
                       defaultColDef={**DEFAULT_COL_DEF, "sortable": True},
                       dashGridOptions=auto_height_options(tooltipShowDelay=300),
                       className=f"{GRID_CLASS} audit-grid", style={"width": "100%"}),
        ], title="Actions on the cluster"),
    ], className="page audit-page")


@callback(Output(GRID, "rowData"), Output(EMPTY, "hidden"), Output(GRID, "style"),
          Output(COUNT, "children"), Output(DOWNLOAD, "href"),
          Input(INTERVAL, "n_intervals"), Input(USER, "value"), Input(ACTION, "value"),
          Input(OUTCOME, "value"), Input(WINDOW, "value"))
def _refresh(_ticks, users, actions, outcomes, window):
    params = view.filter_params(users, actions, outcomes, window)
    where = queries.parse_audit_filter(params)
    engine = current().store.engine
    rows = view.grid_rows(queries.entries(engine, where, view.SHOWN))
    total = queries.count(engine, where) if len(rows) == view.SHOWN else len(rows)
    prefix = dash.get_app().config.requests_pathname_prefix
    href = f"{prefix}api/audit.csv?{view.query_string(params)}"
    style = {"width": "100%"} if rows else {"display": "none"}
    return rows, bool(rows), style, view.summary(len(rows), total), href
