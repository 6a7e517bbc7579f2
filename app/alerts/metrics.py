"""Alerts in /metrics: which rules fire, deliveries given up per notifier, and what the last
evaluation round cost. Read from the store at scrape time (a few small, indexed queries),
so every web replica serves the same figures as the collector's own process.

The round's cost is written by the evaluator into the store's `shared_state` table (kind
"alerts"), the table web replicas already read the collector's news from.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

import orjson
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from ..store.schema import alert_deliveries, alert_states, shared_state
from .state_store import AlertStore, notifier_names

_KIND, _NAME = "alerts", "evaluation"


@dataclass(frozen=True)
class RoundCost:
    at: float  # epoch seconds, when the round evaluated
    seconds: float  # wall time of the round
    cpu_seconds: float  # CPU time of the evaluator's thread in it
    rules: int


def publish_round(engine: Engine, cost: RoundCost) -> None:
    """Keep the last round's cost for every process that serves /metrics."""
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    insert = dialect.insert(shared_state)
    statement = insert.on_conflict_do_update(
        index_elements=[shared_state.c.kind, shared_state.c.name, shared_state.c.field],
        set_={"value": insert.excluded.value, "updated_at": insert.excluded.updated_at})
    with engine.begin() as connection:
        connection.execute(statement, {"kind": _KIND, "name": _NAME, "field": "",
                                       "value": orjson.dumps(asdict(cost)).decode(),
                                       "updated_at": cost.at})


def last_round(engine: Engine) -> RoundCost | None:
    query = select(shared_state.c.value).where(shared_state.c.kind == _KIND,
                                               shared_state.c.name == _NAME)
    with engine.connect() as connection:
        value = connection.execute(query).scalar()
    return None if value is None else RoundCost(**orjson.loads(value))


def firing_rules(engine: Engine) -> dict[str, int]:
    """rule -> alerts firing now (alert_states holds a few rows per rule)."""
    query = (select(alert_states.c.rule, func.count()).where(alert_states.c.state == "firing")
             .group_by(alert_states.c.rule))
    with engine.connect() as connection:
        return {rule: int(count) for rule, count in connection.execute(query)}


def failed_deliveries(engine: Engine) -> dict[str, int]:
    """notifier -> deliveries given up, over the deliveries kept (retention prunes them, as a
    counter reset Prometheus' rate() handles)."""
    query = (select(alert_deliveries.c.notifier, func.count())
             .where(alert_deliveries.c.ok == 0).group_by(alert_deliveries.c.notifier))
    with engine.connect() as connection:
        return {notifier: int(count) for notifier, count in connection.execute(query)}


def alert_families(rule_names: Iterable[str], firing: dict[str, int],
                   failures: dict[str, int], notifier_names: Iterable[str],
                   cost: RoundCost | None) -> Iterator[Metric]:
    """The alert families from what the store holds: every rule's 1/0, every notifier's
    given-up deliveries (0 for those with none), the last round's duration."""
    alert_firing = GaugeMetricFamily("celery_scope_alert_firing",
                                     "1 while an alert of the rule fires", labels=["rule"])
    for rule in dict.fromkeys([*rule_names, *firing]):
        alert_firing.add_metric([rule], int(firing.get(rule, 0) > 0))
    yield alert_firing
    given_up = CounterMetricFamily("celery_scope_alert_deliveries_failed",
                                   "Alert notifications given up after their retries",
                                   labels=["notifier"])
    for notifier in dict.fromkeys([*notifier_names, *failures]):
        given_up.add_metric([notifier], failures.get(notifier, 0))
    yield given_up
    duration = GaugeMetricFamily("celery_scope_alert_evaluation_seconds",
                                 "Wall time of the last alert evaluation round")
    cpu = GaugeMetricFamily("celery_scope_alert_evaluation_cpu_seconds",
                            "CPU time the evaluator spent in its last round")
    if cost is not None:
        duration.add_metric([], cost.seconds)
        cpu.add_metric([], cost.cpu_seconds)
    yield duration
    yield cpu


def store_alert_families(engine: Engine, settings: Any) -> list[Metric]:
    """The alert families as the store holds them now (raises what the store raises)."""
    rules = [rule.name for rule in AlertStore(engine).rules(settings)]
    return list(alert_families(rules, firing_rules(engine), failed_deliveries(engine),
                               notifier_names(settings), last_round(engine)))
