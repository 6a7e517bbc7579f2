"""The task grid: dash-ag-grid's infinite row model, pages fetched from the store on demand."""
from __future__ import annotations

import dash_ag_grid as dag

from .worker_table import TIME_FORMAT

_TIME = {"function": f"params.value == null ? '' : {TIME_FORMAT}"}
_SECONDS = {"function": "params.value == null ? '' : d3.format('.3~f')(params.value) + ' s'"}

# (field, header, shown by default, extra column options)
COLUMNS = [
    ("name", "Name", True, {"minWidth": 180, "flex": 2}),
    ("uuid", "UUID", True, {"cellRenderer": "TaskLink", "minWidth": 290, "flex": 2}),
    ("state", "State", True, {"cellRenderer": "StatusBadge", "minWidth": 110, "flex": 1}),
    ("args", "Args", True, {"minWidth": 140, "flex": 2}),
    ("kwargs", "Kwargs", True, {"minWidth": 140, "flex": 2}),
    ("result", "Result", True, {"minWidth": 140, "flex": 2}),
    ("received", "Received", True, {"valueFormatter": _TIME, "minWidth": 165, "flex": 1}),
    ("started", "Started", True, {"valueFormatter": _TIME, "minWidth": 165, "flex": 1}),
    ("runtime", "Runtime", True, {"valueFormatter": _SECONDS, "type": "numericColumn",
                                  "minWidth": 100, "flex": 1}),
    ("worker", "Worker", True, {"cellRenderer": "WorkerLink", "minWidth": 160, "flex": 1}),
    ("queue", "Queue", False, {"minWidth": 100, "flex": 1}),
    ("retries", "Retries", False, {"type": "numericColumn", "minWidth": 90, "flex": 1}),
    ("exception", "Exception", False, {"minWidth": 180, "flex": 2}),
    ("succeeded", "Succeeded", False, {"valueFormatter": _TIME, "minWidth": 165, "flex": 1}),
    ("failed", "Failed", False, {"valueFormatter": _TIME, "minWidth": 165, "flex": 1}),
]
SORTABLE_FIELDS = {"name", "uuid", "state", "received", "started", "runtime", "worker", "queue",
                   "retries", "succeeded", "failed"}
DEFAULT_VISIBLE = [field for field, _, shown, _ in COLUMNS if shown]
COLUMN_OPTIONS = [{"label": header, "value": field} for field, header, _, _ in COLUMNS]
PAGE_ROWS = 100  # rows per request to the server


def column_defs(visible: list[str], link_prefix: str) -> list[dict]:
    definitions = []
    for field, header, _, extra in COLUMNS:
        definition = {"field": field, "headerName": header, "hide": field not in visible,
                      "sortable": field in SORTABLE_FIELDS, **extra}
        if extra.get("cellRenderer") in ("TaskLink", "WorkerLink"):
            definition["cellRendererParams"] = {"prefix": link_prefix}
        if field == "received":
            definition["sort"] = "desc"
        definitions.append(definition)
    return definitions


def make_task_grid(grid_id: str, visible: list[str], link_prefix: str) -> dag.AgGrid:
    return dag.AgGrid(
        id=grid_id,
        columnDefs=column_defs(visible, link_prefix),
        rowModelType="infinite",
        getRowId="params.data.uuid",
        defaultColDef={"resizable": True, "filter": False,
                       "sortingOrder": ["desc", "asc"]},  # never unsorted: the store sorts
        dashGridOptions={"cacheBlockSize": PAGE_ROWS, "maxBlocksInCache": 20,
                         "infiniteInitialRowCount": 1, "rowBuffer": 0,
                         "suppressMultiSort": True, "tooltipShowDelay": 300},
        persistence=True, persisted_props=["columnState"],
        style={"height": "640px", "width": "100%"},
    )
