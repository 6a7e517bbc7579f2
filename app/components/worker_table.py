"""The worker grid (dash-ag-grid): sortable, filterable, names linking to the worker page."""
from __future__ import annotations

import dash_ag_grid as dag

# Epoch seconds shown in the browser's time zone.
_TIME = {"function": "params.value == null ? '' : d3.timeFormat('%Y-%m-%d %H:%M:%S')(params.value * 1000)"}
_AGE = {"function": "params.value == null ? '' : d3.format('.0f')(params.value) + ' s ago'"}
_LOAD = {"function": "params.value == null ? '' : d3.format('.2f')(params.value)"}

COLUMN_DEFS = [
    {"field": "hostname", "headerName": "Worker", "cellRenderer": "WorkerLink", "minWidth": 200,
     "flex": 3},
    {"field": "status", "headerName": "Status", "cellRenderer": "StatusBadge", "minWidth": 100, "flex": 1},
    {"field": "active", "headerName": "Active", "type": "numericColumn", "minWidth": 90, "flex": 1},
    {"field": "processed", "headerName": "Processed", "type": "numericColumn", "minWidth": 110, "flex": 1},
    {"field": "succeeded", "headerName": "Succeeded", "type": "numericColumn", "minWidth": 110, "flex": 1},
    {"field": "failed", "headerName": "Failed", "type": "numericColumn", "minWidth": 90, "flex": 1},
    {"field": "retried", "headerName": "Retried", "type": "numericColumn", "minWidth": 90, "flex": 1},
    {"field": "load1", "headerName": "Load 1m", "headerTooltip": "Load average over 1 minute", "type": "numericColumn", "minWidth": 90, "flex": 1,
     "valueFormatter": _LOAD},
    {"field": "load5", "headerName": "Load 5m", "type": "numericColumn", "minWidth": 90, "flex": 1,
     "valueFormatter": _LOAD},
    {"field": "load15", "headerName": "Load 15m", "type": "numericColumn", "minWidth": 95, "flex": 1,
     "valueFormatter": _LOAD},
    {"field": "last_heartbeat", "headerName": "Last heartbeat", "valueFormatter": _TIME,
     "minWidth": 170, "flex": 2},
    {"field": "heartbeat_age", "headerName": "Age", "valueFormatter": _AGE, "minWidth": 90, "flex": 1,
     "type": "numericColumn"},
    {"field": "software", "headerName": "Software", "minWidth": 140, "flex": 1},
]


NO_WORKERS = ("No workers seen yet. Workers appear here once they send a heartbeat: start them "
              "with -E, or keep --enable-events on so celery-scope asks them to.")


def make_worker_grid(grid_id: str, link_prefix: str) -> dag.AgGrid:
    """`link_prefix` is the app's path prefix, so worker links work behind a proxy path."""
    columns = [dict(column) for column in COLUMN_DEFS]
    columns[0]["cellRendererParams"] = {"prefix": link_prefix}
    return dag.AgGrid(
        id=grid_id,
        columnDefs=columns,
        rowData=[],
        getRowId="params.data.hostname",
        defaultColDef={"sortable": True, "filter": True, "resizable": True},
        dashGridOptions={
            "animateRows": False,
            "domLayout": "autoHeight",
            "suppressNoRowsOverlay": True,  # the page shows its own empty state
        },
        className="ag-theme-alpine worker-grid",
        style={"width": "100%"},
    )
