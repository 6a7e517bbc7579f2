"""What the /alerts page and GET /api/alerts show: every rule with its definition, its
state (the worst of its alerts), its alerts, its mute; recent failed deliveries; and the
grid's flat rows. Read from the store, so every web process shows the same."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .rules import SCOPE_KEYS, Rule
from .state_store import AlertStore
from .states import FIRING, SEVERITY, AlertState, active, summary

FAILURES_SHOWN = 50  # failed deliveries listed


def _alert(state: AlertState) -> dict[str, Any]:
    return {"labels": dict(state.labels), "state": state.state, "value": state.value,
            "threshold": state.threshold, "active_since": state.active_since,
            "fired_at": state.fired_at}


def rule_view(rule: Rule, states: Mapping[str, AlertState],
              mute: Mapping[str, Any] | None) -> dict[str, Any]:
    """One rule as the API answers it; its alerts worst first, then oldest first."""
    alerts = sorted(active(states).values(),
                    key=lambda state: (-SEVERITY[state.state], state.active_since))
    return {"name": rule.name, "kind": rule.kind, "source": rule.source,
            "description": rule.description, "definition": rule.table(),
            "state": summary(states), "alerts": [_alert(state) for state in alerts],
            "mute": None if mute is None else {key: mute[key]
                                               for key in ("until", "by", "reason")},
            "notify": list(rule.notify)}


def overview(store: AlertStore, settings: Any, now: float) -> dict[str, Any]:
    """Every rule (the config file's, then the page's) and recent failed deliveries."""
    rules = store.rules(settings)
    states = store.states()
    mutes = store.mutes(now)
    return {"rules": [rule_view(rule, states.get(rule.name, {}), mutes.get(rule.name))
                      for rule in rules],
            "delivery_failures": store.deliveries(limit=FAILURES_SHOWN, failed_only=True)}


def counts(rules: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Rules firing, pending (unmuted) and muted, for the page header."""
    result = {"firing": 0, "pending": 0, "muted": 0}
    for rule in rules:
        if rule["mute"] is not None:
            result["muted"] += 1
        elif rule["state"] in result:
            result[rule["state"]] += 1
    return result


def shown_state(rule: Mapping[str, Any]) -> str:
    """The state the grid shows: "muted" over any other."""
    return "muted" if rule["mute"] is not None else rule["state"]


def grid_rows(rules: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One flat row per rule for the rules grid: every value is text or a number."""
    rows = []
    for rule in rules:
        table = rule["definition"]
        worst = rule["alerts"][0] if rule["alerts"] else None
        scope = ", ".join(f"{key}={table[key]}" for key in SCOPE_KEYS if key in table)
        rows.append({
            "name": rule["name"], "kind": rule["kind"], "scope": scope or "all",
            "threshold": table.get("threshold"), "window": _duration_text(table["window"]),
            "for": _duration_text(table["for"]), "state": shown_state(rule),
            "value": worst["value"] if worst else None,
            "since": (worst["fired_at"] if worst["state"] == FIRING else worst["active_since"])
            if worst else None,
            "alerts": len(rule["alerts"]), "notify": ", ".join(rule["notify"]),
            "source": rule["source"],
            "muted_until": rule["mute"]["until"] if rule["mute"] else None,
        })
    return rows


def _duration_text(value: str | float) -> str:
    return value if isinstance(value, str) else f"{value:g}s"
