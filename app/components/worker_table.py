"""The worker grid (dash-ag-grid): Flower's dashboard table with a Total row, a filter box's
quick filter, full header names and a height that follows its rows.

Counters come from two places, and the headers say which: the worker reports Active and
Processed itself (Processed starts again from 0 when the worker restarts); Succeeded,
Failed and Retried are what celery-scope recorded from task events, kept across restarts."""
from __future__ import annotations

from typing import Any

import dash_ag_grid as dag

from .grid_defaults import GRID_CLASS, SECONDS_TIME, auto_height_options, col_def

# Epoch seconds shown in the browser's time zone.
_AGE = {"function": "params.value == null ? '' : d3.format('.0f')(params.value) + ' s ago'"}
# One column for the three load averages (as Flower shows them), sorted by the 1-minute one.
_BY_LOAD1 = {"function": "(nodeA.data.load1 == null ? -1 : nodeA.data.load1) - "
                         "(nodeB.data.load1 == null ? -1 : nodeB.data.load1)"}
_COUNT = {"function": "params.value == null ? '' : d3.format(',')(params.value)"}
_NOT_SEARCHED = {"function": "''"}  # numbers would match any digit typed in the filter box


# Each minimum width holds its header's longest word, the sort arrow and the cell's text:
# together with the selection column they fit a 1400 px window (tests/test_browser.py).
def _numeric(field: str, header: str, width: int, tooltip: str) -> dict[str, Any]:
    return col_def(field=field, headerName=header, type="numericColumn", minWidth=width,
                   flex=1, headerTooltip=tooltip, valueFormatter=_COUNT,
                   getQuickFilterText=_NOT_SEARCHED)


_FROM_HISTORY = ("counted by celery-scope from task events since it first saw the worker; "
                 "kept when the worker restarts")

COLUMN_DEFS: list[dict[str, Any]] = [
    col_def(field="hostname", headerName="Worker", cellRenderer="WorkerLink", minWidth=170,
            flex=3, tooltipField="hostname"),
    col_def(field="status", headerName="Status", cellRenderer="StatusBadge", minWidth=92,
            flex=1),
    {"headerName": "Reported by the worker", "marryChildren": True,
     "headerTooltip": "The worker's own numbers, from its heartbeats",
     "children": [
         _numeric("active", "Active", 80, "Tasks running now, from the worker's last heartbeat"),
         _numeric("processed", "Processed since start", 108,
                  "Tasks this worker process has run since it started (its own counter); "
                  "it starts again from 0 when the worker restarts"),
     ]},
    {"headerName": "Recorded by celery-scope", "marryChildren": True,
     "headerTooltip": "Counted from task events over the stored history; kept across restarts",
     "children": [
         _numeric("succeeded", "Succeeded", 108, f"Tasks that succeeded: {_FROM_HISTORY}"),
         _numeric("failed", "Failed", 78, f"Tasks that failed: {_FROM_HISTORY}"),
         _numeric("retried", "Retried", 86, f"Retries: {_FROM_HISTORY}"),
     ]},
    col_def(field="load", headerName="Load 1m / 5m / 15m", type="numericColumn",
            comparator=_BY_LOAD1, minWidth=150, flex=1, getQuickFilterText=_NOT_SEARCHED,
            headerTooltip="The worker host's load averages over 1, 5 and 15 minutes"),
    col_def(field="last_heartbeat", headerName="Last heartbeat", valueFormatter=SECONDS_TIME,
            minWidth=150, flex=1, getQuickFilterText=_NOT_SEARCHED),
    col_def(field="heartbeat_age", headerName="Age", type="numericColumn", valueFormatter=_AGE,
            minWidth=80, flex=1, getQuickFilterText=_NOT_SEARCHED,
            headerTooltip="Seconds since the last heartbeat"),
    col_def(field="software", headerName="Software", minWidth=120, flex=1,
            tooltipField="software"),
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
        defaultColDef=col_def(sortable=True),
        dashGridOptions=auto_height_options(
            pinnedBottomRowData=[], tooltipShowDelay=300,
            selectionColumnDef={"width": 44, "minWidth": 44, "maxWidth": 44},
            rowSelection={"mode": "multiRow", "checkboxes": True, "headerCheckbox": True,
                          "enableClickSelection": False}),
        className=f"{GRID_CLASS} worker-grid",
        style={"width": "100%"},
    )
