"""`/tasks`: every task the collector has seen, filtered and sorted in the database.

One search box (Flower's terms, live as you type), state chips with live counts, the other
filters folded under "More filters". The filter and the header's sort live in the URL
(bookmarkable); the grid pages rows from the store as the user scrolls and follows new
tasks like a feed (the shell's Pause stops it); Export downloads exactly the filtered,
sorted set. Times are shown and typed in the browser's zone.
"""
from __future__ import annotations

import time

import dash
from celery import states
from dash import ALL, Input, Output, State, callback, clientside_callback, ctx, dcc, html, no_update
from werkzeug.exceptions import BadRequest

from ..components.bulk_actions import bulk_toolbar, register_bulk_callbacks
from ..components.empty_state import empty_state
from ..components.page_header import page_header
from ..components.refresh import BROWSER_TZ, INTERVAL
from ..components.task_grid import (
    COLUMN_OPTIONS,
    DEFAULT_VISIBLE,
    column_defs,
    make_task_grid,
    register_live_callbacks,
)
from ..components.toolbar import toolbar
from ..query_string import FilterError, one_value
from ..services import current
from ..tasks import queries as task_queries
from ..tasks.filters import TIME_FIELDS, TaskFilter, parse_filter
from ..tasks.grid_rows import GridRequestError, row_window
from ..tasks.search_terms import DERIVED_STATES, drop_key
from ..tasks.view import (
    CHIPS,
    active_chip,
    controls_to_params,
    counting_clock,
    counts_on_its_own,
    grid_request_filter,
    next_count_tick,
    page_params,
    total_of,
)
from ..workers.detail import known_queue_names

dash.register_page(__name__, path="/tasks", name="Tasks", title="Tasks · celery-scope", order=1)

GRID, GRID_WRAP = "tasks-grid", "tasks-grid-wrap"
FILTER = "tasks-filter"  # the validated filter, as query parameters (the sort apart)
SORT = "tasks-sort"  # the header's sort, as a filter's sort parameter ("-received")
LIVE = "tasks-live"  # the counts' last reading: what changed, how many new tasks
MARK = "tasks-mark"  # what the grid last showed: the newest received time then
PROBLEM, LINK_PROBLEM = "tasks-filter-problem", "tasks-link-problem"
COUNT, ZONE = "tasks-count", "tasks-zone"
EXPORT, EXPORT_BASE = "tasks-export", "tasks-export-base"
EXPORT_STATUS = "tasks-export-status"  # written by assets/export.js, never by a callback
COLUMNS = "tasks-columns"
STATE, NAME, WORKER, QUEUE = "tasks-state", "tasks-name", "tasks-worker", "tasks-queue"
TIME_FIELD, RANGE, SINCE, UNTIL = "tasks-time-field", "tasks-range", "tasks-since", "tasks-until"
RUNTIME_MIN, RUNTIME_MAX, SEARCH = "tasks-runtime-min", "tasks-runtime-max", "tasks-search"
SEARCH_TEXT = f"{SEARCH}-text"  # what is typed in the search box (assets/live_search.js)
CHIP = "tasks-chip"  # pattern id {"type": CHIP, "chip": label}
CLEAR, CLEAR_EMPTY, EMPTY, EMPTY_TITLE = ("tasks-clear", "tasks-clear-empty", "tasks-empty",
                                          "tasks-empty-title")
NOTICE, NOTICE_TEXT, NOTICE_SHOW = "tasks-new", "tasks-new-text", "tasks-new-show"
URL_SYNC = "tasks-url-sync"  # output of the clientside URL/grid sync; holds nothing
STATES = [states.PENDING, states.RECEIVED, states.STARTED, states.SUCCESS, states.FAILURE,
          states.RETRY, states.REVOKED, states.REJECTED, *DERIVED_STATES]
RANGE_OPTIONS = [{"label": label, "value": value} for label, value in
                 [("15 min", "15m"), ("1 h", "1h"), ("24 h", "24h"), ("7 d", "7d"),
                  ("all", "all"), ("custom", "custom")]]
_CONTROLS = [STATE, NAME, WORKER, QUEUE, TIME_FIELD, RANGE, SINCE, UNTIL, RUNTIME_MIN,
             RUNTIME_MAX]  # their values, then the search box's text
SEARCH_HINT = ("Terms: state:FAILURE,RETRY · name:app.tasks.charge · worker:w1@host · queue: · "
               "result: · args: · kwargs:name=value · \"quoted text\" — or a task id, its "
               "first characters, any text. Every term must match.")
NO_MATCH = "No tasks match these filters"
NO_TASKS = "No tasks yet"
NO_TASKS_HINT = ("Tasks appear here as workers send events: start them with -E, or keep "
                 "--enable-events on so celery-scope asks them to.")


def _initial(query: dict) -> tuple[TaskFilter, str]:
    try:
        return parse_filter(query, strict=False), ""
    except FilterError as exc:
        return TaskFilter(), f"The link's filter was ignored: {exc}"


def _field(label: str, control) -> html.Div:
    return html.Div([html.Label(label, htmlFor=control.id, className="field-label"), control],
                    className="field")


def _chip(label: str) -> html.Button:
    return html.Button([label, html.Span(className="chip-count")], n_clicks=0,
                       id={"type": CHIP, "chip": label}, className="chip")


def _filter_panel(task_filter: TaskFilter, query: dict) -> html.Details:
    store = current().store
    quick = task_filter.range or ("custom" if task_filter.since or task_filter.until else "all")
    typed = {key: (one_value(query, key) or "") if getattr(task_filter, key) is not None else ""
             for key in ("since", "until")}
    return html.Details([
        html.Summary("More filters"),
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
            _field("From", dcc.Input(id=SINCE, type="text", debounce=True,
                                     placeholder="2026-01-31 08:00, epoch or 24h",
                                     value=typed["since"], className="input")),
            _field("To", dcc.Input(id=UNTIL, type="text", debounce=True,
                                   placeholder="empty: now", value=typed["until"],
                                   className="input")),
            _field("Runtime ≥ s", dcc.Input(id=RUNTIME_MIN, type="number", min=0, debounce=True,
                                            value=task_filter.runtime_min,
                                            className="input small")),
            _field("Runtime ≤ s", dcc.Input(id=RUNTIME_MAX, type="number", min=0, debounce=True,
                                            value=task_filter.runtime_max,
                                            className="input small")),
            html.Button("Clear filters", id=CLEAR, n_clicks=0, className="button"),
        ], className="plain filters"),
    ], className="more-filters")


def layout(**query):
    task_filter, problem = _initial(query)
    prefix = dash.get_app().config.requests_pathname_prefix
    params = page_params(query, task_filter)
    export = html.A("Export CSV", id=EXPORT, className="button", download="",
                    href=f"{prefix}api/tasks.csv?{task_filter.to_query_string()}",
                    **{"data-export-progress": EXPORT_STATUS})
    columns = html.Details([html.Summary("Columns"),
                            dcc.Checklist(id=COLUMNS, options=COLUMN_OPTIONS,
                                          value=DEFAULT_VISIBLE, persistence=True,
                                          className="column-picker")], className="columns")
    return html.Div([
        dcc.Store(id=FILTER, data=params), dcc.Store(id=SORT, data=task_filter.sort),
        dcc.Store(id=LIVE), dcc.Store(id=MARK), dcc.Store(id=URL_SYNC),
        dcc.Store(id=SEARCH_TEXT, data=task_filter.search or ""),
        dcc.Store(id=EXPORT_BASE, data=f"{prefix}api/tasks.csv"),
        page_header("Tasks", meta=[html.Span(id=COUNT, role="status", className="count"),
                                   html.Span(id=ZONE, className="muted")],
                    actions=[html.Span(id=EXPORT_STATUS, role="status", className="muted"),
                             export, columns]),
        toolbar(dcc.Input(id=SEARCH, type="search", debounce=True, value=task_filter.search or "",
                          placeholder="Search: state:FAILURE name:… worker:…, a task id, any text",
                          className="input search live-search", autoComplete="off"),
                html.Small(SEARCH_HINT, className="muted"), className="tasks-search"),
        html.Div([_chip(label) for label, _ in CHIPS], className="chips", role="group",
                 **{"aria-label": "State"}),
        html.P(problem, id=LINK_PROBLEM, className="banner banner-error", hidden=not problem),
        html.P(id=PROBLEM, className="banner banner-error", hidden=True),
        _filter_panel(task_filter, query),
        bulk_toolbar(),
        html.Div([html.Span(id=NOTICE_TEXT),
                  html.Button("Show", id=NOTICE_SHOW, n_clicks=0, className="button")],
                 id=NOTICE, className="tasks-new", role="status", hidden=True),
        html.Div([
            make_task_grid(GRID, DEFAULT_VISIBLE, prefix, task_filter.sort),
            html.Div([empty_state(NO_MATCH, "Widen the time range, or clear the filters.",
                                  id=EMPTY_TITLE),
                      html.Button("Clear filters", id=CLEAR_EMPTY, n_clicks=0,
                                  className="button")], id=EMPTY, hidden=True,
                     className="tasks-empty"),
        ], id=GRID_WRAP, className="tasks-grid-wrap"),
    ], className="page tasks-page")


@callback(
    Output(FILTER, "data"), Output(PROBLEM, "children"), Output(PROBLEM, "hidden"),
    Output(LINK_PROBLEM, "hidden"),
    *[Input(control, "value") for control in _CONTROLS], Input(SEARCH_TEXT, "data"),
    Input(BROWSER_TZ, "data"), State(FILTER, "data"),
)
def _apply_filters(*values):
    *controls, zone, shown = values
    # Only an edited control hides the layout's "the link's filter was ignored"; the
    # initial call (nothing triggered) and the browser's zone arriving leave it up.
    link_problem = True if ctx.triggered_id in (*_CONTROLS, SEARCH_TEXT) else no_update
    params = controls_to_params(*controls, zone_name=zone)
    try:
        task_filter = parse_filter(params)
    except FilterError as exc:
        return no_update, f"Filter not applied: {exc}", False, link_problem
    kept = page_params(params, task_filter)
    return (no_update if kept == shown else kept), "", True, link_problem


# Enter, leaving the box, a chip or "Clear filters" set the box's value: its text follows,
# and so does the box itself when what was typed since differs (React would not redraw it).
clientside_callback(f"""function (value) {{
    const text = value || '', box = document.getElementById('{SEARCH}');
    if (box && box.value !== text) {{ box.value = text; }}
    return text;
}}""", Output(SEARCH_TEXT, "data"), Input(SEARCH, "value"), prevent_initial_call=True)


@callback(
    Output(RANGE, "value"), Output(SINCE, "value"), Output(UNTIL, "value"),
    Input(RANGE, "value"), Input(SINCE, "value"), Input(UNTIL, "value"),
    prevent_initial_call=True,
)
def _sync_range(quick, since, until):
    """Typing in From/To picks "custom"; a quick range (or "all") empties them."""
    if ctx.triggered_id in (SINCE, UNTIL):
        return ("custom" if (since or until) and quick != "custom" else no_update,
                no_update, no_update)
    if quick != "custom" and (since or until):
        return no_update, "", ""
    return no_update, no_update, no_update


@callback(
    Output(STATE, "value", allow_duplicate=True), Output(NAME, "value"),
    Output(WORKER, "value"), Output(QUEUE, "value"), Output(RANGE, "value", allow_duplicate=True),
    Output(SINCE, "value", allow_duplicate=True), Output(UNTIL, "value", allow_duplicate=True),
    Output(RUNTIME_MIN, "value"), Output(RUNTIME_MAX, "value"),
    Output(SEARCH, "value", allow_duplicate=True),
    Input(CLEAR, "n_clicks"), Input(CLEAR_EMPTY, "n_clicks"), prevent_initial_call=True,
)
def _clear(*_clicks):
    return [], [], None, None, "all", "", "", None, None, ""


@callback(
    Output(STATE, "value", allow_duplicate=True), Output(SEARCH, "value", allow_duplicate=True),
    Input({"type": CHIP, "chip": ALL}, "n_clicks"), State(SEARCH_TEXT, "data"),
    prevent_initial_call=True,
)
def _choose_chip(clicks, search):
    """A chip shows its state alone: it replaces the state filter and the search's state:."""
    if not ctx.triggered_id or not any(clicks):
        return no_update, no_update
    state = dict(CHIPS)[ctx.triggered_id["chip"]]
    return ([state] if state else []), drop_key(search or "", "state")


@callback(
    Output(LIVE, "data"), Output(COUNT, "children"),
    Output({"type": CHIP, "chip": ALL}, "children"),
    Output({"type": CHIP, "chip": ALL}, "className"),
    Output(EMPTY, "hidden"), Output(EMPTY_TITLE, "children"), Output(CLEAR_EMPTY, "hidden"),
    Output(GRID_WRAP, "className"),
    Input(FILTER, "data"), Input(INTERVAL, "n_intervals"), State(LIVE, "data"),
    State(MARK, "data"),
)
def _count(params, tick, last, mark):
    """The count, the chips and the new tasks, again on every refresh that something
    changed in the store (a few index probes tell), and never more often than keeps the
    counting within its share of the database's time."""
    tick, last, services = tick or 0, last or {}, current()
    engine, key = services.store.engine, repr(sorted((params or {}).items()))
    try:
        task_filter = parse_filter(params or {})
    except FilterError:
        raise dash.exceptions.PreventUpdate from None
    marker = task_queries.change_marker(engine)
    if ctx.triggered_id == INTERVAL and last.get("key") == key and (
            last.get("marker") == marker or tick < last.get("due", 0)):
        raise dash.exceptions.PreventUpdate
    clock = counting_clock(engine.dialect.name)
    began, now = clock(), time.time()
    counts = task_queries.state_counts(engine, task_filter, now)
    total = (task_queries.count(engine, task_filter, now) if counts_on_its_own(task_filter)
             else total_of(counts, task_filter))
    new = 0
    if mark and mark.get("key") == key:
        new = task_queries.count_received_after(engine, task_filter, mark.get("newest"), now)
    spent = clock() - began
    live = {"key": key, "marker": marker, "new": new, "counts": counts,
            "newest": task_queries.newest_received(engine),
            "due": next_count_tick(tick, spent, services.settings.refresh_interval)}
    chip = active_chip(task_filter)
    chip_labels = [[label, html.Span(f"{counts.get(state, 0) if state else sum(counts.values()):,}",
                                     className="chip-count")] for label, state in CHIPS]
    classes = ["chip selected" if label == chip else "chip" for label, _ in CHIPS]
    filtered = bool(params)
    return (live, f"{total:,} task{'s' if total != 1 else ''} match", chip_labels, classes,
            total > 0, NO_MATCH if filtered else NO_TASKS, not filtered,
            "tasks-grid-wrap is-empty" if total == 0 else "tasks-grid-wrap")


@callback(Output(GRID, "getRowsResponse"), Input(GRID, "getRowsRequest"), State(FILTER, "data"))
def _rows(request, params):
    if not request:
        return no_update
    try:
        window = row_window(request, current().settings.max_grid_rows)
        task_filter = grid_request_filter(params or {}, request)
    except (GridRequestError, FilterError) as exc:
        raise BadRequest(f"task grid: {exc}") from None  # a 400, not a traceback
    rows = task_queries.page(current().store.engine, task_filter, window.start, window.size,
                             now=time.time())
    response = {"rowData": rows}
    if len(rows) < window.size:
        response["rowCount"] = window.start + len(rows)  # the last page: the grid knows it
    return response


@callback(Output(GRID, "columnDefs"), Input(COLUMNS, "value"), State(SORT, "data"))
def _columns(visible, sort):
    return column_defs(visible or [], dash.get_app().config.requests_pathname_prefix,
                       sort or "-received")


register_live_callbacks(grid=GRID, filter_store=FILTER, sort_store=SORT, live=LIVE, mark=MARK,
                        url_sync=URL_SYNC, export=EXPORT, export_base=EXPORT_BASE,
                        notice=NOTICE, notice_text=NOTICE_TEXT, notice_show=NOTICE_SHOW,
                        zone=ZONE, browser_zone=BROWSER_TZ)
register_bulk_callbacks(grid=GRID, filter_store=FILTER)
