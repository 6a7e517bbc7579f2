"""`/explore`: how the cluster behaved over any window, and why: throughput, failures,
latency, in-flight tasks and worker load over time, by task name, worker or queue.

The chart's spec lives in the URL (bookmarkable); a link naming no window opens on one that
fits the stored tasks. Times are the browser's zone's, shown and typed. Zooming re-queries
the zoomed window at a finer bucket and a double-click goes back to the window chosen
before; clicking a point (a single click) opens the task grid filtered to that bucket and
group.
"""
from __future__ import annotations

import time

import dash
from dash import Input, Output, State, callback, clientside_callback, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from ..components.card import card
from ..components.explore_charts import heatmap_figure, series_figure
from ..components.page_header import page_header
from ..components.refresh import BROWSER_TZ as TZ
from ..components.refresh import INTERVAL
from ..series.build import build_heatmap, build_series, point_link
from ..series.frames import zone
from ..series.spec import (
    BUCKETS,
    GROUPS,
    MAX_TOP,
    METRICS,
    STATS,
    FilterError,
    SeriesSpec,
    parse_spec,
)
from ..series.view import (
    WINDOW_CONTROLS,
    bucket_label,
    chart_title,
    controls_to_params,
    due,
    first_received,
    fitting_window,
    window_controls,
)
from ..services import current
from ..tasks import queries as task_queries
from ..workers.detail import known_queue_names

dash.register_page(__name__, path="/explore", name="Explore", title="Explore · celery-scope",
                   order=2)

SPEC = "explore-spec"  # the validated spec, as query parameters
URL_SYNC = "explore-url-sync"
RENDERED, HEATMAP_AT = "explore-rendered", "explore-heatmap-at"  # epoch of the last draw
REDRAW_CHART, REDRAW_HEATMAP = "explore-redraw-chart", "explore-redraw-heatmap"
HEATMAP_REFRESH_SECONDS = 60  # hours of day fill slowly
NAVIGATE = "explore-navigate"
CLICKED = "explore-clicked"  # a single click on a point (a double-click's clicks are not)
WATCH = "explore-watch"  # the (empty) output of the clientside watch on mouse presses
CHOSEN = "explore-chosen"  # the window controls as chosen before zooming
ZONE_NOTE = "explore-zone"
PROBLEM, INFO, DOWNLOAD = "explore-problem", "explore-info", "explore-download"
CHART, HEATMAP, HEATMAP_KIND = "explore-chart", "explore-heatmap", "explore-heatmap-kind"
METRIC, GROUP, STAT, UNIT, TOP = ("explore-metric", "explore-group", "explore-stat",
                                  "explore-unit", "explore-top")
NAME, WORKER, QUEUE, STATE_FILTER = ("explore-name", "explore-worker", "explore-queue",
                                     "explore-state")
RANGE, SINCE, UNTIL, BUCKET = "explore-range", "explore-since", "explore-until", "explore-bucket"
_CONTROLS = [METRIC, GROUP, STAT, UNIT, TOP, NAME, WORKER, QUEUE, STATE_FILTER, RANGE, SINCE,
             UNTIL, BUCKET]
_WINDOW_IDS = dict(zip(WINDOW_CONTROLS, (RANGE, SINCE, UNTIL, BUCKET)))
RANGE_OPTIONS = [{"label": label, "value": value} for label, value in
                 [("15 min", "15m"), ("1 h", "1h"), ("6 h", "6h"), ("24 h", "24h"),
                  ("7 d", "7d"), ("30 d", "30d"), ("custom", "custom")]]
STATES = ["SUCCESS", "FAILURE", "RETRY", "REVOKED", "REJECTED", "STARTED", "RECEIVED"]
BUCKET_OPTIONS = [{"label": "auto", "value": "auto"}] + [
    {"label": bucket_label(size), "value": str(size)} for size in BUCKETS]


def field_id(control_id: str) -> str:
    """The id of the labelled field around a control (one rule, used where it is drawn
    and where it is shown or hidden)."""
    return f"{control_id}-field"


def _initial(query: dict) -> tuple[SeriesSpec, str]:
    if not (query.get("range") or query.get("since")):
        query = {**query, **fitting_window(first_received(current().store.engine), time.time())}
    try:
        return parse_spec(query, strict=False), ""
    except FilterError as exc:
        return SeriesSpec(), f"The link's settings were ignored: {exc}"


def _field(label: str, control, hidden: bool = False) -> html.Div:
    return html.Div([html.Label(label, htmlFor=control.id, className="field-label"), control],
                    className="field", id=field_id(control.id), hidden=hidden)


def layout(**query):
    spec, problem = _initial(query)
    engine = current().store.engine
    prefix = dash.get_app().config.requests_pathname_prefix
    metric_options = [{"label": metric.label, "value": key} for key, metric in METRICS.items()]
    download = html.A("Download CSV", id=DOWNLOAD, className="button", download="series.csv",
                      href=f"{prefix}api/series.csv?{spec.to_query_string()}")
    return html.Div([
        dcc.Store(id=SPEC, data=spec.to_params()),
        dcc.Store(id=URL_SYNC),
        dcc.Store(id=RENDERED),
        dcc.Store(id=HEATMAP_AT),
        dcc.Store(id=REDRAW_CHART),
        dcc.Store(id=REDRAW_HEATMAP),
        dcc.Store(id=CLICKED),
        dcc.Store(id=WATCH),
        dcc.Store(id=CHOSEN),
        dcc.Location(id=NAVIGATE, refresh="callback-nav"),
        page_header("Explore", meta=[html.Span(id=ZONE_NOTE),
                                     html.Span(id=INFO, role="status", className="chart-info")],
                    actions=[download]),
        html.Fieldset([
            _field("Metric", dcc.Dropdown(id=METRIC, options=metric_options, value=spec.metric,
                                          clearable=False, className="wide-dropdown")),
            _field("Group by", dcc.Dropdown(id=GROUP, options=_group_options(spec.metric),
                                            value=spec.group, placeholder="nothing")),
            _field("Statistic", dcc.Dropdown(id=STAT, options=list(STATS), value=spec.stat,
                                             clearable=False)),
            _field("Unit", dcc.RadioItems(id=UNIT, value=spec.unit, inline=True,
                                          className="radio",
                                          options=[{"label": "per bucket", "value": "count"},
                                                   {"label": "per second", "value": "rate"}])),
            _field("Top", dcc.Input(id=TOP, type="number", min=1, max=MAX_TOP, step=1,
                                    value=spec.top, debounce=True, className="input small")),
            _field("Task name", dcc.Dropdown(
                id=NAME, options=task_queries.distinct_values(engine, "name"),
                value=list(spec.names), multi=True, placeholder="any")),
            _field("Worker", dcc.Dropdown(
                id=WORKER, options=task_queries.distinct_values(engine, "worker"),
                value=list(spec.workers), multi=True, placeholder="any")),
            _field("Queue", dcc.Dropdown(id=QUEUE, multi=True, placeholder="any",
                                         options=known_queue_names(current().cache, spec.queues),
                                         value=list(spec.queues))),
            _field("State", dcc.Dropdown(id=STATE_FILTER, options=STATES, multi=True,
                                         value=list(spec.states), placeholder="any")),
        ], className="plain filters"),
        html.Fieldset([
            _field("Range", dcc.RadioItems(id=RANGE, options=RANGE_OPTIONS, inline=True,
                                           value=spec.range or "custom", className="radio")),
            # filled in the browser's zone once it is known (see _window)
            _field("From", dcc.Input(id=SINCE, type="text", debounce=True, value="",
                                     className="input",
                                     placeholder="2026-01-31 08:00, epoch, or 2h ago")),
            _field("To", dcc.Input(id=UNTIL, type="text", debounce=True, value="",
                                   className="input", placeholder="empty: now")),
            _field("Bucket", dcc.Dropdown(id=BUCKET, options=BUCKET_OPTIONS, clearable=False,
                                          value=str(spec.bucket) if spec.bucket else "auto")),
        ], className="plain filters explore-window"),
        html.P(problem, id=PROBLEM, className="banner banner-error", hidden=not problem),
        # a double-click autoscales (rather than Plotly's reset to the drawn range), which
        # _window reads as going back to the window chosen before zooming
        dcc.Loading(dcc.Graph(id=CHART, className="chart explore-chart",
                              config={"displaylogo": False, "doubleClick": "autosize"}),
                    type="dot", delay_show=300,
                    overlay_style={"visibility": "visible", "opacity": 0.6}),
        html.P("Drag across the chart to zoom: the zoomed window is fetched again in finer "
               "buckets; double-click to go back. Click a point to see its tasks.",
               className="muted"),
        card([
            dcc.RadioItems(id=HEATMAP_KIND, value="received", inline=True, className="radio",
                           options=[{"label": "tasks received", "value": "received"},
                                    {"label": "failure ratio", "value": "ratio"}]),
            dcc.Loading(dcc.Graph(id=HEATMAP, config={"displaylogo": False}),
                        type="dot", delay_show=300,
                        overlay_style={"visibility": "visible", "opacity": 0.6}),
        ], title="By task name and hour of day"),
    ], className="page explore-page")


def _group_options(metric: str) -> list[dict]:
    allowed = METRICS[metric].groups
    return [{"label": label, "value": key} for key, label in GROUPS.items() if key in allowed]


@callback(Output(GROUP, "options"), Output(GROUP, "value"), Input(METRIC, "value"),
          State(GROUP, "value"), prevent_initial_call=True)
def _metric_groups(metric, group):
    options = _group_options(metric)
    return options, group if group in [option["value"] for option in options] else None


@callback(Output(field_id(STAT), "hidden"), Output(field_id(UNIT), "hidden"),
          Input(METRIC, "value"), Input(GROUP, "value"))
def _metric_controls(metric, group):
    """The statistic picker serves grouped percentiles; the unit serves counts."""
    kind = METRICS[metric].kind
    return not (kind == "percentiles" and group), kind != "count"


_TRIGGERS = {CHART: "chart", TZ: "tz", RANGE: "range", SINCE: "since", UNTIL: "until",
             BUCKET: "bucket"}


@callback(*[Output(_WINDOW_IDS[key], "value") for key in WINDOW_CONTROLS],
          Output(CHOSEN, "data"), Input(CHART, "relayoutData"), Input(TZ, "data"),
          *[Input(_WINDOW_IDS[key], "value") for key in WINDOW_CONTROLS],
          State(CHOSEN, "data"), State(SPEC, "data"))
def _window(relayout, tz_name, quick, since, until, bucket, chosen, params):
    """The window controls follow the zone, typed times, zooms and double-clicks (the
    rules are series.view.window_controls)."""
    controls = {"range": quick, "since": since, "until": until, "bucket": bucket}
    changes = window_controls(_TRIGGERS.get(ctx.triggered_id), controls, chosen, relayout,
                              parse_spec(params or {}), zone(tz_name), time.time())
    if not changes:
        raise PreventUpdate
    return (*[changes.get(key, no_update) for key in WINDOW_CONTROLS],
            changes["chosen"] if "chosen" in changes else no_update)


@callback(Output(ZONE_NOTE, "children"), Input(TZ, "data"))
def _zone_note(tz_name):
    return f"Times in {zone(tz_name).key} (this browser's zone)"


@callback(Output(SPEC, "data"), Output(PROBLEM, "children"), Output(PROBLEM, "hidden"),
          Output(DOWNLOAD, "href"), *[Input(control, "value") for control in _CONTROLS],
          State(TZ, "data"), State(SPEC, "data"), prevent_initial_call=True)
def _apply(*values):
    *controls, tz_name, shown = values
    params = controls_to_params(*controls, tz=zone(tz_name))
    try:
        spec = parse_spec(params)
    except FilterError as exc:
        return no_update, f"Not applied: {exc}", False, no_update
    prefix = dash.get_app().config.requests_pathname_prefix
    href = f"{prefix}api/series.csv?{spec.to_query_string()}"
    # the controls refilled with what they showed (the zone arriving) change nothing
    same = spec.to_params() == parse_spec(shown or {}).to_params()
    return no_update if same else spec.to_params(), "", True, href


# The clock's ticks go through this callback, never straight into the drawing ones: a
# tick that draws nothing must not supersede a draw of a new spec still in flight.
@callback(Output(REDRAW_CHART, "data"), Output(REDRAW_HEATMAP, "data"),
          Input(INTERVAL, "n_intervals"), State(SPEC, "data"), State(RENDERED, "data"),
          State(HEATMAP_AT, "data"), prevent_initial_call=True)
def _tick(_tick, params, chart_at, heatmap_at):
    spec, now = parse_spec(params or {}), time.time()
    # a chart is redrawn about ten times per bucket: a week's is not re-queried every tick
    chart = due(spec, chart_at, now, spec.bucket_seconds(now) / 10)
    heatmap = due(spec, heatmap_at, now, HEATMAP_REFRESH_SECONDS)
    return (now if chart else no_update), (now if heatmap else no_update)


@callback(Output(CHART, "figure"), Output(INFO, "children"), Output(RENDERED, "data"),
          Input(SPEC, "data"), Input(TZ, "data"), Input(REDRAW_CHART, "data"))
def _render(params, tz_name, _redraw):
    spec = parse_spec(params or {})
    tz = zone(tz_name)
    began = time.perf_counter()
    series = build_series(current().store.engine, spec)
    seconds = time.perf_counter() - began
    points = len(series.frame)
    info = (f"{bucket_label(series.bucket)} buckets · {points} points · "
            f"answered in {seconds * 1000:.0f} ms")
    return series_figure(series, tz, chart_title(spec, series.bucket)), info, time.time()


@callback(Output(HEATMAP, "figure"), Output(HEATMAP_AT, "data"), Input(SPEC, "data"),
          Input(TZ, "data"), Input(HEATMAP_KIND, "value"), Input(REDRAW_HEATMAP, "data"))
def _heatmap(params, tz_name, kind, _redraw):
    spec = parse_spec(params or {})
    tz = zone(tz_name)
    frame = build_heatmap(current().store.engine, spec, kind == "ratio", tz)
    return heatmap_figure(frame, kind == "ratio", tz), time.time()


# Plotly reports both clicks of a double-click as clicks, and Dash hands the first one over
# a few hundred ms late: a click counts when, 400 ms after it arrives, the last presses of
# the mouse held no two within 400 ms of each other. Presses are watched on the document
# (Plotly's own double-click event is lost when the chart is redrawn).
clientside_callback(
    """function (_figure) {
        if (!window.explorePresses) {
            window.explorePresses = [];
            document.addEventListener('mousedown', () => {
                const now = Date.now();
                window.explorePresses = window.explorePresses.filter(t => now - t < 2000)
                    .concat(now);
            }, true);
        }
        return window.dash_clientside.no_update;
    }""",
    Output(WATCH, "data"), Input(CHART, "figure"),
)
clientside_callback(
    """async function (click) {
        await new Promise(resolve => setTimeout(resolve, 400));
        const now = Date.now();
        const presses = (window.explorePresses || []).filter(t => now - t < 1500);
        const double = presses.some((t, i) => i > 0 && t - presses[i - 1] < 400);
        return double ? window.dash_clientside.no_update : click;
    }""",
    Output(CLICKED, "data"), Input(CHART, "clickData"), prevent_initial_call=True,
)


@callback(Output(NAVIGATE, "href"), Input(CLICKED, "data"), State(SPEC, "data"),
          prevent_initial_call=True)
def _open_point(click, params):
    points = (click or {}).get("points") or []
    if not points or len(points[0].get("customdata") or []) != 2:
        raise PreventUpdate
    bucket_start, series_name = points[0]["customdata"]
    spec = parse_spec(params or {})
    prefix = dash.get_app().config.requests_pathname_prefix
    return prefix + point_link(spec, series_name, float(bucket_start), spec.bucket_seconds())


# Keep the URL in step with the spec, so the view can be bookmarked and shared.
clientside_callback(
    """function (params) {
        const query = new URLSearchParams(params || {}).toString();
        const url = window.location.pathname + (query ? '?' + query : '');
        window.history.replaceState(window.history.state, '', url);
        return window.dash_clientside.no_update;
    }""",
    Output(URL_SYNC, "data"), Input(SPEC, "data"), prevent_initial_call=True,
)

