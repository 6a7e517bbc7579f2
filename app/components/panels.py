"""Small read-only building blocks: fact lists, simple tables, task lists with links."""
from __future__ import annotations

from collections.abc import Iterable, Sequence

import dash_ag_grid as dag
from dash import html

from .worker_table import TIME_FORMAT


def facts_list(facts: Iterable[tuple[str, str]], empty: str) -> html.Dl | html.P:
    """A definition list of label → value text; `empty` when there is nothing to show."""
    items = []
    for label, value in facts:
        items += [html.Dt(label), html.Dd(value)]
    return html.Dl(items, className="facts") if items else html.P(empty, className="empty-state")


def simple_table(columns: Sequence[str], rows: Iterable[Sequence], empty: str):
    body = [html.Tr([html.Td(cell) for cell in row]) for row in rows]
    if not body:
        return html.P(empty, className="empty-state")
    return html.Table([html.Thead(html.Tr([html.Th(column) for column in columns])),
                       html.Tbody(body)], className="table")


TASK_COLUMNS = [
    {"field": "id", "headerName": "Task id", "cellRenderer": "TaskLink", "minWidth": 290,
     "flex": 2},
    {"field": "name", "headerName": "Name", "minWidth": 160, "flex": 2},
    {"field": "args", "headerName": "Args", "minWidth": 120, "flex": 2},
    {"field": "kwargs", "headerName": "Kwargs", "minWidth": 120, "flex": 2},
    {"field": "when", "headerName": "Started / ETA", "minWidth": 170, "flex": 1},
    {"field": "pid", "headerName": "PID", "minWidth": 80, "flex": 1},
]


def task_grid(grid_id: str, link_prefix: str) -> dag.AgGrid:
    """Tasks listed by the Inspector; ids link to the task page. Rows are set by callbacks."""
    columns = [dict(column) for column in TASK_COLUMNS]
    columns[0]["cellRendererParams"] = {"prefix": link_prefix}
    columns[4]["valueFormatter"] = {
        "function": f"typeof params.value === 'number' ? {TIME_FORMAT} : (params.value || '')"}
    return dag.AgGrid(
        id=grid_id, columnDefs=columns, rowData=[],
        defaultColDef={"sortable": True, "filter": True, "resizable": True},
        dashGridOptions={"domLayout": "autoHeight", "suppressNoRowsOverlay": True},
        style={"width": "100%"},
    )


QUEUE_COLUMNS = [
    {"field": "name", "headerName": "Queue", "minWidth": 160, "flex": 2},
    {"field": "exchange", "headerName": "Exchange", "minWidth": 120, "flex": 1},
    {"field": "exchange_type", "headerName": "Type", "minWidth": 90, "flex": 1},
    {"field": "routing_key", "headerName": "Routing key", "minWidth": 120, "flex": 1},
    {"field": "durable", "headerName": "Durable", "minWidth": 90, "flex": 1},
    {"field": "auto_delete", "headerName": "Auto-delete", "minWidth": 100, "flex": 1},
    {"field": "name", "colId": "cancel", "headerName": "", "minWidth": 150, "flex": 1,
     "cellRenderer": "RowActionButton", "cellRendererParams": {"label": "Cancel consumer"},
     "sortable": False, "filter": False},
]


def queue_grid(grid_id: str) -> dag.AgGrid:
    """Active queues; each row's button sets the grid's cellRendererData to the queue name."""
    return dag.AgGrid(
        id=grid_id, columnDefs=QUEUE_COLUMNS, rowData=[], getRowId="params.data.name",
        defaultColDef={"sortable": True, "resizable": True},
        dashGridOptions={"domLayout": "autoHeight", "suppressNoRowsOverlay": True},
        style={"width": "100%"},
    )
