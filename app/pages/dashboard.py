"""`/`: the cluster at a glance: headline numbers and the worker table, refreshed live."""
from __future__ import annotations

import time

import dash
from celery import states
from dash import Input, Output, callback, html

from ..components.refresh import INTERVAL
from ..components.summary import make_summary_cards
from ..components.worker_table import NO_WORKERS, make_worker_grid
from ..frames import dashboard_summary, grid_records, worker_frame
from ..services import current

dash.register_page(__name__, path="/", name="Dashboard", title="celery-scope", order=0)

SUMMARY = "dashboard-summary"
WORKER_GRID = "dashboard-workers"
EMPTY = "dashboard-no-workers"
RECENT_SECONDS = 300  # the "last 5 minutes" of the summary cards


def layout(**_query):
    prefix = dash.get_app().config.requests_pathname_prefix
    return html.Div([
        html.Section(make_summary_cards({}), id=SUMMARY, className="cards"),
        html.H2("Workers"),
        html.P(NO_WORKERS, id=EMPTY, className="empty-state", hidden=True),
        make_worker_grid(WORKER_GRID, prefix),
    ], className="page")


@callback(Output(SUMMARY, "children"), Output(WORKER_GRID, "rowData"), Output(EMPTY, "hidden"),
          Input(INTERVAL, "n_intervals"))
def _refresh(_):
    services = current()
    now = time.time()
    workers = worker_frame(services.store.workers(), now)
    recent = services.store.count_states_since(now - RECENT_SECONDS, [states.SUCCESS, states.FAILURE])
    summary = make_summary_cards(dashboard_summary(workers, recent))
    return summary, grid_records(workers), not workers.empty
