"""The alert tables of the store: rules made on the page, each rule's states, the history
of what fired and resolved, mutes, and deliveries.

The leading collector's evaluator writes states, history and deliveries; web processes
write only page rules and mutes. Every statement is plain SQLAlchemy Core that SQLite and
PostgreSQL both run; JSON columns hold text only.
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Collection, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Engine

from ..store.schema import alert_deliveries, alert_history, alert_mutes, alert_rules, alert_states
from .rules import Rule, RuleError, parse_rule, parse_rules
from .states import AlertState, Transition

if TYPE_CHECKING:
    from .delivery import Delivery

log = logging.getLogger(__name__)

HISTORY_LIMIT = 200  # rows history() returns unless asked for fewer or more
DELIVERIES_LIMIT = 100


def notifier_names(settings: Any) -> list[str]:
    """The names of the config file's notifiers (the only ones a rule may notify)."""
    return [str(table.get("name")) for table in settings.notifiers
            if isinstance(table, Mapping) and table.get("name")]


class AlertStore:
    def __init__(self, engine: Engine):
        self.engine = engine

    # -- rules -----------------------------------------------------------------------------
    def page_rules(self) -> list[Rule]:
        """The rules made on the page, by name. One whose stored table no longer parses is
        skipped with a warning (it cannot be evaluated; it stays in the table to be edited)."""
        rules = []
        with self.engine.connect() as connection:
            rows = connection.execute(select(alert_rules.c.name, alert_rules.c.definition)
                                      .order_by(alert_rules.c.name)).all()
        for name, definition in rows:
            try:
                rules.append(parse_rule(json.loads(definition), source="page"))
            except (RuleError, ValueError) as exc:
                log.warning("page rule %r is not evaluated: %s", name, exc)
        return rules

    def rules(self, settings: Any) -> list[Rule]:
        """Every rule: the config file's (`settings.alerts`), then the page's. A page rule
        may not take a file rule's name; one that does is skipped with a warning."""
        file_rules = list(parse_rules(settings.alerts, source="file",
                                      known_notifiers=notifier_names(settings)))
        taken = {rule.name for rule in file_rules}
        page_rules = []
        for rule in self.page_rules():
            if rule.name in taken:
                log.warning("page rule %r is not evaluated: the config file defines a rule "
                            "of that name", rule.name)
            else:
                page_rules.append(rule)
        return file_rules + page_rules

    def page_rule_names(self) -> set[str]:
        """The names in the page rules' table, parsed or not."""
        with self.engine.connect() as connection:
            return set(connection.execute(select(alert_rules.c.name)).scalars())

    def save_rule(self, rule: Rule, username: str) -> None:
        """Insert or replace a page rule (stored as its config-file table)."""
        row = {"name": rule.name, "definition": json.dumps(rule.table(), sort_keys=True),
               "updated_at": time.time(), "updated_by": str(username)}
        with self.engine.begin() as connection:
            changed = connection.execute(update(alert_rules)
                                         .where(alert_rules.c.name == rule.name), row).rowcount
            if not changed:
                connection.execute(insert(alert_rules), row)

    def delete_rule(self, name: str) -> bool:
        """Delete a page rule with its states and mute; whether it existed."""
        with self.engine.begin() as connection:
            deleted = connection.execute(delete(alert_rules)
                                         .where(alert_rules.c.name == name)).rowcount
            connection.execute(delete(alert_states).where(alert_states.c.rule == name))
            connection.execute(delete(alert_mutes).where(alert_mutes.c.rule == name))
        return bool(deleted)

    # -- states and history ----------------------------------------------------------------
    def states(self) -> dict[str, dict[str, AlertState]]:
        """rule -> labels_key -> state, resolved ones (kept for their cooldown) included."""
        result: dict[str, dict[str, AlertState]] = {}
        with self.engine.connect() as connection:
            rows = connection.execute(select(alert_states)).mappings().all()
        for row in rows:
            state = AlertState(row["rule"], json.loads(row["labels"]), row["labels_key"],
                               row["state"], row["value"], row["threshold"],
                               row["active_since"], row["fired_at"], row["notified_at"])
            result.setdefault(state.rule, {})[state.labels_key] = state
        return result

    def apply(self, rule_name: str, states: Mapping[str, AlertState],
              transitions: Iterable[Transition]) -> None:
        """One evaluation's outcome, in one transaction: the rule's states replaced, its
        transitions appended to the history (repeat notifications are not changes, and are
        not appended)."""
        now = time.time()
        state_rows = [{"rule": rule_name, "labels_key": key,
                       "labels": json.dumps(dict(state.labels), sort_keys=True),
                       "state": state.state, "value": state.value,
                       "threshold": state.threshold, "active_since": state.active_since,
                       "fired_at": state.fired_at, "notified_at": state.notified_at,
                       "updated_at": now} for key, state in states.items()]
        history_rows = [{"at": transition.at, "rule": rule_name,
                         "labels": json.dumps(dict(transition.labels), sort_keys=True),
                         "status": transition.status, "value": transition.value,
                         "threshold": transition.threshold,
                         "started_at": transition.started_at}
                        for transition in transitions if not transition.repeat]
        with self.engine.begin() as connection:
            connection.execute(delete(alert_states).where(alert_states.c.rule == rule_name))
            if state_rows:
                connection.execute(insert(alert_states), state_rows)
            if history_rows:
                connection.execute(insert(alert_history), history_rows)

    def drop_states(self, keep: Collection[str]) -> None:
        """Delete the states of every rule not named in `keep` (rules deleted or renamed)."""
        with self.engine.begin() as connection:
            names = set(connection.execute(select(alert_states.c.rule).distinct()).scalars())
            gone = sorted(names - set(keep))
            if gone:
                connection.execute(delete(alert_states).where(alert_states.c.rule.in_(gone)))

    def history(self, since: float | None = None, rule: str | None = None,
                limit: int = HISTORY_LIMIT) -> list[dict[str, Any]]:
        """Transitions, newest first: id, at, rule, labels, status, value, threshold,
        started_at."""
        query = select(alert_history).order_by(alert_history.c.at.desc(),
                                               alert_history.c.id.desc()).limit(limit)
        if since is not None:
            query = query.where(alert_history.c.at >= since)
        if rule is not None:
            query = query.where(alert_history.c.rule == rule)
        with self.engine.connect() as connection:
            rows = connection.execute(query).mappings().all()
        return [{**row, "labels": json.loads(row["labels"])} for row in rows]

    # -- mutes -----------------------------------------------------------------------------
    def mute(self, rule: str, until: float, username: str, reason: str) -> None:
        """Mute `rule` until `until` (epoch seconds), replacing any mute it had."""
        row = {"rule": rule, "until": until, "username": str(username), "reason": str(reason),
               "created": time.time()}
        with self.engine.begin() as connection:
            connection.execute(delete(alert_mutes).where(alert_mutes.c.rule == rule))
            connection.execute(insert(alert_mutes), row)

    def unmute(self, rule: str) -> bool:
        """Whether `rule` had a mute (live or expired) to remove."""
        with self.engine.begin() as connection:
            return bool(connection.execute(delete(alert_mutes)
                                           .where(alert_mutes.c.rule == rule)).rowcount)

    def mutes(self, now: float) -> dict[str, dict[str, Any]]:
        """rule -> {until, by, reason, created} for the mutes still running at `now`."""
        with self.engine.connect() as connection:
            rows = connection.execute(select(alert_mutes)
                                      .where(alert_mutes.c.until > now)).mappings().all()
        return {row["rule"]: {"until": row["until"], "by": row["username"],
                              "reason": row["reason"], "created": row["created"]}
                for row in rows}

    # -- deliveries ------------------------------------------------------------------------
    def record_delivery(self, delivery: Delivery) -> None:
        with self.engine.begin() as connection:
            connection.execute(insert(alert_deliveries), {
                "at": delivery.at, "rule": delivery.rule, "notifier": delivery.notifier,
                "status": delivery.status, "ok": int(bool(delivery.ok)),
                "attempts": int(delivery.attempts), "error": str(delivery.error)})

    def deliveries(self, limit: int = DELIVERIES_LIMIT,
                   failed_only: bool = False) -> list[dict[str, Any]]:
        """Deliveries newest first: id, at, rule, notifier, status, ok, attempts, error."""
        query = select(alert_deliveries).order_by(alert_deliveries.c.at.desc(),
                                                  alert_deliveries.c.id.desc()).limit(limit)
        if failed_only:
            query = query.where(alert_deliveries.c.ok == 0)
        with self.engine.connect() as connection:
            rows = connection.execute(query).mappings().all()
        return [{**row, "ok": bool(row["ok"])} for row in rows]

    # -- retention -------------------------------------------------------------------------
    def prune(self, before: float) -> int:
        """Delete history and deliveries from before `before`, and mutes that ended before
        it; how many rows went."""
        with self.engine.begin() as connection:
            return sum(connection.execute(statement).rowcount for statement in (
                delete(alert_history).where(alert_history.c.at < before),
                delete(alert_deliveries).where(alert_deliveries.c.at < before),
                delete(alert_mutes).where(alert_mutes.c.until < before)))

