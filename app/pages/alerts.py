"""`/alerts`: every alert rule with its state, the alerts firing or pending with a link to
their cause, the history of what fired and resolved, failed deliveries; muting a rule
(operator) and the page's own rules (admin), through alerts/editing.py as the API."""
from __future__ import annotations

import time
from datetime import tzinfo

import dash
import dash_ag_grid as dag
from dash import Input, Output, State, callback, ctx, dcc, html, no_update
from dash.development.base_component import Component

from ..alerts import editing
from ..alerts.links import alert_url
from ..alerts.overview import counts, grid_rows, overview
from ..alerts.rules import KINDS, Rule, RuleError, parse_rule
from ..alerts.state_store import AlertStore
from ..auth.roles import may
from ..broker.gate import ControlError
from ..components.card import card
from ..components.confirm import ConfirmModal
from ..components.empty_state import empty_state
from ..components.grid_defaults import (
    DEFAULT_COL_DEF,
    GRID_CLASS,
    SECONDS_TIME,
    auto_height_options,
    col_def,
)
from ..components.page_header import page_header
from ..components.pill import status_pill
from ..components.refresh import BROWSER_TZ, INTERVAL
from ..components.toast import TOAST, toast
from ..components.toolbar import toolbar, toolbar_group
from ..formatting import moment_text
from ..series.frames import zone
from ..services import current

dash.register_page(__name__, path="/alerts", name="Alerts", title="Alerts · celery-scope",
                   order=1.6)

PILLS = "alerts-pills"
GRID = "alerts-grid"
EMPTY = "alerts-empty"
ACTIVE = "alerts-active"
HISTORY = "alerts-history"
FAILURES = "alerts-failures"
RULE = "alerts-rule"
MUTE_BUTTONS = {f"alerts-mute-{minutes}": minutes for minutes in editing.MUTE_CHOICES}
UNMUTE = "alerts-unmute"
REFUSED = "alerts-refused"
VERSION = "alerts-version"
FORM = {key: f"alerts-form-{key}" for key in editing.FORM_FIELDS}
FORM_BOX = "alerts-form"
NEW, EDIT, SAVE, DELETE = "alerts-new", "alerts-edit", "alerts-save", "alerts-delete"
EDITING = "alerts-editing"  # the page rule being edited, or None for a new one
FORM_ERROR = "alerts-form-error"
MODAL = ConfirmModal("alerts")

STATE_TONES = {"firing": "bad", "pending": "warn", "ok": "good", "muted": "muted"}
COLUMNS = [
    col_def(field="name", headerName="Rule", minWidth=160, flex=2, tooltipField="name"),
    col_def(field="kind", headerName="Kind", minWidth=165, flex=1),
    col_def(field="scope", headerName="Scope", minWidth=130, flex=1, tooltipField="scope"),
    col_def(field="threshold", headerName="Threshold", minWidth=125, flex=0, width=125),
    col_def(field="window", headerName="Window", minWidth=110, flex=0, width=110),
    col_def(field="for", headerName="For", minWidth=80, flex=0, width=80),
    col_def(field="state", headerName="State", minWidth=100, flex=0, width=100,
            cellClassRules={f"alert-state tone-{tone}": f"params.value == '{state}'"
                            for state, tone in STATE_TONES.items()}),
    col_def(field="value", headerName="Value", minWidth=90, flex=0, width=100,
            valueFormatter={"function": "params.value == null ? '' : "
                                        "d3.format('.4~g')(params.value)"}),
    col_def(field="since", headerName="Since", minWidth=150, flex=0, width=160,
            valueFormatter=SECONDS_TIME, headerTooltip="In this browser's time zone"),
    col_def(field="notify", headerName="Notify", minWidth=90, flex=1),
    col_def(field="source", headerName="Source", minWidth=105, flex=0, width=105),
]
EXAMPLE = ('[[alerts]]\nname = "charge failures"\nkind = "failure_ratio"\n'
           'task = "shop.tasks.charge"\nthreshold = 0.2\nwindow = "5m"\nfor = "30s"\n'
           'notify = ["ops"]')


def _grid(grid_id: str, columns: list, row_id: str) -> dag.AgGrid:
    return dag.AgGrid(id=grid_id, columnDefs=columns, rowData=[], getRowId=row_id,
                      defaultColDef={**DEFAULT_COL_DEF, "sortable": True, "filter": True},
                      dashGridOptions=auto_height_options(tooltipShowDelay=300),
                      className=f"{GRID_CLASS} alerts-grid", style={"width": "100%"})


def _empty_hint() -> list:
    hint: list = ["Add an [[alerts]] table to the config file, for example:",
                  html.Pre(EXAMPLE, className="alerts-example")]
    if may("admin"):
        hint.append("… or make one here with New rule.")
    return hint


def _form() -> html.Div:
    kinds = [{"label": f"{kind} — {text}", "value": kind} for kind, text in KINDS.items()]

    def field(key: str, label: str, placeholder: str = "") -> html.Div:
        return toolbar_group(dcc.Input(id=FORM[key], type="text", placeholder=placeholder,
                                       debounce=False, className="alerts-input"), label=label)

    return html.Div([
        toolbar(field("name", "Name"),
                toolbar_group(dcc.Dropdown(id=FORM["kind"], options=kinds,
                                           placeholder="what to watch",
                                           className="alerts-kind"), label="Kind")),
        toolbar(field("threshold", "Threshold", "0.2, 100, 10m"),
                field("window", "Window", "5m"), field("for", "For", "0s"),
                field("min_count", "Min count", "1")),
        toolbar(field("task", "Task"), field("queue", "Queue"), field("worker", "Worker"),
                field("notify", "Notify", "ops, mail")),
        toolbar(field("description", "Description"),
                html.Button("Save", id=SAVE, className="button primary", n_clicks=0)),
        html.P(id=FORM_ERROR, className="action-result error", role="alert", hidden=True),
    ], id=FORM_BOX, hidden=True, className="alerts-form")


def layout(**_query):
    admin = may("admin")
    return html.Div([
        dcc.Store(id=VERSION, data=0), dcc.Store(id=EDITING),
        page_header("Alerts", meta=[html.Span(id=PILLS, role="status")],
                    actions=[html.Button("New rule", id=NEW, className="button", n_clicks=0,
                                         hidden=not admin)]),
        card([
            toolbar(
                toolbar_group(dcc.Dropdown(id=RULE, placeholder="choose a rule",
                                           className="alerts-rule-picker"), label="Rule"),
                *[html.Button(f"Mute {minutes // 60} h", id=button, className="button",
                              n_clicks=0) for button, minutes in MUTE_BUTTONS.items()],
                html.Button("Unmute", id=UNMUTE, className="button", n_clicks=0),
                html.Button("Edit", id=EDIT, className="button", n_clicks=0,
                            hidden=not admin),
                html.Button("Delete", id=DELETE, className="button danger", n_clicks=0,
                            hidden=not admin),
            ),
            html.P(id=REFUSED, className="muted", hidden=True),
            _form(),
            html.Div(empty_state("No alert rules", _empty_hint()), id=EMPTY, hidden=True),
            _grid(GRID, COLUMNS, "params.data.name"),
        ], title="Rules"),
        card(html.Div(id=ACTIVE), title="Firing and pending"),
        card(html.Div(id=HISTORY), title="History"),
        card(html.Div(id=FAILURES), title="Delivery failures"),
        MODAL.layout(),
    ], className="page alerts-page")


def _pills(numbers: dict[str, int]) -> list:
    return [status_pill(f"{numbers['firing']} firing", "bad" if numbers["firing"] else "muted"),
            status_pill(f"{numbers['pending']} pending",
                        "warn" if numbers["pending"] else "muted"),
            status_pill(f"{numbers['muted']} muted", "muted")]


def _active_list(rules: list, rule_objects: dict[str, Rule], base: str) -> Component:
    items = []
    for rule in rules:
        for alert in rule["alerts"]:
            labels = ", ".join(f"{key}={value}" for key, value in sorted(alert["labels"].items()))
            href = alert_url(base, rule_objects[rule["name"]], alert["labels"],
                             alert["active_since"])
            items.append(html.Li([
                status_pill(alert["state"], STATE_TONES[alert["state"]]), " ",
                html.Strong(rule["name"]), " ", html.Span(labels, className="muted"), " ",
                html.A("Show the cause", href=href, className="alerts-cause")],
                className="alerts-active-item"))
    if not items:
        return empty_state("Nothing firing or pending", "Alerts appear here while a rule's "
                           "condition holds.")
    return html.Ul(items, className="alerts-active-list")


def _table(rows: list, columns: tuple, title: str, hint: str, tz: tzinfo) -> Component:
    if not rows:
        return empty_state(title, hint)
    head = html.Thead(html.Tr([html.Th(label) for label, _ in columns]))
    body = html.Tbody([html.Tr([html.Td(_cell(row.get(key), key, tz)) for _, key in columns])
                       for row in rows])
    return html.Table([head, body], className="table alerts-table")


def _cell(value, key: str, tz: tzinfo) -> str:
    if value is None:
        return ""
    if key in ("at", "started_at"):
        return moment_text(value, tz)
    if key == "labels":
        return ", ".join(f"{name}={text}" for name, text in sorted(value.items()))
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


HISTORY_COLUMNS = (("When", "at"), ("Rule", "rule"), ("Status", "status"),
                   ("Labels", "labels"), ("Value", "value"), ("Started", "started_at"))
FAILURE_COLUMNS = (("When", "at"), ("Notifier", "notifier"), ("Rule", "rule"),
                   ("Status", "status"), ("Attempts", "attempts"), ("Error", "error"))


@callback(Output(PILLS, "children"), Output(GRID, "rowData"), Output(EMPTY, "hidden"),
          Output(GRID, "style"), Output(RULE, "options"), Output(ACTIVE, "children"),
          Output(HISTORY, "children"), Output(FAILURES, "children"),
          Output(REFUSED, "children"), Output(REFUSED, "hidden"),
          *[Output(button, "disabled") for button in (*MUTE_BUTTONS, UNMUTE)],
          Input(INTERVAL, "n_intervals"), Input(VERSION, "data"), Input(BROWSER_TZ, "data"))
def _refresh(_ticks, _version, tz_name):
    services = current()
    tz = zone(tz_name)
    store = AlertStore(services.store.engine)
    now = time.time()
    seen = overview(store, services.settings, now)
    rules = seen["rules"]
    objects = {rule.name: rule for rule in store.rules(services.settings)}
    refused = _mute_refused(services)
    base = dash.get_relative_path("/")
    return (_pills(counts(rules)), grid_rows(rules), bool(rules),
            {"width": "100%"} if rules else {"display": "none"},
            [{"label": rule["name"], "value": rule["name"]} for rule in rules],
            _active_list(rules, objects, base),
            _table(store.history(limit=100), HISTORY_COLUMNS, "No alert history",
                   "Each time a rule fires or resolves, it is written here.", tz),
            _table(seen["delivery_failures"], FAILURE_COLUMNS, "No failed deliveries",
                   "A notification given up after its retries is listed here.", tz),
            refused or "", not refused, *([bool(refused)] * (len(MUTE_BUTTONS) + 1)))


def _mute_refused(services) -> str | None:
    """Why this request may not mute (read-only, a viewer), or None."""
    if services.settings.read_only:
        return services.actions_refused()
    if not may("operator"):
        return f"{services.actions_refused()}: muting needs operator"
    return None


@callback(Output(TOAST, "data", allow_duplicate=True), Output(VERSION, "data"),
          *MODAL.ask_outputs(),
          *[Input(button, "n_clicks") for button in (*MUTE_BUTTONS, UNMUTE, DELETE)],
          Input(MODAL.ok, "n_clicks"),
          State(RULE, "value"), State(VERSION, "data"), State(MODAL.pending, "data"),
          prevent_initial_call=True)
def _act(*args):
    rule, version, pending = args[-3:]
    keep = (no_update,) * len(MODAL.ask_outputs())
    if not ctx.triggered or not ctx.triggered[0]["value"]:
        return no_update, no_update, *keep
    trigger = ctx.triggered_id
    services = current()
    if trigger == MODAL.ok:
        if not pending or pending.get("page") != "alerts":
            return no_update, no_update, *keep
        try:
            message = _run(services, pending)
        except (ControlError, ValueError) as exc:
            return toast(str(exc), "error"), version + 1, *keep
        return toast(message, "ok"), version + 1, *keep
    if not rule:
        return toast("Choose a rule first", "error"), no_update, *keep
    if trigger == DELETE:
        asked = MODAL.ask("Delete", [rule], {"page": "alerts", "action": "delete",
                                             "rule": rule}, danger=True, noun="alert rule",
                          detail="Its alerts and mute go with it.")
    elif trigger == UNMUTE:
        asked = MODAL.ask("Unmute", [rule], {"page": "alerts", "action": "unmute",
                                             "rule": rule}, noun="alert rule")
    else:
        minutes = MUTE_BUTTONS[trigger]
        asked = MODAL.ask(f"Mute for {minutes // 60} h", [rule],
                          {"page": "alerts", "action": "mute", "rule": rule,
                           "minutes": minutes}, noun="alert rule",
                          detail="Its alerts still change state; nothing is sent.")
    return no_update, no_update, *asked


def _run(services, pending: dict) -> str:
    rule = str(pending["rule"])
    if pending["action"] == "mute":
        editing.mute(services, rule, pending["minutes"], "muted on the /alerts page")
        return f"Muted {rule} for {pending['minutes'] // 60} h"
    if pending["action"] == "unmute":
        return f"Unmuted {rule}" if editing.unmute(services, rule) else f"{rule} was not muted"
    editing.delete_rule(services, rule)
    return f"Deleted {rule}"


@callback(Output(FORM_BOX, "hidden"), Output(EDITING, "data"),
          *[Output(FORM[key], "value") for key in editing.FORM_FIELDS],
          Output(FORM_ERROR, "children", allow_duplicate=True),
          Output(FORM_ERROR, "hidden", allow_duplicate=True),
          Input(NEW, "n_clicks"), Input(EDIT, "n_clicks"), State(RULE, "value"),
          prevent_initial_call=True)
def _open_form(_new, _edit, rule_name):
    if not ctx.triggered or not ctx.triggered[0]["value"]:
        return (no_update,) * (len(editing.FORM_FIELDS) + 4)
    blank = [None] * len(editing.FORM_FIELDS)
    if ctx.triggered_id == NEW:
        return False, None, *blank, "", True
    services = current()
    rule = editing.find_rule(services, rule_name) if rule_name else None
    if rule is None or rule.source != "page":
        problem = ("Choose a rule made on this page" if rule is None else
                   f"{rule.name} is defined in the config file; change it there")
        return True, None, *blank, problem, False
    table = rule.table()
    values = [", ".join(table.get(key, [])) if key == "notify" else table.get(key)
              for key in editing.FORM_FIELDS]
    return False, rule.name, *[None if value is None else str(value) for value in values], \
        "", True


@callback(Output(FORM_ERROR, "children"), Output(FORM_ERROR, "hidden"),
          Output(FORM_BOX, "hidden", allow_duplicate=True),
          Output(TOAST, "data", allow_duplicate=True),
          Output(VERSION, "data", allow_duplicate=True),
          Input(SAVE, "n_clicks"), State(EDITING, "data"), State(VERSION, "data"),
          *[State(FORM[key], "value") for key in editing.FORM_FIELDS],
          prevent_initial_call=True)
def _save(clicks, editing_name, version, *values):
    if not clicks:
        return (no_update,) * 5
    services = current()
    table = editing.table_from_form(dict(zip(editing.FORM_FIELDS, values, strict=True)))
    try:
        if editing_name:
            existing = editing.find_rule(services, editing_name)
            kept = {key: value for key, value in (existing.table() if existing else {}).items()
                    if key not in editing.FORM_FIELDS}  # labels, cooldown, renotify
            saved = editing.update_rule(services, editing_name, {**kept, **table})
        else:
            saved = editing.create_rule(services, table)
    except (RuleError, ControlError, ValueError) as exc:
        return str(exc), False, no_update, no_update, no_update
    parse_rule(saved.table(), source="page")  # what was stored reads back
    return "", True, True, toast(f"Saved {saved.name}", "ok"), version + 1
