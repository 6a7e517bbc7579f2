"""`/issues`: failures over a window grouped into issues (task name, exception type and
message with ids folded), newest first; each with its count, a sparkline, first and last
seen, workers affected, recovered vs dead, a sample task and its tasks in the grid.

The grouping runs in the database (triage/queries.py); the page draws the groups. The
grid's filters in the URL (name, worker, queue, search) narrow it too.
"""
from __future__ import annotations

import time
from typing import Any

import dash
from dash import Input, Output, State, callback, dcc, html

from ..components.card import card, stat_card
from ..components.empty_state import empty_state
from ..components.page_header import page_header
from ..components.pill import status_pill
from ..components.refresh import BROWSER_TZ, INTERVAL
from ..components.toolbar import toolbar, toolbar_group
from ..query_string import FilterError
from ..services import current
from ..tasks.view import browser_zone
from ..triage.queries import issue_report
from ..triage.request import DEFAULT_RANGE, parse_request
from ..triage.view import WINDOWS, issue_rows, summary

dash.register_page(__name__, path="/issues", name="Issues", title="Issues · celery-scope",
                   order=1.5)

PARAMS = "issues-params"  # the URL's filters, the window apart
WINDOW = "issues-window"
SUMMARY, ZONE_NOTE, PROBLEM = "issues-summary", "issues-zone", "issues-problem"
STATS, TABLE, EMPTY = "issues-stats", "issues-table", "issues-empty"
NO_ISSUES = "No failures in this window"
NO_ISSUES_HINT = ("Failed and retried tasks appear here grouped into issues as workers "
                  "report them; choose a longer window to look further back.")
_HEAD = ("Issue", "Count", "Occurrences", "First seen", "Last seen", "Workers", "Outcome",
         "Sample")


def layout(**query):
    window = query.get("range") if query.get("range") in WINDOWS else DEFAULT_RANGE
    params = {key: value for key, value in query.items()
              if key in ("name", "worker", "queue", "search", "state")}
    return html.Div([
        dcc.Store(id=PARAMS, data=params),
        page_header("Issues", meta=[html.Span(id=SUMMARY), html.Span(id=ZONE_NOTE)]),
        toolbar(toolbar_group(dcc.RadioItems(
            [{"label": label, "value": value} for value, label in WINDOWS.items()], window,
            id=WINDOW, inline=True, className="radio window-choice"), label="Window")),
        html.Div(id=PROBLEM, className="action-result error", role="alert", hidden=True),
        html.Div(id=STATS, className="cards"),
        card([html.Div(empty_state(NO_ISSUES, NO_ISSUES_HINT), id=EMPTY, hidden=True),
              html.Div(id=TABLE, className="issues-table-wrap")], title="Issues, newest first"),
    ], className="page issues-page")


def _sparkline(row: dict) -> html.Span:
    counts = row["counts"]
    return html.Span([html.Span(className="spark-bar", style={"height": f"{height}%"})
                      for height in row["bars"]], className="sparkline", role="img",
                     title=f"{sum(counts):,} in the window, by {len(counts)} equal spans")


def _outcome(row: dict) -> html.Div:
    parts = [status_pill(f"{row['recovered']:,} recovered", "good" if row["recovered"] else
                         "muted"),
             status_pill(f"{row['dead']:,} dead", "bad" if row["dead"] else "muted")]
    if row["retrying"]:
        parts.append(status_pill(f"{row['retrying']:,} retrying", "warn"))
    if row["other"]:
        parts.append(status_pill(f"{row['other']:,} other", "muted",
                                 title="revoked or rejected after failing"))
    return html.Div(parts, className="issue-outcome")


def _issue_cell(row: dict) -> html.Div:
    return html.Div([
        html.A([html.Span(row["type"], className="issue-type"),
                html.Span(row["message"], className="issue-message")],
               href=row["tasks_href"], className="issue-link",
               title="This issue's tasks in the task list"),
        html.Div(row["task_name"], className="issue-task mono"),
    ], className="issue")


def _data(row: dict) -> dict[str, Any]:
    return {"data-issue": row["issue"]}  # the fingerprint, for scripts and tests


def _table(rows: list[dict]) -> html.Table:
    body = [html.Tr([
        html.Td(_issue_cell(row)),
        html.Td(f"{row['count']:,}", className="number issue-count"),
        html.Td(_sparkline(row)),
        html.Td(row["first_seen"], className="nowrap"),
        html.Td([html.Div(row["last_seen"], className="nowrap"),
                 html.Div(row["last_ago"], className="muted")]),
        html.Td(f"{row['workers']:,}", className="number"),
        html.Td(_outcome(row)),
        html.Td(html.A(row["sample_id"][:8] or "–", href=row["sample_href"],
                       className="task-link", title=row["sample_exception"])),
    ], className="issue-row", **_data(row)) for row in rows]
    return html.Table([html.Thead(html.Tr([html.Th(text) for text in _HEAD])),
                       html.Tbody(body)], className="table issues-table")


def _stats(report) -> list:
    dead, recovered = report.total_dead, report.total_recovered
    return [stat_card(f"{report.total_failures:,}", "failures", tone="bad"
                      if report.total_failures else "muted"),
            stat_card(f"{report.total_issues:,}", "issues", tone="warn"
                      if report.total_issues else "muted"),
            stat_card(f"{dead:,}", "dead", tone="bad" if dead else "muted"),
            stat_card(f"{recovered:,}", "recovered after a retry",
                      tone="good" if recovered else "muted")]


@callback(Output(ZONE_NOTE, "children"), Input(BROWSER_TZ, "data"))
def _zone_note(tz_name):
    return f"Times in {browser_zone(tz_name).key} (this browser's zone)"


@callback(Output(SUMMARY, "children"), Output(STATS, "children"), Output(TABLE, "children"),
          Output(EMPTY, "hidden"), Output(PROBLEM, "children"), Output(PROBLEM, "hidden"),
          Input(INTERVAL, "n_intervals"), Input(WINDOW, "value"), Input(BROWSER_TZ, "data"),
          State(PARAMS, "data"))
def _refresh(_ticks, window, tz_name, params):
    now = time.time()
    try:
        request = parse_request({**(params or {}), "range": window or DEFAULT_RANGE}, now,
                                strict=False)
    except FilterError as exc:
        return "", [], None, True, f"The link's filter was ignored: {exc}", False
    services = current()
    report = issue_report(services.store.engine, request, now)
    prefix = dash.get_app().config.requests_pathname_prefix
    rows = issue_rows(report, prefix, browser_zone(tz_name), now)
    return (summary(report, request.range), _stats(report), _table(rows) if rows else None,
            bool(rows), "", True)
