"""Changing alerts from the page or the API: muting a rule for a while (operator), and
making, changing and deleting the page's rules (admin). Rules from the config file are
changed only there.

Pages and the API call these same functions, so both pass the same gates in the same order
— read-only, role, the rule exists (or its name is free), the input is valid — and every
call, refused or not, leaves one audit record under the API route's endpoint name (so a
refusal the API's own gate makes before the route runs lands under the same name).
Read-only mode refuses these too: a mute changes what the cluster's operators are told,
and the API's read-only rule refuses every request that is not a read.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from typing import Any

from ..auth.gated_action import gated_action
from ..auth.users import current_user
from ..broker.gate import ControlError
from ..services import Services
from .rules import Rule, RuleError, parse_rule
from .state_store import AlertStore, notifier_names

MUTE, UNMUTE = "alert_mute", "alert_unmute"
CREATE, UPDATE, DELETE = "alert_rule_create", "alert_rule_update", "alert_rule_delete"
MAX_MUTE_MINUTES = 30 * 24 * 60  # a month; longer is what deleting the rule is for
MAX_REASON = 500  # characters
MUTE_CHOICES = (60, 240, 1440)  # minutes the page offers: 1 h, 4 h, 24 h


class UnknownRule(ControlError):
    def __init__(self, name: str):
        super().__init__(f"unknown alert rule {name!r}")


class RuleConflict(ControlError):
    """The name is taken, or the rule lives in the config file."""


class InvalidMute(ValueError):
    """Minutes or reason that cannot make a mute."""


def _user() -> str:
    user = current_user()
    return user.name if user else "anonymous"


def _gated(services: Services, action: str, target: str, role: str,
           act: Callable[[], tuple[Any, str]], params: Mapping[str, Any]) -> Any:
    """Read-only, role; then `act`, which checks its target and input (a ValueError is a
    refusal too: the input the form or the API gave)."""
    return gated_action(services, action, target, role, act, verb=_verb(action),
                        params=params, refusals=(ControlError, ValueError))


def _verb(action: str) -> str:
    return {MUTE: "mute an alert rule", UNMUTE: "unmute an alert rule",
            CREATE: "make alert rules", UPDATE: "change alert rules",
            DELETE: "delete alert rules"}[action]


def find_rule(services: Services, name: str) -> Rule | None:
    """The rule named `name` (the config file's or the page's), or None."""
    store = AlertStore(services.store.engine)
    return next((rule for rule in store.rules(services.settings) if rule.name == name), None)


def mute_minutes(value: Any) -> float:
    """Minutes of a mute from a request: a number from 1 to MAX_MUTE_MINUTES."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or not 1 <= value <= MAX_MUTE_MINUTES:
        raise InvalidMute(f"minutes must be a number from 1 to {MAX_MUTE_MINUTES}, "
                          f"got {value!r}")
    return float(value)


def mute(services: Services, name: str, minutes: Any, reason: Any = "",
         now: float | None = None) -> dict[str, Any]:
    """Mute rule `name` for `minutes` (operator): its alerts still change state and are
    kept in the history, but nothing is sent until the mute ends. The mute as stored."""
    params = {"minutes": minutes, "reason": reason}

    def act() -> tuple[dict[str, Any], str]:
        if find_rule(services, name) is None:
            raise UnknownRule(name)
        length = mute_minutes(minutes)
        if not isinstance(reason, str) or len(reason) > MAX_REASON:
            raise InvalidMute(f"reason must be text of at most {MAX_REASON} characters")
        until = (time.time() if now is None else now) + length * 60
        AlertStore(services.store.engine).mute(name, until, _user(), reason)
        return ({"rule": name, "until": until, "by": _user(), "reason": reason},
                f"muted for {length:g} min")

    return _gated(services, MUTE, name, "operator", act, params)


def unmute(services: Services, name: str) -> bool:
    """End rule `name`'s mute (operator); whether it had one."""
    def act() -> tuple[bool, str]:
        if find_rule(services, name) is None:
            raise UnknownRule(name)
        had = AlertStore(services.store.engine).unmute(name)
        return had, "unmuted" if had else "was not muted"

    return _gated(services, UNMUTE, name, "operator", act, {})


def _parsed(services: Services, table: Any) -> Rule:
    if not isinstance(table, Mapping):
        raise RuleError(f"a rule is a JSON object (a config-file table), got "
                        f"{type(table).__name__}")
    return parse_rule(table, source="page", known_notifiers=notifier_names(services.settings))


def _check_free(services: Services, name: str) -> None:
    store = AlertStore(services.store.engine)
    if any(rule.name == name and rule.source == "file"
           for rule in store.rules(services.settings)):
        raise RuleConflict(f"alert rule {name!r} is defined in the config file; "
                           "change it there")
    if name in store.page_rule_names():
        raise RuleConflict(f"an alert rule named {name!r} exists already")


def _check_page_rule(services: Services, name: str) -> None:
    store = AlertStore(services.store.engine)
    rule = find_rule(services, name)
    if rule is not None and rule.source == "file":
        raise RuleConflict(f"alert rule {name!r} is defined in the config file; "
                           "change it there")
    if name not in store.page_rule_names():
        raise UnknownRule(name)


def create_rule(services: Services, table: Any) -> Rule:
    """Add a page rule from its table (admin); a name in use is a RuleConflict."""
    target = str(table.get("name", "")) if isinstance(table, Mapping) else ""

    def act() -> tuple[Rule, str]:
        rule = _parsed(services, table)
        _check_free(services, rule.name)
        AlertStore(services.store.engine).save_rule(rule, _user())
        return rule, f"made a {rule.kind} rule"

    return _gated(services, CREATE, target, "admin", act, _table_params(table))


def update_rule(services: Services, name: str, table: Any) -> Rule:
    """Replace page rule `name` with `table` (admin). The table's name, when it differs,
    renames the rule (its alerts start afresh); a table without one keeps `name`."""
    def act() -> tuple[Rule, str]:
        _check_page_rule(services, name)
        given = {"name": name, **table} if isinstance(table, Mapping) else table
        rule = _parsed(services, given)
        store = AlertStore(services.store.engine)
        if rule.name != name:
            _check_free(services, rule.name)
            store.save_rule(rule, _user())
            store.delete_rule(name)
            return rule, f"renamed to {rule.name!r}"
        store.save_rule(rule, _user())
        return rule, "changed"

    return _gated(services, UPDATE, name, "admin", act, _table_params(table))


def delete_rule(services: Services, name: str) -> None:
    """Delete page rule `name` with its alerts and mute (admin)."""
    def act() -> tuple[None, str]:
        _check_page_rule(services, name)
        AlertStore(services.store.engine).delete_rule(name)
        return None, "deleted"

    _gated(services, DELETE, name, "admin", act, {})


def _table_params(table: Any) -> dict[str, Any]:
    return {"rule": dict(table)} if isinstance(table, Mapping) else {}


FORM_FIELDS = ("name", "kind", "threshold", "window", "for", "min_count", "task", "queue",
               "worker", "notify", "description")


def table_from_form(values: Mapping[str, Any]) -> dict[str, Any]:
    """The rule table the /alerts page's form describes: empty fields are left out (so the
    rule's defaults apply), a number typed as text is a number, notifiers are separated by
    commas. Parsing it (create_rule, update_rule) judges the rest."""
    table: dict[str, Any] = {}
    for key in FORM_FIELDS:
        value = values.get(key)
        if isinstance(value, str):
            value = value.strip() if key != "description" else value
        if value is None or value == "":
            continue
        if key == "notify":
            table[key] = [name.strip() for name in str(value).split(",") if name.strip()]
        elif key in ("threshold", "window", "for", "min_count") and isinstance(value, str):
            table[key] = _number(value, whole=key == "min_count")
        else:
            table[key] = value
    return table


def _number(text: str, whole: bool) -> Any:
    """A number typed as text; a duration or other text is kept for the parser to judge."""
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if whole and number.is_integer() else number
