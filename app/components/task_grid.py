"""The task grid: dash-ag-grid's infinite row model, pages fetched from the store on demand.

The default columns fit a 1400 px window: the id and the texts give way (cut with …, the
whole value in a tooltip), the times keep their milliseconds."""
from __future__ import annotations

from typing import Any

import dash_ag_grid as dag
from dash import Input, Output, State, clientside_callback

from .grid_defaults import GRID_CLASS, col_def

# Epoch seconds in the browser's time zone, to the millisecond (as Flower shows them).
TIME_FORMAT = "d3.timeFormat('%Y-%m-%d %H:%M:%S.%L')(params.value * 1000)"
_TIME = {"function": f"params.value == null ? '' : {TIME_FORMAT}"}
_SECONDS = {"function": "params.value == null ? '' : d3.format('.3~f')(params.value) + ' s'"}
_TIME_COLUMN = {"valueFormatter": _TIME, "minWidth": 188, "maxWidth": 196, "flex": 1}
_TEXT = {"minWidth": 80, "flex": 2}

# (field, header, shown by default, extra column options)
COLUMNS: list[tuple[str, str, bool, dict[str, Any]]] = [
    ("name", "Name", True, {"minWidth": 140, "flex": 3}),
    ("uuid", "UUID", True, {"cellRenderer": "TaskLink", "minWidth": 150, "flex": 3}),
    ("state", "State", True, {"cellRenderer": "StatusBadge", "minWidth": 112, "maxWidth": 130,
                              "flex": 1}),
    ("args", "Args", True, _TEXT),
    ("kwargs", "Kwargs", True, _TEXT),
    ("result", "Result", True, _TEXT),
    ("received", "Received", True, _TIME_COLUMN),
    ("started", "Started", True, _TIME_COLUMN),
    ("runtime", "Runtime", True, {"valueFormatter": _SECONDS, "type": "numericColumn",
                                  "minWidth": 90, "maxWidth": 110, "flex": 1}),
    ("worker", "Worker", True, {"cellRenderer": "WorkerLink", "minWidth": 110, "flex": 2}),
    ("queue", "Queue", False, {"minWidth": 90, "flex": 1}),
    ("retries", "Retries", False, {"type": "numericColumn", "minWidth": 84, "flex": 1}),
    ("exception", "Exception", False, {"minWidth": 120, "flex": 2}),
    ("succeeded", "Succeeded", False, _TIME_COLUMN),
    ("failed", "Failed", False, _TIME_COLUMN),
]
SORTABLE_FIELDS = {"name", "uuid", "state", "received", "started", "runtime", "worker", "queue",
                   "retries", "succeeded", "failed"}
DEFAULT_VISIBLE = [field for field, _, shown, _ in COLUMNS if shown]
COLUMN_OPTIONS = [{"label": header, "value": field} for field, header, _, _ in COLUMNS]
PAGE_ROWS = 100  # rows per request to the server


def column_defs(visible: list[str], link_prefix: str, sort: str = "-received") -> list[dict]:
    """The grid's columns; `sort` (a filter's, e.g. "-received") marks its column's header."""
    definitions = []
    for field, header, _, extra in COLUMNS:
        definition = col_def(field=field, headerName=header, hide=field not in visible,
                             sortable=field in SORTABLE_FIELDS, tooltipField=field, **extra)
        if extra.get("cellRenderer") in ("TaskLink", "WorkerLink"):
            definition["cellRendererParams"] = {"prefix": link_prefix}
        definition["sort"] = ("desc" if sort.startswith("-") else "asc") \
            if sort.lstrip("-") == field else None
        definitions.append(definition)
    return definitions


def make_task_grid(grid_id: str, visible: list[str], link_prefix: str,
                   sort: str = "-received") -> dag.AgGrid:
    return dag.AgGrid(
        id=grid_id,
        columnDefs=column_defs(visible, link_prefix, sort),
        rowModelType="infinite",
        getRowId="params.data.uuid",
        defaultColDef={"filter": False,
                       "sortingOrder": ["desc", "asc"]},  # never unsorted: the store sorts
        # one block request at a time: the grid component answers whichever request it
        # made last, so a second concurrent one (a refresh of two cached blocks) would
        # leave the first block showing its old rows
        dashGridOptions={"cacheBlockSize": PAGE_ROWS, "maxBlocksInCache": 20,
                         "maxConcurrentDatasourceRequests": 1,
                         "infiniteInitialRowCount": 1, "rowBuffer": 0,
                         "suppressMultiSort": True, "tooltipShowDelay": 300,
                         # rows picked for a bulk retry or revoke (components/bulk_actions.py);
                         # the infinite model has no select-all: "all matching" does that
                         "selectionColumnDef": {"width": 44, "minWidth": 44, "maxWidth": 44},
                         "rowSelection": {"mode": "multiRow", "checkboxes": True,
                                          "headerCheckbox": False,
                                          "enableClickSelection": False}},
        className=GRID_CLASS,
        style={"height": "640px", "width": "100%"},
    )


# The header's sort, read from the grid's own row requests, as a filter's sort parameter.
_SORT_FROM_REQUEST = """function (request, sort) {
    const model = (request && request.sortModel) || [];
    const first = model.find(item => item && item.colId);
    if (!first) { return window.dash_clientside.no_update; }
    const next = (first.sort === 'desc' ? '-' : '') + first.colId;
    return next === sort ? window.dash_clientside.no_update : next;
}"""

# The URL and the export link follow the filter and the sort; a new filter refetches rows.
_URL_AND_EXPORT = """function (params, sort, base, gridId) {
    const query = new URLSearchParams(params || {});
    if (sort && sort !== '-received') { query.set('sort', sort); }
    const text = query.toString() ? '?' + query.toString() : '';
    window.history.replaceState(window.history.state, '', window.location.pathname + text);
    const fired = window.dash_clientside.callback_context.triggered || [];
    if (fired.some(item => item.prop_id.startsWith('FILTER.')) && window.dash_ag_grid) {
        dash_ag_grid.getApiAsync(gridId).then(api => api.purgeInfiniteCache());
    }
    return [window.dash_clientside.no_update, base + text];
}"""

# New tasks, like a feed: at the top of the grid they come in at once; scrolled down, a
# notice offers them, so the rows the user is reading stay where they are.
_FOLLOW = """function (live, shows, mark, gridId) {
    const none = window.dash_clientside.no_update;
    if (!live) { return [none, none, none]; }
    const seen = {key: live.key, newest: live.newest, counts: live.counts};
    let api = null;
    try { api = window.dash_ag_grid && dash_ag_grid.getApi(gridId); } catch (e) { api = null; }
    const fired = window.dash_clientside.callback_context.triggered || [];
    if (fired.some(item => item.prop_id.startsWith('SHOW.'))) {
        if (api) { api.ensureIndexVisible(0, 'top'); api.purgeInfiniteCache(); }
        return [seen, '', true];
    }
    if (!mark || mark.key !== live.key) { return [seen, '', true]; }
    const changed = live.new > 0 || JSON.stringify(live.counts) !== JSON.stringify(mark.counts);
    if (!changed) { return [none, none, none]; }
    if (!api || api.getVerticalPixelRange().top < 1) {
        if (api) { api.refreshInfiniteCache(); }
        return [seen, '', true];
    }
    if (live.new < 1) { return [none, none, none]; }
    const text = live.new.toLocaleString() + ' new task' + (live.new === 1 ? '' : 's');
    return [none, text, false];
}"""


def register_live_callbacks(*, grid: str, filter_store: str, sort_store: str, live: str,
                            mark: str, url_sync: str, export: str, export_base: str,
                            notice: str, notice_text: str, notice_show: str, zone: str,
                            browser_zone: str) -> None:
    """The grid's browser-side glue, for the page that holds these ids."""
    clientside_callback(_SORT_FROM_REQUEST, Output(sort_store, "data"),
                        Input(grid, "getRowsRequest"), State(sort_store, "data"),
                        prevent_initial_call=True)
    clientside_callback(_URL_AND_EXPORT.replace("FILTER", filter_store),
                        Output(url_sync, "data"), Output(export, "href"),
                        Input(filter_store, "data"), Input(sort_store, "data"),
                        State(export_base, "data"), State(grid, "id"),
                        prevent_initial_call=True)
    clientside_callback(_FOLLOW.replace("SHOW", notice_show),
                        Output(mark, "data"), Output(notice_text, "children"),
                        Output(notice, "hidden"),
                        Input(live, "data"), Input(notice_show, "n_clicks"),
                        State(mark, "data"), State(grid, "id"), prevent_initial_call=True)
    clientside_callback("function (name) { return name ? 'Times in ' + name : ''; }",
                        Output(zone, "children"), Input(browser_zone, "data"))
