"""The OpenAPI paths of alerts: rules with their state, history, mutes and the page's rules
(merged into openapi.py's PATHS)."""
from __future__ import annotations

from typing import Any

from ..alerts.editing import MAX_MUTE_MINUTES, MAX_REASON
from ..alerts.rules import KINDS
from .openapi_schemas import _json, _operation, _param, _path, _responses

Schema = dict[str, Any]
_NUMBER = {"type": "number", "nullable": True}
_LABELS = {"type": "object", "additionalProperties": {"type": "string"}}
RULE_TABLE: Schema = {
    "type": "object", "required": ["name", "kind"],
    "description": "A rule as a config-file [[alerts]] table: durations as \"30s\", \"5m\", "
                   "\"2h\", \"1d\" or seconds.",
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "kind": {"type": "string", "enum": list(KINDS)},
        "threshold": {"description": "A number; a duration for the latency, stuck, runtime "
                                     "and dead man's switch kinds. None for worker_offline, "
                                     "no_consumer and orphaned."},
        "window": {"description": "A duration (default 5m)."},
        "min_count": {"type": "integer", "minimum": 1},
        "for": {"description": "A duration the condition must hold before firing (0)."},
        "task": {"type": "string"}, "queue": {"type": "string"}, "worker": {"type": "string"},
        "labels": _LABELS,
        "cooldown": {"description": "Least time between two firing notifications (5m)."},
        "renotify": {"description": "Repeat the notification while firing, this often."},
        "notify": {"type": "array", "items": {"type": "string"}},
        "description": {"type": "string"}}}
ALERT: Schema = {"type": "object", "properties": {
    "labels": _LABELS, "state": {"type": "string", "enum": ["pending", "firing"]},
    "value": _NUMBER, "threshold": _NUMBER, "active_since": {"type": "number"},
    "fired_at": _NUMBER}}
MUTE: Schema = {"type": "object", "nullable": True, "properties": {
    "until": {"type": "number"}, "by": {"type": "string"}, "reason": {"type": "string"}}}
DELIVERY: Schema = {"type": "object", "properties": {
    "id": {"type": "integer"}, "at": {"type": "number"}, "rule": {"type": "string"},
    "notifier": {"type": "string"}, "status": {"type": "string"}, "ok": {"type": "boolean"},
    "attempts": {"type": "integer"}, "error": {"type": "string"}}}
OVERVIEW: Schema = {"type": "object", "properties": {
    "rules": {"type": "array", "items": {"type": "object", "properties": {
        "name": {"type": "string"}, "kind": {"type": "string", "enum": list(KINDS)},
        "source": {"type": "string", "enum": ["file", "page"]},
        "description": {"type": "string"}, "definition": RULE_TABLE,
        "state": {"type": "string", "enum": ["ok", "pending", "firing"]},
        "alerts": {"type": "array", "items": ALERT}, "mute": MUTE,
        "notify": {"type": "array", "items": {"type": "string"}}}}},
    "delivery_failures": {"type": "array", "items": DELIVERY}}}
HISTORY: Schema = {"type": "object", "properties": {"history": {"type": "array", "items": {
    "type": "object", "properties": {
        "id": {"type": "integer"}, "at": {"type": "number"}, "rule": {"type": "string"},
        "labels": _LABELS, "status": {"type": "string", "enum": ["firing", "resolved"]},
        "value": _NUMBER, "threshold": _NUMBER, "started_at": {"type": "number"}}}}}}
RULE_ANSWER: Schema = {"type": "object", "properties": {
    "name": {"type": "string"}, "source": {"type": "string"}, "definition": RULE_TABLE}}
_RULE = _path("rule", "The rule's name (it may hold spaces and slashes).")
_CONFLICT = " 409 when the name is in use or the config file defines the rule."


def _body(schema: Schema) -> Schema:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


ALERT_PATHS: dict[str, dict[str, Schema]] = {
    "/api/alerts": {"get": _operation(
        "api.alerts_json", "monitoring",
        "Every alert rule with its state, alerts, mute and notifiers; failed deliveries",
        _responses(_json("Rules and failed deliveries.", OVERVIEW), 503))},
    "/api/alerts/history": {"get": _operation(
        "api.alerts_history", "monitoring", "What fired and resolved, newest first",
        _responses(_json("History rows.", HISTORY), 400, 503),
        (_param("rule", {"type": "string"}, "Only this rule's."),
         _param("since", {"type": "string"}, "Start: epoch seconds, ISO-8601, or a duration "
                                             "ago such as 24h."),
         _param("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 200},
                "Rows.")))},
    "/api/alerts/{rule}/mute": {
        "post": _operation(
            "api.alert_mute", "monitoring",
            "Mute a rule for a while (operator): alerts change state, nothing is sent",
            _responses(_json("The mute.", MUTE), 400, 403, 404, 503), (_RULE,),
            _body({"type": "object", "required": ["minutes"], "properties": {
                "minutes": {"type": "number", "minimum": 1, "maximum": MAX_MUTE_MINUTES},
                "reason": {"type": "string", "maxLength": MAX_REASON}}})),
        "delete": _operation(
            "api.alert_unmute", "monitoring", "End a rule's mute (operator)",
            _responses(_json("Whether it was muted.", {"type": "object", "properties": {
                "rule": {"type": "string"}, "unmuted": {"type": "boolean"}}}),
                403, 404, 503), (_RULE,))},
    "/api/alerts/rules": {"post": _operation(
        "api.alert_rule_create", "monitoring",
        "Make an alert rule (admin); 400 names the table's problem." + _CONFLICT,
        _responses(_json("The rule as stored.", RULE_ANSWER), 400, 403, 409, 503),
        body=_body(RULE_TABLE))},
    "/api/alerts/rules/{rule}": {
        "put": _operation(
            "api.alert_rule_update", "monitoring",
            "Replace a rule made on the page (admin); another name renames it." + _CONFLICT,
            _responses(_json("The rule as stored.", RULE_ANSWER), 400, 403, 404, 409, 503),
            (_RULE,), _body(RULE_TABLE)),
        "delete": _operation(
            "api.alert_rule_delete", "monitoring",
            "Delete a rule made on the page, its alerts and mute (admin)." + _CONFLICT,
            _responses(_json("What went.", {"type": "object", "properties": {
                "deleted": {"type": "string"}}}), 403, 404, 409, 503), (_RULE,))},
}
