"""`/broker`: every queue the cluster uses, how many messages wait in it, who consumes it,
and its depth over time, from the collector's samples in the store."""
from __future__ import annotations

import time

import dash
from dash import Input, Output, callback, dcc, html

from ..broker_detail import DEFAULT_WINDOW, WINDOWS, chart_window, depth_frame, queue_rows
from ..components.queue_chart import queue_depth_figure
from ..components.queue_table import HIDDEN, NO_QUEUES, VISIBLE, make_queue_grid
from ..components.refresh import BROWSER_TZ, INTERVAL
from ..frames import is_online
from ..queue_names import consumers_by_queue
from ..series_frames import zone
from ..services import current

dash.register_page(__name__, path="/broker", name="Broker", title="Broker · celery-scope",
                   order=3)

HEADER = "broker-header"
EMPTY = "broker-no-queues"
GRID = "broker-queues"
WINDOW = "broker-window"
CHART = "broker-depth-chart"
LATEST_SECONDS = 3600  # the table lists queues sampled within the last hour


def layout(**_query):
    return html.Div([
        html.Div([html.H1("Broker", className="title"), html.Div(id=HEADER, className="meta")],
                 className="page-header"),
        html.P(NO_QUEUES, id=EMPTY, className="empty-state", hidden=True),
        make_queue_grid(GRID),
        html.Div([html.H2("Queue depth"),
                  dcc.RadioItems(list(WINDOWS), DEFAULT_WINDOW, id=WINDOW, inline=True,
                                 className="window-choice")], className="toolbar"),
        dcc.Graph(id=CHART, config={"displaylogo": False}, className="chart"),
    ], className="page")


@callback(Output(HEADER, "children"), Output(GRID, "rowData"), Output(EMPTY, "hidden"),
          Output(GRID, "style"), Output(CHART, "figure"), Input(INTERVAL, "n_intervals"),
          Input(WINDOW, "value"), Input(BROWSER_TZ, "data"))
def _refresh(_ticks, window, tz_name):
    services = current()
    now = time.time()
    status = services.cache.collector_status() or {}
    online = {row["hostname"] for row in services.store.workers() if is_online(row, now)}
    consumers = consumers_by_queue({hostname: services.cache.worker_snapshot(hostname)
                                    for hostname in services.cache.inspected_workers()})
    rows = queue_rows(services.store.latest_queue_samples(now - LATEST_SECONDS), consumers,
                      online, services.settings.pathname_prefix, now)
    seconds, bucket = chart_window(window)
    samples = services.store.queue_samples(None, now - seconds, bucket_seconds=bucket)
    interval = services.settings.queue_sample_interval
    figure = queue_depth_figure(
        depth_frame(samples), f"Messages ready per queue (peak per {bucket} s), last "
                              f"{window or DEFAULT_WINDOW}",
        f"No depth samples in this window yet: the collector samples every {interval:g} s.",
        now - seconds, now, zone(tz_name))
    header = [html.Span(status.get("broker") or "broker not known yet", className="broker-url"),
              html.Span(f"queue depths sampled every {interval:g} s")]
    return header, rows, bool(rows), VISIBLE if rows else HIDDEN, figure
