"""The worker grid (dash-ag-grid): sortable, filterable, names linking to the worker page."""
from __future__ import annotations

import dash_ag_grid as dag

# Epoch seconds shown in the browser's time zone.
TIME_FORMAT = "d3.timeFormat('%Y-%m-%d %H:%M:%S')(params.value * 1000)"
_TIME = {"function": f"params.value == null ? '' : {TIME_FORMAT}"}
_AGE = {"function": "params.value == null ? '' : d3.format('.0f')(params.value) + ' s ago'"}
_LOAD = {"function": "params.value == null ? '' : d3.format('.2f')(params.value)"}


def _numeric(field: str, header: str, min_width: int = 80, **extra) -> dict:
    return {"field": field, "headerName": header, "type": "numericColumn",
            "minWidth": min_width, "flex": 1, **extra}


COLUMN_DEFS = [
    {"field": "hostname", "headerName": "Worker", "cellRenderer": "WorkerLink",
     "minWidth": 180, "flex": 3},
    {"field": "status", "headerName": "Status", "cellRenderer": "StatusBadge",
     "minWidth": 100, "flex": 1},
    _numeric("active", "Active", headerTooltip="Tasks running now (from the last heartbeat)"),
    _numeric("processed", "Processed", 100, headerTooltip="Tasks the worker process has run"),
    _numeric("succeeded", "Succeeded", 100),
    _numeric("failed", "Failed"),
    _numeric("retried", "Retried"),
    _numeric("load1", "Load 1m", valueFormatter=_LOAD),
    _numeric("load5", "Load 5m", valueFormatter=_LOAD),
    _numeric("load15", "Load 15m", 90, valueFormatter=_LOAD),
    {"field": "last_heartbeat", "headerName": "Last heartbeat", "valueFormatter": _TIME,
     "minWidth": 170, "flex": 2},
    _numeric("heartbeat_age", "Age", valueFormatter=_AGE),
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
            "rowSelection": {"mode": "multiRow", "checkboxes": True, "headerCheckbox": True,
                             "enableClickSelection": False},
        },
        className="ag-theme-alpine worker-grid",
        style={"width": "100%"},
    )
