"""`/quarantine`: the events the collector set aside instead of storing, newest first, each
with why (the decoder's or the store's refusal) and the raw message as it arrived, with the
CSV of all of them. Linked from the status banner whenever there are any."""
from __future__ import annotations

import dash
import dash_ag_grid as dag
from dash import Input, Output, callback, html

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
from ..formatting import newest_of
from ..services import current

dash.register_page(__name__, path="/quarantine", name="Quarantine",
                   title="Quarantine · celery-scope", hidden_from_nav=True)

GRID, EMPTY, COUNT = "quarantine-grid", "quarantine-empty", "quarantine-count"
SHOWN = 500  # newest entries on the page; the CSV holds every one
RAW_SHOWN = 2000  # characters of a raw message in the grid; the CSV has it whole

COLUMNS = [
    col_def(field="at", headerName="Set aside", valueFormatter=SECONDS_TIME, minWidth=170, flex=0,
            width=170, headerTooltip="In this browser's time zone"),
    col_def(field="reason", headerName="Why", minWidth=260, flex=2, tooltipField="reason"),
    col_def(field="raw", headerName="Raw message", minWidth=300, flex=3, tooltipField="raw",
            cellClass="mono"),
]
NO_ENTRIES = "Nothing quarantined"
NO_ENTRIES_HINT = ("An event the store cannot hold (a wrong type, a value out of range) is "
                   "set aside here with the reason, instead of stopping the collector.")


def layout(**_query):
    prefix = dash.get_app().config.requests_pathname_prefix
    return html.Div([
        page_header("Quarantine", meta=[html.Span(id=COUNT, role="status")],
                    actions=[html.A("Download CSV", className="button", download="quarantine.csv",
                                    href=f"{prefix}api/quarantine.csv")]),
        card([
            html.Div(empty_state(NO_ENTRIES, NO_ENTRIES_HINT), id=EMPTY, hidden=True),
            dag.AgGrid(id=GRID, columnDefs=COLUMNS, rowData=[], getRowId="params.data.id",
                       defaultColDef={**DEFAULT_COL_DEF, "sortable": True},
                       dashGridOptions=auto_height_options(tooltipShowDelay=300),
                       className=GRID_CLASS, style={"width": "100%"}),
        ], title="Events set aside"),
    ], className="page quarantine-page")


@callback(Output(GRID, "rowData"), Output(EMPTY, "hidden"), Output(GRID, "style"),
          Output(COUNT, "children"), Input(INTERVAL, "n_intervals"))
def _refresh(_ticks):
    store = current().store
    rows = [{**row, "raw": row["raw"][:RAW_SHOWN]} for row in store.quarantined(SHOWN)]
    total = store.count_quarantined() if len(rows) == SHOWN else len(rows)
    style = {"width": "100%"} if rows else {"display": "none"}
    return rows, bool(rows), style, newest_of(len(rows), total, "event")
