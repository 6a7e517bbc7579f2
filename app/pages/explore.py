"""`/explore`: how the cluster behaved over any window, and why: throughput, failures,
latency, in-flight tasks and worker load over time, by task name, worker or queue.

The chart's spec lives in the URL (bookmarkable). Zooming re-queries the zoomed window at
a finer bucket; clicking a point opens the task grid filtered to that bucket and group.
"""
from __future__ import annotations

import time

import dash
from dash import Input, Output, State, callback, clientside_callback, dcc, html, no_update
from dash.exceptions import PreventUpdate

from ..components.explore_charts import heatmap_figure, series_figure
from ..components.refresh import BROWSER_TZ as TZ
from ..components.refresh import INTERVAL
from ..series import build_heatmap, build_series, point_link
from ..series_frames import epoch_from_local, zone
from ..series_spec import (
    BUCKETS,
    GROUPS,
    MAX_TOP,
    METRICS,
    STATS,
    FilterError,
    SeriesSpec,
    parse_spec,
)
from ..services import current
from ..store import task_queries
from ..worker_detail import known_queue_names

dash.register_page(__name__, path="/explore", name="Explore", title="Explore · celery-scope",
                   order=2)

SPEC = "explore-spec"  # the validated spec, as query parameters
URL_SYNC = "explore-url-sync"
RENDERED, HEATMAP_AT = "explore-rendered", "explore-heatmap-at"  # epoch of the last draw
REDRAW_CHART, REDRAW_HEATMAP = "explore-redraw-chart", "explore-redraw-heatmap"
HEATMAP_REFRESH_SECONDS = 60  # hours of day fill slowly
NAVIGATE = "explore-navigate"
PROBLEM, INFO, DOWNLOAD = "explore-problem", "explore-info", "explore-download"
CHART, HEATMAP, HEATMAP_KIND = "explore-chart", "explore-heatmap", "explore-heatmap-kind"
METRIC, GROUP, STAT, UNIT, TOP = ("explore-metric", "explore-group", "explore-stat",
                                  "explore-unit", "explore-top")
NAME, WORKER, QUEUE, STATE_FILTER = ("explore-name", "explore-worker", "explore-queue",
                                     "explore-state")
RANGE, SINCE, UNTIL, BUCKET = "explore-range", "explore-since", "explore-until", "explore-bucket"
_CONTROLS = [METRIC, GROUP, STAT, UNIT, TOP, NAME, WORKER, QUEUE, STATE_FILTER, RANGE, SINCE,
             UNTIL, BUCKET]
RANGE_OPTIONS = [{"label": label, "value": value} for label, value in
                 [("15 min", "15m"), ("1 h", "1h"), ("6 h", "6h"), ("24 h", "24h"),
                  ("7 d", "7d"), ("30 d", "30d"), ("custom", "custom")]]
STATES = ["SUCCESS", "FAILURE", "RETRY", "REVOKED", "REJECTED", "STARTED", "RECEIVED"]


def bucket_label(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


BUCKET_OPTIONS = [{"label": "auto", "value": "auto"}] + [
    {"label": bucket_label(size), "value": str(size)} for size in BUCKETS]


def controls_to_params(metric, group, stat, unit, top, names, workers, queues, states, quick,
                       since, until, bucket) -> dict[str, str]:
    """The control panel's values as query parameters (empty ones left out)."""
    custom = quick == "custom"
    params = {"metric": metric, "group": group, "stat": stat, "unit": unit, "top": top,
              "name": ",".join(names or []), "worker": ",".join(workers or []),
              "queue": ",".join(queues or []), "state": ",".join(states or []),
              "range": None if custom else quick, "since": since if custom else None,
              "until": until if custom else None,
              "bucket": None if bucket in (None, "auto") else bucket}
    return {key: str(value) for key, value in params.items() if value not in (None, "")}


def _initial(query: dict) -> tuple[SeriesSpec, str]:
    try:
        return parse_spec(query, strict=False), ""
    except FilterError as exc:
        return SeriesSpec(), f"The link's settings were ignored: {exc}"


def _field(label: str, control, hidden: bool = False) -> html.Div:
    return html.Div([html.Label(label, htmlFor=control.id, className="field-label"), control],
                    className="field", id=f"{control.id}-field", hidden=hidden)


def _utc_text(moment: float | None) -> str:
    if moment is None:
        return ""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(moment))


def layout(**query):
    spec, problem = _initial(query)
    engine = current().store.engine
    prefix = dash.get_app().config.requests_pathname_prefix
    metric_options = [{"label": metric.label, "value": key} for key, metric in METRICS.items()]
    return html.Div([
        dcc.Store(id=SPEC, data=spec.to_params()),
        dcc.Store(id=URL_SYNC),
        dcc.Store(id=RENDERED),
        dcc.Store(id=HEATMAP_AT),
        dcc.Store(id=REDRAW_CHART),
        dcc.Store(id=REDRAW_HEATMAP),
        dcc.Location(id=NAVIGATE, refresh="callback-nav"),
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
            _field("From (UTC)", dcc.Input(id=SINCE, type="text", debounce=True,
                                           value=_utc_text(spec.since), className="input",
                                           placeholder="2026-01-31T08:00 or epoch")),
            _field("To (UTC)", dcc.Input(id=UNTIL, type="text", debounce=True,
                                         value=_utc_text(spec.until), className="input",
                                         placeholder="empty: now")),
            _field("Bucket", dcc.Dropdown(id=BUCKET, options=BUCKET_OPTIONS, clearable=False,
                                          value=str(spec.bucket) if spec.bucket else "auto")),
            html.A("Download CSV", id=DOWNLOAD, className="button", download="series.csv",
                   href=f"{prefix}api/series.csv?{spec.to_query_string()}"),
        ], className="plain filters"),
        html.P(problem, id=PROBLEM, className="banner banner-error", hidden=not problem),
        html.P(id=INFO, role="status", className="muted chart-info"),
        dcc.Loading(dcc.Graph(id=CHART, className="chart explore-chart",
                              config={"displaylogo": False}), type="dot", delay_show=300,
                    overlay_style={"visibility": "visible", "opacity": 0.6}),
        html.P("Drag across the chart to zoom: the zoomed window is fetched again in finer "
               "buckets. Click a point to see its tasks.", className="muted"),
        dcc.RadioItems(id=HEATMAP_KIND, value="received", inline=True, className="radio",
                       options=[{"label": "tasks received", "value": "received"},
                                {"label": "failure ratio", "value": "ratio"}]),
        dcc.Loading(dcc.Graph(id=HEATMAP, className="chart", config={"displaylogo": False}),
                    type="dot", delay_show=300,
                    overlay_style={"visibility": "visible", "opacity": 0.6}),
    ], className="page")


def _group_options(metric: str) -> list[dict]:
    allowed = METRICS[metric].groups
    return [{"label": label, "value": key} for key, label in GROUPS.items() if key in allowed]


@callback(Output(GROUP, "options"), Output(GROUP, "value"), Input(METRIC, "value"),
          State(GROUP, "value"), prevent_initial_call=True)
def _metric_groups(metric, group):
    options = _group_options(metric)
    return options, group if group in [option["value"] for option in options] else None


@callback(Output(f"{STAT}-field", "hidden"), Output(f"{UNIT}-field", "hidden"),
          Input(METRIC, "value"), Input(GROUP, "value"))
def _metric_controls(metric, group):
    """The statistic picker serves grouped percentiles; the unit serves counts."""
    kind = METRICS[metric].kind
    return not (kind == "percentiles" and group), kind != "count"


@callback(Output(RANGE, "value"), Output(SINCE, "value"), Output(UNTIL, "value"),
          Output(BUCKET, "value"), Input(CHART, "relayoutData"), State(TZ, "data"),
          State(SPEC, "data"), prevent_initial_call=True)
def _zoom(relayout, tz_name, params):
    """A zoom (drag or range slider) becomes a custom window with an automatic bucket."""
    window = zoomed_window(relayout or {}, zone(tz_name), parse_spec(params or {}))
    if window is None:
        raise PreventUpdate
    return "custom", _utc_text(window[0]), _utc_text(window[1] + 1), "auto"


def zoomed_window(relayout: dict, tz, spec: SeriesSpec) -> tuple[float, float] | None:
    """The window a chart's relayout event asks for, or None when it asks for none: an
    autoscale, a legend click, or Plotly reporting the range it was drawn with. A zoom
    always narrows the window; anything as wide is not one."""
    bounds = relayout.get("xaxis.range") or [relayout.get("xaxis.range[0]"),
                                            relayout.get("xaxis.range[1]")]
    if not all(bounds):
        return None
    start, end = (epoch_from_local(str(bound), tz) for bound in bounds)
    shown_start, shown_end = spec.window()
    if end - start >= 0.95 * (shown_end - shown_start):
        return None
    return start, end


@callback(Output(SPEC, "data"), Output(PROBLEM, "children"), Output(PROBLEM, "hidden"),
          Output(DOWNLOAD, "href"), *[Input(control, "value") for control in _CONTROLS],
          prevent_initial_call=True)
def _apply(*values):
    params = controls_to_params(*values)
    try:
        spec = parse_spec(params)
    except FilterError as exc:
        return no_update, f"Not applied: {exc}", False, no_update
    prefix = dash.get_app().config.requests_pathname_prefix
    return spec.to_params(), "", True, f"{prefix}api/series.csv?{spec.to_query_string()}"


def due(spec: SeriesSpec, drawn_at: float | None, now: float, every: float) -> bool:
    """Whether a refresh tick should redraw: a fixed window never changes; a sliding one
    is redrawn once `every` seconds have passed since it was last drawn."""
    return bool(spec.range) and (drawn_at is None or now - drawn_at >= every)


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
    title = spec.definition.label + (f" by {GROUPS[spec.group].lower()}" if spec.group else "")
    points = len(series.frame)
    info = (f"{bucket_label(series.bucket)} buckets · {points} points · "
            f"answered in {seconds * 1000:.0f} ms")
    return series_figure(series, tz, title), info, time.time()


@callback(Output(HEATMAP, "figure"), Output(HEATMAP_AT, "data"), Input(SPEC, "data"),
          Input(TZ, "data"), Input(HEATMAP_KIND, "value"), Input(REDRAW_HEATMAP, "data"))
def _heatmap(params, tz_name, kind, _redraw):
    spec = parse_spec(params or {})
    tz = zone(tz_name)
    frame = build_heatmap(current().store.engine, spec, kind == "ratio", tz)
    return heatmap_figure(frame, kind == "ratio", tz), time.time()


@callback(Output(NAVIGATE, "href"), Input(CHART, "clickData"), State(SPEC, "data"),
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

