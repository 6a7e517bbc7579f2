"""/api/alerts: every rule with its state, its alerts and its mute; the history of what
fired and resolved; muting (operator) and the page's rules (admin), through the same
functions as the /alerts page (alerts/editing.py), with their refusals as JSON: 403
read-only or a role that may not, 404 an unknown rule, 400 bad input (a rule's problem in
one line), 409 a name in use or a rule the config file defines."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from flask import request

from ..alerts import editing
from ..alerts.overview import overview
from ..alerts.rules import Rule, RuleError
from ..alerts.state_store import AlertStore
from ..auth.roles import Forbidden
from ..query_string import FilterError, parse_time
from ..services import current
from . import api
from .flower import ApiError, arg, as_json, number_arg

HISTORY_MAX = 1000  # rows in one answer
_STATUS = ((Forbidden, 403), (editing.UnknownRule, 404), (editing.RuleConflict, 409),
           (RuleError, 400), (editing.InvalidMute, 400))


def _answer(act: Callable[[], Any]):
    try:
        return as_json(act())
    except tuple(kind for kind, _ in _STATUS) as exc:
        status = next(code for kind, code in _STATUS if isinstance(exc, kind))
        raise ApiError(str(exc), status) from None


def _body() -> dict[str, Any]:
    body = request.get_json(force=True, silent=True) if request.get_data(cache=True).strip() \
        else {}
    if not isinstance(body, dict):
        raise ApiError("the body must be a JSON object")
    return body


def _store() -> AlertStore:
    return AlertStore(current().store.engine)


@api.get("/api/alerts")
def alerts_json():
    """Every rule with its definition, state, alerts, mute and notifiers; failed deliveries."""
    services = current()
    return as_json(overview(_store(), services.settings, time.time()))


@api.get("/api/alerts/history")
def alerts_history():
    """What fired and resolved, newest first."""
    since_text = arg("since")
    try:
        since = parse_time("since", since_text) if since_text else None
    except FilterError as exc:
        raise ApiError(str(exc)) from None
    limit = number_arg("limit", int, 200, minimum=1, maximum=HISTORY_MAX)
    rule = arg("rule")
    return as_json({"history": _store().history(since=since, rule=rule, limit=limit)})


@api.post("/api/alerts/<text:rule>/mute")
def alert_mute(rule: str):
    """Mute a rule for `minutes`, with a `reason` (operator)."""
    body = _body()
    return _answer(lambda: editing.mute(current(), rule, body.get("minutes"),
                                        body.get("reason", "")))


@api.delete("/api/alerts/<text:rule>/mute")
def alert_unmute(rule: str):
    """End a rule's mute (operator)."""
    return _answer(lambda: {"rule": rule, "unmuted": editing.unmute(current(), rule)})


@api.post("/api/alerts/rules")
def alert_rule_create():
    """Make a page rule from a config-file table as JSON (admin)."""
    body = _body()
    return _answer(lambda: _rule_answer(editing.create_rule(current(), body)))


@api.put("/api/alerts/rules/<text:rule>")
def alert_rule_update(rule: str):
    """Replace a page rule (admin); a different name in the body renames it."""
    body = _body()
    return _answer(lambda: _rule_answer(editing.update_rule(current(), rule, body)))


@api.delete("/api/alerts/rules/<text:rule>")
def alert_rule_delete(rule: str):
    """Delete a page rule with its alerts and mute (admin)."""
    def delete() -> dict[str, Any]:
        editing.delete_rule(current(), rule)
        return {"deleted": rule}

    return _answer(delete)


def _rule_answer(rule: Rule) -> dict[str, Any]:
    return {"name": rule.name, "source": rule.source, "definition": rule.table()}
