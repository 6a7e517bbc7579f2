"""Layout factories for the task page: facts, lifecycle timeline, payloads, error, children,
and the "not seen" state. They take a task row and what task_detail computed from it; none
reads the store. Everything from the row is untrusted and goes into text children only.

Times are epoch seconds (UTC). `local_time` renders a <time> whose text a clientside
callback rewrites in the browser's time zone; until then (or without JavaScript) it says UTC.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

from dash import MATCH, Input, Output, clientside_callback, dcc, html
from dash.dependencies import Wildcard
from dash.development.base_component import Component

from ..tasks import detail
from .empty_state import empty_state
from .pill import status_pill

MAX_CHILDREN = 1000  # HistoryStore.children's default limit


class ids:
    """Pattern-matching ids: one per time shown, keyed by what the time is."""

    @staticmethod
    def local_time(key: str | Wildcard) -> dict[str, str | Wildcard]:
        return {"type": "task-local-time", "index": key}


def task_href(prefix: str, uuid: str) -> str:
    """`prefix` is the app's requests_pathname_prefix ('/' or '/scope/')."""
    return f"{prefix}tasks/{quote(uuid, safe='')}"


def worker_href(prefix: str, hostname: str) -> str:
    return f"{prefix}workers/{quote(hostname, safe='')}"


def task_link(prefix: str, uuid: str) -> dcc.Link:
    return dcc.Link(uuid, href=task_href(prefix, uuid), className="task-link")


def state_badge(state: str | None) -> html.Span:
    """The state's pill; a custom state (PROGRESS) is neutral."""
    return status_pill(state or "UNKNOWN")


def not_seen_pill() -> html.Span:
    return status_pill("not seen", "muted")


def local_time(key: str, epoch: float | None) -> html.Time | html.Span:
    if epoch is None:
        return html.Span("–", className="muted")
    return html.Time(detail.utc_text(epoch), id=ids.local_time(key), dateTime=detail.iso_utc(epoch),
                     title=detail.utc_text(epoch), className="local-time")


def _date_text(key: str, value: str | None) -> html.Time | html.Span:
    """An ETA or expiry as the event gave it (ISO text); the browser localises it if it can."""
    if not value:
        return html.Span("–", className="muted")
    return html.Time(value, id=ids.local_time(key), dateTime=value, title=value,
                     className="local-time")


def _facts(items: Iterable[tuple[str, Any]]) -> html.Dl:
    children = []
    for label, value in items:
        children += [html.Dt(label), html.Dd(value)]
    return html.Dl(children, className="facts task-facts")


def _text_or_dash(value: Any) -> Any:
    return "–" if value in (None, "") else str(value)


def header(row: Mapping[str, Any]) -> list:
    return [state_badge(row.get("state")),
            html.Span(_text_or_dash(row.get("name")), className="task-name")]


def _links(prefix: str, uuids: Sequence[str]) -> Any:
    if not uuids:
        return "–"
    return html.Span([task_link(prefix, uuid) for uuid in uuids], className="task-links")


def facts(row: Mapping[str, Any], prefix: str,
          links: tuple[str | None, Sequence[str]] = (None, ())) -> html.Section:
    """Every field of the row that is not a payload or a lifecycle time; `links` are the
    task this one retries and the tasks that retry it (bulk/links.py)."""
    uuid, worker = row["uuid"], row.get("worker")
    retry_of, retried_as = links
    parent, root = row.get("parent_id"), row.get("root_id")
    root_view = ("this task" if root == uuid else task_link(prefix, root)) if root else "–"
    return html.Section([
        html.H2("Task"),
        _facts([
            ("Name", _text_or_dash(row.get("name"))),
            ("UUID", uuid),
            ("State", state_badge(row.get("state"))),
            ("Worker", dcc.Link(worker, href=worker_href(prefix, worker), className="worker-link")
             if worker else "–"),
            ("Client", _text_or_dash(row.get("client"))),
            ("Queue", _text_or_dash(row.get("queue"))),
            ("Exchange", _text_or_dash(row.get("exchange"))),
            ("Routing key", _text_or_dash(row.get("routing_key"))),
            ("Retries", _text_or_dash(row.get("retries"))),
            ("ETA", _date_text("eta", row.get("eta"))),
            ("Expires", _date_text("expires", row.get("expires"))),
            ("Parent", task_link(prefix, parent) if parent else "–"),
            ("Root", root_view),
            ("Retry of", task_link(prefix, retry_of) if retry_of else "–"),
            ("Retried as", _links(prefix, retried_as)),
            ("Last event", local_time("timestamp", row.get("timestamp"))),
            ("Runtime", detail.human_duration(row.get("runtime"))),
        ]),
    ], className="task-section")


_STEP_LABELS = {"sent": "Sent", "received": "Received", "started": "Started",
                "succeeded": "Succeeded", "failed": "Failed", "retried": "Retried",
                "revoked": "Revoked", "rejected": "Rejected"}


_PHASE_BAR_LABEL: dict[str, Any] = {"aria-label": "queued, waiting and running time"}


def timeline(steps: Sequence[detail.Step], spans: detail.Durations) -> html.Section:
    """The steps in time order, with the time since the first, then the durations."""
    items: Component
    if steps:
        items = html.Ol([
            html.Li([html.Span(_STEP_LABELS.get(step.name, step.name), className="step-name"),
                     local_time(f"step-{step.name}", step.at),
                     html.Span(f"+{detail.human_duration(step.offset)}"
                               if index and step.offset >= 0 else "", className="step-offset")],
                    className=f"step step-{step.name}")
            for index, step in enumerate(steps)], className="timeline")
    else:
        items = html.P("No lifecycle event has been recorded yet.", className="empty-state")
    bar = [html.Div(className=f"phase phase-{label}",
                    title=f"{label}: {detail.human_duration(seconds)}",
                    style={"flexGrow": share, "flexBasis": 0})
           for label, seconds, share in detail.phases(spans)]
    return html.Section([
        html.H2("Lifecycle"),
        html.P("Times in your browser's time zone; hover one for UTC.", className="muted"),
        items,
        html.Div(bar, className="phase-bar", role="img", **_PHASE_BAR_LABEL) if bar else None,
        html.Dl([html.Dt("Queued"), html.Dd(detail.human_duration(spans.queued), id="task-queued"),
                 html.Dt("Waiting"), html.Dd(detail.human_duration(spans.wait), id="task-wait"),
                 html.Dt("Running"), html.Dd(detail.human_duration(spans.run), id="task-run"),
                 html.Dt("Total"), html.Dd(detail.human_duration(spans.total), id="task-total")],
                className="durations",
                title="queued: sent → received; waiting: received → started; "
                      "running: runtime, or started → end"),
    ], className="task-section")


def _payload(title: str, key: str, text: str | None) -> html.Div:
    body: Component
    if text is None:
        body = html.P("not reported", className="muted")
    else:
        note = detail.literal_note(text)
        body = html.Div([html.Pre(detail.pretty(text), id=f"task-{key}", className="payload"),
                         html.P(note, className="muted") if note else None])
    return html.Div([html.H3(title), body], className="payload-block")


def payloads(row: Mapping[str, Any]) -> html.Section:
    return html.Section([
        html.H2("Arguments and result"),
        _payload("Args", "args", row.get("args")),
        _payload("Kwargs", "kwargs", row.get("kwargs")),
        _payload("Result", "result", row.get("result")),
    ], className="task-section")


def error(row: Mapping[str, Any]) -> html.Section | None:
    exception, traceback = row.get("exception"), row.get("traceback")
    if not exception and not traceback:
        return None
    return html.Section([
        html.H2("Error"),
        html.Pre(exception, id="task-exception", className="exception") if exception else None,
        html.Pre(traceback, id="task-traceback", className="traceback") if traceback else None,
    ], className="task-section")


def children(rows: Sequence[Mapping[str, Any]], prefix: str) -> html.Section:
    listing: Component
    if rows:
        listing = html.Ul([
            html.Li([task_link(prefix, child["uuid"]),
                     html.Span(_text_or_dash(child.get("name")), className="task-name"),
                     state_badge(child.get("state"))], className="child")
            for child in rows], id="task-children", className="children")
    else:
        listing = html.P("No child tasks seen.", className="muted", id="task-children")
    more = (html.P(f"Showing the first {MAX_CHILDREN}.", className="muted")
            if len(rows) >= MAX_CHILDREN else None)
    return html.Section([html.H2("Children"), listing, more], className="task-section")


def details(row: Mapping[str, Any], child_rows: Sequence[Mapping[str, Any]],
            prefix: str, links: tuple[str | None, Sequence[str]] = (None, ())) -> list:
    """The whole body for a task the store knows."""
    return [
        html.Div([facts(row, prefix, links),
                  timeline(detail.timeline(row), detail.durations(row))], className="task-grid"),
        error(row),
        payloads(row),
        children(child_rows, prefix),
    ]


def not_seen(uuid: str, child_rows: Sequence[Mapping[str, Any]], prefix: str) -> list:
    """The page for an id the collector has no event for: not an error, it may come."""
    return [
        empty_state("Task not seen", [
            "The collector has not seen a task with id ", html.Code(uuid or "(empty)"),
            (". It shows up here as soon as a client or worker reports an event for it; this "
             "page keeps looking. "),
            dcc.Link("Back to the dashboard", href=prefix)], id="task-not-seen"),
        children(child_rows, prefix) if child_rows else None,
    ]


# Rewrite each <time> in the browser's time zone (the server never formats local time).
clientside_callback(
    """function (iso) {
        const moment = iso ? new Date(iso) : null;
        if (!moment || isNaN(moment.getTime())) {
            return [window.dash_clientside.no_update, window.dash_clientside.no_update];
        }
        const pad = (n, width) => String(n).padStart(width || 2, '0');
        const text = moment.getFullYear() + '-' + pad(moment.getMonth() + 1) + '-' +
            pad(moment.getDate()) + ' ' + pad(moment.getHours()) + ':' +
            pad(moment.getMinutes()) + ':' + pad(moment.getSeconds()) + '.' +
            pad(moment.getMilliseconds(), 3);
        const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'local time';
        return [text, zone + ' · ' + moment.toISOString().replace('T', ' ').replace('Z', ' UTC')];
    }""",
    Output(ids.local_time(MATCH), "children"),
    Output(ids.local_time(MATCH), "title"),
    Input(ids.local_time(MATCH), "dateTime"),
)
