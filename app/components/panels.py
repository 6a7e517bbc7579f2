"""Read-only building blocks of the worker page: fact cards, the limits table, the grids of
tasks and queues (each with the empty state shown instead of a blank grid)."""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import dash_ag_grid as dag
from dash import html

from .card import card
from .empty_state import empty_state
from .grid_defaults import GRID_CLASS, auto_height_options, col_def

# Epoch seconds in the browser's zone, to the millisecond (a task started 0.2 s ago differs
# from one started now); one format for started times and ETAs alike.
MOMENT_FORMAT = ("params.value == null ? '' : "
                 "d3.timeFormat('%Y-%m-%d %H:%M:%S.%L')(params.value * 1000)")


def facts_card(title: str, facts: Iterable[tuple[str, str]], empty: str,
               hint: str | None = None) -> html.Section | html.Div:
    """Label → value rows on a card; the empty state when there is nothing to show."""
    items: list[Any] = []
    for label, value in facts:
        items.append(html.Div([html.Dt(label), html.Dd(value)], className="fact"))
    if not items:
        return empty_state(empty, hint)
    return card(html.Dl(items, className="facts facts-card"), title=title)


LIMIT_COLUMNS = (("name", "Task"), ("rate", "Rate limit"), ("soft", "Soft time limit"),
                 ("hard", "Hard time limit"), ("processed", "Processed here"))


def limits_table(rows: Sequence[Mapping[str, Any]]) -> html.Section | html.Div:
    """Current limits per task; every cell is text."""
    if not rows:
        return empty_state("No registered task reported yet.",
                           "The Inspector lists them after the worker answers its next round.")
    body = [html.Tr([html.Td(str(row[key]), className=f"limit-{key}")
                     for key, _ in LIMIT_COLUMNS]) for row in rows]
    table = html.Table([html.Thead(html.Tr([html.Th(label) for _, label in LIMIT_COLUMNS])),
                        html.Tbody(body)], className="table limits-table", id="worker-limits")
    note = html.P("Rate limits as the worker reports them, changes included; time limits are "
                  "the worker's defaults unless it reports a task's own.", className="muted")
    return card([table, note], title="Current limits")


TASK_COLUMNS = [
    col_def(field="id", headerName="Task id", cellRenderer="TaskLink", minWidth=290, flex=2),
    col_def(field="name", headerName="Name", minWidth=160, flex=2),
    col_def(field="args", headerName="Args", minWidth=120, flex=2),
    col_def(field="kwargs", headerName="Kwargs", minWidth=120, flex=2),
    col_def(field="when", headerName="Started / ETA", minWidth=225, flex=1,
            valueFormatter={"function": MOMENT_FORMAT}, cellClass="mono"),
    col_def(field="pid", headerName="PID", minWidth=80, flex=1),
]


def box_id(grid_id: str) -> str:
    """The element around a grid, hidden with it when it has no rows."""
    return f"{grid_id}-box"


def task_list(title: str, grid_id: str, empty_id: str, link_prefix: str) -> html.Div:
    """Tasks the Inspector listed; ids link to the task page. Rows are set by callbacks,
    which also show `empty_id` (and hide the grid) when there are none."""
    columns = [dict(column) for column in TASK_COLUMNS]
    columns[0]["cellRendererParams"] = {"prefix": link_prefix}
    grid = dag.AgGrid(id=grid_id, columnDefs=columns, rowData=[], className=GRID_CLASS,
                      dashGridOptions=auto_height_options(), style={"width": "100%"})
    return html.Div([html.H3(title),
                     empty_state(f"No {title.lower()} tasks.", id=empty_id),
                     html.Div(grid, id=box_id(grid_id))], className="task-list")


QUEUE_COLUMNS = [
    col_def(field="name", headerName="Queue", minWidth=160, flex=2),
    col_def(field="exchange", headerName="Exchange", minWidth=120, flex=1),
    col_def(field="exchange_type", headerName="Type", minWidth=90, flex=1),
    col_def(field="routing_key", headerName="Routing key", minWidth=120, flex=1),
    col_def(field="durable", headerName="Durable", minWidth=90, flex=1),
    col_def(field="auto_delete", headerName="Auto-delete", minWidth=100, flex=1),
    col_def(field="name", colId="cancel", headerName="", minWidth=150, flex=1,
            cellRenderer="RowActionButton", cellRendererParams={"label": "Cancel consumer"},
            sortable=False),
]


def queue_grid(grid_id: str) -> dag.AgGrid:
    """Active queues; each row's button sets the grid's cellRendererData to the queue name."""
    return dag.AgGrid(id=grid_id, columnDefs=QUEUE_COLUMNS, rowData=[],
                      getRowId="params.data.name", className=GRID_CLASS,
                      dashGridOptions=auto_height_options(), style={"width": "100%"})
