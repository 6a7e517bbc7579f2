"""The queue grid of the broker page (dash-ag-grid): depth, consumers and their links."""
from __future__ import annotations

import dash_ag_grid as dag

_MESSAGES = {"function": "params.value == null ? 'unknown' : d3.format(',')(params.value)"}
_AGE = {"function": "params.value == null ? 'never' : d3.format('.0f')(params.value) + ' s ago'"}

COLUMN_DEFS = [
    {"field": "queue", "headerName": "Queue", "minWidth": 160, "flex": 2},
    {"field": "messages", "headerName": "Ready", "type": "numericColumn",
     "valueFormatter": _MESSAGES, "minWidth": 110, "flex": 1,
     "headerTooltip": "Waiting to be delivered to a worker, at the newest sample "
                      "(unknown: the broker could not be asked)"},
    {"field": "consumers", "headerName": "Consumers", "type": "numericColumn", "minWidth": 110,
     "flex": 1, "headerTooltip": "Online workers consuming the queue"},
    {"field": "workers", "headerName": "Workers", "cellRenderer": "markdown", "minWidth": 240,
     "flex": 4, "sortable": False, "autoHeight": True, "wrapText": True},
    {"field": "sampled_age", "headerName": "Sampled", "valueFormatter": _AGE, "minWidth": 110,
     "flex": 1, "type": "numericColumn"},
]

VISIBLE, HIDDEN = {"width": "100%"}, {"display": "none"}  # the grid's style, with or without rows
NO_QUEUES = ("No queues known yet. A queue appears once a worker reports consuming it (the "
             "Inspector asks every few seconds) or the watched Celery app routes tasks to it, "
             "and its depth once the collector has sampled it.")


def make_queue_grid(grid_id: str) -> dag.AgGrid:
    return dag.AgGrid(
        id=grid_id,
        columnDefs=COLUMN_DEFS,
        rowData=[],
        getRowId="params.data.queue",
        defaultColDef={"sortable": True, "filter": True, "resizable": True},
        dashGridOptions={"animateRows": False, "domLayout": "autoHeight",
                         "suppressNoRowsOverlay": True},  # the page shows its own empty state
        className="ag-theme-alpine queue-grid",
        style=VISIBLE,
    )
