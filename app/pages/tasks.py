"""`/tasks`: every task the collector has seen, filtered and sorted in the database.

The filters live in the URL query string (bookmarkable); the grid pages rows from the
store as the user scrolls; Export downloads exactly the filtered, sorted set.
"""
from __future__ import annotations

import time

import dash
from celery import states
from dash import Input, Output, State, callback, clientside_callback, dcc, html, no_update

from ..components.task_grid import COLUMN_OPTIONS, DEFAULT_VISIBLE, column_defs, make_task_grid
from ..services import current
from ..store import task_queries
from ..task_filters import (
    QUICK_RANGES,
    SORTABLE,
    TIME_FIELDS,
    FilterError,
    TaskFilter,
    parse_filter,
)
from ..worker_detail import known_queue_names

dash.register_page(__name__, path="/tasks", name="Tasks", title="Tasks · celery-scope", order=1)

GRID = "tasks-grid"
FILTER = "tasks-filter"  # the validated filter, as query parameters
PROBLEM = "tasks-filter-problem"
COUNT = "tasks-count"
EXPORT = "tasks-export"
EXPORT_STATUS = "tasks-export-status"  # written by assets/export.js, never by a callback
COLUMNS = "tasks-columns"
STATE, NAME, WORKER, QUEUE = "tasks-state", "tasks-name", "tasks-worker", "tasks-queue"
TIME_FIELD, RANGE, SINCE, UNTIL = "tasks-time-field", "tasks-range", "tasks-since", "tasks-until"
RUNTIME_MIN, RUNTIME_MAX, SEARCH = "tasks-runtime-min", "tasks-runtime-max", "tasks-search"
CLEAR = "tasks-clear"
RELOAD = "tasks-reload"
URL_SYNC = "tasks-url-sync"  # output of the clientside URL/grid sync; holds nothing
STATES = [states.PENDING, states.RECEIVED, states.STARTED, states.SUCCESS, states.FAILURE,
          states.RETRY, states.REVOKED, states.REJECTED]
RANGE_OPTIONS = [{"label": label, "value": value} for label, value in
                 [("15 min", "15m"), ("1 h", "1h"), ("24 h", "24h"), ("7 d", "7d"),
                  ("all", "all"), ("custom", "custom")]]
_CONTROLS = [STATE, NAME, WORKER, QUEUE, TIME_FIELD, RANGE, SINCE, UNTIL, RUNTIME_MIN,
             RUNTIME_MAX, SEARCH]


def controls_to_params(state, name, worker, queue, time_field, quick, since, until,
                       runtime_min, runtime_max, search) -> dict:
    """The filter panel's values as query parameters (empty ones left out)."""
    params = {"state": ",".join(state or []), "name": ",".join(name or []), "worker": worker,
              "queue": queue, "time_field": time_field if time_field != "received" else None,
              "range": quick if quick in QUICK_RANGES else None,
              "since": since if quick == "custom" else None,
              "until": until if quick == "custom" else None,
              "runtime_min": runtime_min, "runtime_max": runtime_max, "search": search}
    return {key: str(value) for key, value in params.items() if value not in (None, "")}


def _initial(query: dict) -> tuple[TaskFilter, str]:
    try:
        return parse_filter(query, strict=False), ""
    except FilterError as exc:
        return TaskFilter(), f"The link's filter was ignored: {exc}"


def _field(label: str, control) -> html.Div:
    return html.Div([html.Label(label, htmlFor=control.id, className="field-label"), control],
                    className="field")


def layout(**query):
    task_filter, problem = _initial(query)
    store = current().store
    prefix = dash.get_app().config.requests_pathname_prefix
    quick = task_filter.range or ("custom" if task_filter.since or task_filter.until else "all")
    return html.Div([
        dcc.Store(id=FILTER, data=task_filter.to_params()),
        dcc.Store(id=URL_SYNC),
        html.Fieldset([
            _field("State", dcc.Dropdown(id=STATE, options=STATES, value=list(task_filter.states),
                                         multi=True, placeholder="any")),
            _field("Task name", dcc.Dropdown(
                id=NAME, options=task_queries.distinct_values(store.engine, "name"),
                value=list(task_filter.names), multi=True, placeholder="any")),
            _field("Worker", dcc.Dropdown(
                id=WORKER, options=task_queries.distinct_values(store.engine, "worker"),
                value=task_filter.worker, placeholder="any")),
            _field("Queue", dcc.Dropdown(
                id=QUEUE, options=known_queue_names(current().cache, [task_filter.queue or ""]),
                value=task_filter.queue, placeholder="any")),
            _field("Time", dcc.Dropdown(id=TIME_FIELD, options=list(TIME_FIELDS),
                                        value=task_filter.time_field, clearable=False)),
            _field("Range", dcc.RadioItems(id=RANGE, options=RANGE_OPTIONS, value=quick,
                                           inline=True, className="radio")),
            _field("From (UTC)", dcc.Input(id=SINCE, type="text", debounce=True,
                                           placeholder="2026-01-31T08:00 or epoch",
                                           value=_text(task_filter.since), className="input")),
            _field("To (UTC)", dcc.Input(id=UNTIL, type="text", debounce=True,
                                         placeholder="empty: now", value=_text(task_filter.until),
                                         className="input")),
            _field("Runtime ≥ s", dcc.Input(id=RUNTIME_MIN, type="number", min=0, debounce=True,
                                            value=task_filter.runtime_min, className="input small")),
            _field("Runtime ≤ s", dcc.Input(id=RUNTIME_MAX, type="number", min=0, debounce=True,
                                            value=task_filter.runtime_max, className="input small")),
            _field("Search args, kwargs, result, exception", dcc.Input(
                id=SEARCH, type="search", debounce=True, value=task_filter.search or "",
                placeholder="text", className="input wide")),
            html.Button("Clear filters", id=CLEAR, n_clicks=0, className="button"),
        ], className="plain filters"),
        html.Div([
            html.Span(id=COUNT, role="status", className="count"),
            html.Button("Reload", id=RELOAD, n_clicks=0, className="button",
                        title="Count again and fetch the newest rows"),
            html.P(problem, id=PROBLEM, className="banner banner-error", hidden=not problem),
            html.A("Export CSV", id=EXPORT, className="button", download="",
                   href=f"{prefix}api/tasks.csv?{task_filter.to_query_string()}",
                   **{"data-export-progress": EXPORT_STATUS, "data-count-from": COUNT}),
            html.Span(id=EXPORT_STATUS, role="status", className="muted"),
            html.Details([html.Summary("Columns"),
                          dcc.Checklist(id=COLUMNS, options=COLUMN_OPTIONS, value=DEFAULT_VISIBLE,
                                        persistence=True, className="column-picker")],
                         className="columns"),
        ], className="toolbar"),
        make_task_grid(GRID, DEFAULT_VISIBLE, prefix),
    ], className="page")


def _text(moment: float | None) -> str:
    return "" if moment is None else repr(moment)


@callback(
    Output(FILTER, "data"), Output(PROBLEM, "children"), Output(PROBLEM, "hidden"),
    Output(EXPORT, "href"), Output(COUNT, "children"),
    *[Input(control, "value") for control in _CONTROLS], Input(RELOAD, "n_clicks"),
)
def _apply_filters(*values):
    params = controls_to_params(*values[:-1])
    try:
        task_filter = parse_filter(params)
    except FilterError as exc:
        return no_update, f"Filter not applied: {exc}", False, no_update, no_update
    prefix = dash.get_app().config.requests_pathname_prefix
    matching = task_queries.count(current().store.engine, task_filter)
    label = f"{matching:,} task{'s' if matching != 1 else ''} match"
    href = f"{prefix}api/tasks.csv?{task_filter.to_query_string()}"
    return task_filter.to_params(), "", True, href, label


@callback(
    Output(STATE, "value"), Output(NAME, "value"), Output(WORKER, "value"),
    Output(QUEUE, "value"), Output(RANGE, "value"), Output(RUNTIME_MIN, "value"),
    Output(RUNTIME_MAX, "value"), Output(SEARCH, "value"),
    Input(CLEAR, "n_clicks"), prevent_initial_call=True,
)
def _clear(_clicks):
    return [], [], None, None, "all", None, None, ""


def grid_request_filter(params: dict, request: dict) -> TaskFilter:
    """The stored filter with the grid's own header sort applied."""
    task_filter = parse_filter(params)
    for item in request.get("sortModel") or []:
        column = item.get("colId")
        if column in SORTABLE:
            return task_filter.with_changes(sort=("-" if item.get("sort") == "desc" else "")
                                            + column)
    return task_filter


@callback(Output(GRID, "getRowsResponse"), Input(GRID, "getRowsRequest"), State(FILTER, "data"))
def _rows(request, params):
    if not request:
        return no_update
    start, end = int(request.get("startRow", 0)), int(request.get("endRow", 100))
    task_filter = grid_request_filter(params or {}, request)
    rows = task_queries.page(current().store.engine, task_filter, start, end - start,
                             now=time.time())
    response = {"rowData": rows}
    if len(rows) < end - start:
        response["rowCount"] = start + len(rows)  # the last page: the grid knows the end
    return response


@callback(Output(GRID, "columnDefs"), Input(COLUMNS, "value"))
def _columns(visible):
    return column_defs(visible or [], dash.get_app().config.requests_pathname_prefix)


# Keep the URL in step with the filter (bookmarkable) and make the grid fetch again.
clientside_callback(
    """function (params, gridId) {
        const query = new URLSearchParams(params || {}).toString();
        const url = window.location.pathname + (query ? '?' + query : '');
        window.history.replaceState(window.history.state, '', url);
        if (window.dash_ag_grid && dash_ag_grid.getApiAsync) {
            dash_ag_grid.getApiAsync(gridId).then(api => api.purgeInfiniteCache());
        }
        return window.dash_clientside.no_update;
    }""",
    Output(URL_SYNC, "data"), Input(FILTER, "data"), State(GRID, "id"),
    prevent_initial_call=True,
)

