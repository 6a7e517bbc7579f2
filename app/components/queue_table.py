"""The queue grid of the broker page (dash-ag-grid): depth, the oldest message's wait and
how it was measured, consumers and their links; a queue with messages and no online
consumer is flagged."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dash_ag_grid as dag
from dash import html

from ..queues.detail import SOURCE_TEXT, wait_text
from .card import stat_card
from .grid_defaults import DEFAULT_COL_DEF, GRID_CLASS, auto_height_options, col_def

_MESSAGES = {"function": "params.value == null ? 'unknown' : d3.format(',')(params.value)"}
# "12 s · sent"; seconds up to two minutes, then minutes, then hours
_WAIT = {"function": (
    "params.value == null ? (params.data.messages ? 'unknown' : '') : "
    "(params.value < 120 ? d3.format('.0f')(params.value) + ' s' : params.value < 7200 ? "
    "d3.format('.1f')(params.value / 60) + ' min' : d3.format('.1f')(params.value / 3600) "
    "+ ' h') + (params.data.latency_source ? ' · ' + (params.data.latency_source == 'sent' ? "
    "'sent' : 'first seen') : '')")}
_AGE = {"function": "params.value == null ? 'never' : d3.format('.0f')(params.value) + ' s ago'"}

COLUMN_DEFS = [
    col_def(field="queue", headerName="Queue", minWidth=160, flex=2),
    col_def(field="messages", headerName="Ready", type="numericColumn",
            valueFormatter=_MESSAGES, minWidth=110, flex=1,
            headerTooltip="Waiting to be delivered to a worker, at the newest sample "
                          "(unknown: the broker could not be asked)"),
    col_def(field="latency", headerName="Oldest waiting", type="numericColumn",
            valueFormatter=_WAIT, tooltipField="levels", minWidth=150, flex=1,
            headerTooltip="How long the oldest message has waited. sent: since the client "
                          "sent it (task-sent events); first seen: since the collector first "
                          "saw it waiting, a lower bound to one sample interval"),
    col_def(field="consumers", headerName="Consumers", type="numericColumn", minWidth=130,
            flex=1, cellClassRules={"no-consumer": "params.data.no_consumer"},
            headerTooltip="Online workers consuming the queue (flagged: messages wait and "
                          "nobody takes them)"),
    col_def(field="workers", headerName="Workers", cellRenderer="markdown", minWidth=240,
            flex=4, sortable=False, autoHeight=True, wrapText=True),
    col_def(field="sampled_age", headerName="Sampled", valueFormatter=_AGE, minWidth=120,
            flex=1, type="numericColumn"),
]

VISIBLE, HIDDEN = {"width": "100%"}, {"display": "none"}  # the grid's style, with or without rows
NO_QUEUES = "No queues known yet"
NO_QUEUES_HINT = ("A queue appears once a worker reports consuming it (the Inspector asks "
                  "every few seconds) or the watched Celery app routes tasks to it, and its "
                  "depth once the collector has sampled it.")


def make_queue_grid(grid_id: str) -> dag.AgGrid:
    return dag.AgGrid(
        id=grid_id,
        columnDefs=COLUMN_DEFS,
        rowData=[],
        getRowId="params.data.queue",
        defaultColDef={**DEFAULT_COL_DEF, "sortable": True, "filter": True},
        dashGridOptions=auto_height_options(),  # the page shows its own empty state
        className=f"{GRID_CLASS} queue-grid",
        style=VISIBLE,
    )


LONG_WAIT_SECONDS = 60  # the dashboard's card turns to a warning past this wait


def longest_wait_card(worst: Mapping[str, Any] | None, href: str) -> html.Div:
    """The dashboard's card for the queue whose oldest message has waited longest, linking
    to /broker; red when nobody consumes that queue."""
    if worst is None:
        return stat_card("none", "Longest wait: no message waiting", tone="muted",
                         id="summary-longest-wait", href=href)
    tone = ("bad" if worst["no_consumer"] else
            "warn" if worst["latency_seconds"] >= LONG_WAIT_SECONDS else "info")
    label = (f"Longest wait: {worst['name']} ({SOURCE_TEXT.get(worst['latency_source'], '')}"
             + (", no consumer" if worst["no_consumer"] else "") + ")")
    return stat_card(wait_text(worst["latency_seconds"]), label, tone=tone,
                     id="summary-longest-wait", href=href)
