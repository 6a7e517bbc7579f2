"""The alert evaluator: a thread of the collector that, while this collector leads, measures
every rule every `alert_interval` seconds, steps its alerts (states.step), records the
outcome (AlertStore.apply) and hands each notification to the dispatcher.

Rules are read afresh each round (the config file's, then the page's), so an edit on the
/alerts page applies at the next round. A rule that fails (a query the store refuses, a bug)
is logged and skipped: its alerts stay as they were. A store that cannot be reached pauses
the round where it failed: nothing is resolved because a query did not answer, and the
next round picks up from the states kept in the store. A standby collector does not
evaluate; the one that takes the lead starts from those same states.

Each round's cost (wall and CPU seconds of this thread) is published for /metrics, and the
alert history and deliveries are pruned with the tasks' retention.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ..store.cache import Cache
from ..store.history import HistoryStore
from ..store.outage import is_unreachable, short_store_error
from .delivery import Dispatcher
from .links import alert_url
from .measures import Readings, measure
from .messages import AlertMessage
from .metrics import RoundCost, publish_round
from .notifiers import parse_notifiers
from .rules import Rule
from .state_store import AlertStore
from .states import Transition, step

log = logging.getLogger(__name__)

QUEUE_SAMPLES_KEPT = 3  # a queue sample counts while this many sample intervals old
PRUNE_SECONDS = 3600.0  # how often alert history and deliveries are pruned


class Leading(Protocol):
    leading: bool


@dataclass(frozen=True)
class RoundReport:
    """What one round did."""
    cost: RoundCost
    transitions: list[tuple[Rule, Transition]]
    failed: dict[str, str]  # rule -> why it was skipped
    paused: str | None  # the store's error, when the round stopped for it


class Evaluator:
    def __init__(self, store: HistoryStore, cache: Cache, settings: Any, leadership: Leading,
                 dispatcher: Dispatcher | None = None, clock: Callable[[], float] = time.time):
        self.store, self.cache, self.settings = store, cache, settings
        self.leadership = leadership
        self.alerts = AlertStore(store.engine)
        self.dispatcher = dispatcher or Dispatcher(parse_notifiers(settings.notifiers),
                                                   record=self.alerts.record_delivery)
        self.clock = clock
        self.watching_since = clock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alert-evaluator", daemon=True)
        self._pruned_at = 0.0
        self._paused: str | None = None
        self._failing: dict[str, str] = {}  # rule -> last error logged (logged once a spell)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        self.dispatcher.stop()

    def _run(self) -> None:
        while not self._stop.wait(self.settings.alert_interval):
            if not self.leadership.leading:
                continue
            try:
                self.evaluate()
            except Exception:  # noqa: BLE001 — a bug must not end evaluation
                log.exception("alert evaluation: unexpected error; carrying on")

    def evaluate(self, now: float | None = None) -> RoundReport:
        """One round over every rule at `now`."""
        started, cpu = time.perf_counter(), time.thread_time()
        now = self.clock() if now is None else now
        done: list[tuple[Rule, Transition]] = []
        failed: dict[str, str] = {}
        paused = None
        rules: list[Rule] = []
        try:
            rules = self.alerts.rules(self.settings)
            mutes = self.alerts.mutes(now)
            states = self.alerts.states()
            self.alerts.drop_states([rule.name for rule in rules])
            readings = Readings(self.store, self.cache, now,
                                QUEUE_SAMPLES_KEPT * self.settings.queue_sample_interval,
                                self.watching_since, self.settings.purge_offline_workers)
            for rule in rules:
                try:
                    done.extend((rule, transition) for transition in
                                self._step(rule, readings, states.get(rule.name, {}),
                                           rule.name in mutes, now))
                except Exception as exc:
                    if is_unreachable(exc):
                        raise
                    failed[rule.name] = self._rule_failed(rule, exc)
                else:
                    self._failing.pop(rule.name, None)
            self._prune(now)
        except Exception as exc:
            if not is_unreachable(exc):
                raise
            paused = short_store_error(exc)
            if self._paused is None:
                log.warning("alert evaluation paused: the store cannot be reached (%s); "
                            "alerts keep their states", paused)
        else:
            if self._paused is not None:
                log.info("alert evaluation resumes: the store answers again")
        self._paused = paused
        cost = RoundCost(at=now, seconds=time.perf_counter() - started,
                         cpu_seconds=time.thread_time() - cpu, rules=len(rules))
        if paused is None:
            self._publish(cost)
        return RoundReport(cost, done, failed, paused)

    def _step(self, rule: Rule, readings: Readings, current: Mapping[str, Any], muted: bool,
              now: float) -> list[Transition]:
        """Measure one rule, step its alerts, record them, then notify: a notification is
        sent only once its transition is in the store."""
        states, transitions = step(rule, current, measure(rule, readings), now, muted)
        if states != dict(current) or transitions:
            self.alerts.apply(rule.name, states, transitions)
        for transition in transitions:
            if transition.notify and rule.notify:
                self.dispatcher.send(rule.notify, self.message(rule, transition))
        return transitions

    def message(self, rule: Rule, transition: Transition) -> AlertMessage:
        resolved = transition.status == "resolved"
        return AlertMessage(
            rule=rule.name, status=transition.status, labels=dict(transition.labels),
            value=transition.value, threshold=transition.threshold,
            started_at=transition.started_at, ended_at=transition.at if resolved else None,
            url=alert_url(self.settings.public_base_url, rule, transition.labels,
                          transition.started_at),
            summary=summary_line(rule, transition), kind=rule.kind)

    def _rule_failed(self, rule: Rule, error: Exception) -> str:
        reason = short_store_error(error)
        if self._failing.get(rule.name) != reason:
            log.error("alert rule %r skipped: %s", rule.name, reason, exc_info=error)
        self._failing[rule.name] = reason
        return reason

    def _prune(self, now: float) -> None:
        if now - self._pruned_at < PRUNE_SECONDS:
            return
        self._pruned_at = now
        deleted = self.alerts.prune(now - self.settings.retention_days * 86400)
        if deleted:
            log.info("alerts: pruned %d history, delivery and mute rows", deleted)

    def _publish(self, cost: RoundCost) -> None:
        try:
            publish_round(self.store.engine, cost)
        except Exception as exc:  # noqa: BLE001 — a figure for /metrics: never stop a round
            log.warning("could not publish the alert round's cost: %s", short_store_error(exc))


def _number(value: float | None, kind: str) -> str:
    if value is None:
        return "unknown"
    if kind == "failure_ratio":
        return f"{value:.0%}"
    if kind in ("queue_latency", "runtime_p95", "dead_mans_switch", "worker_offline",
                "stuck_started"):
        return f"{value:.1f} s" if value < 120 else f"{value / 60:.1f} min"
    return f"{value:g}"


_WHAT = {
    "failure_ratio": "failure ratio {value} over the last {window}",
    "failure_count": "{value} failed over the last {window}",
    "runtime_p95": "95th percentile runtime {value} over the last {window}",
    "stuck_started": "{count} task(s) running for more than {threshold}",
    "orphaned": "{count} task(s) orphaned by their worker going offline in the last {window}",
    "dead_mans_switch": "no success for {value}",
    "queue_latency": "oldest message waiting {value}",
    "queue_depth": "{value} messages waiting",
    "no_consumer": "{count} message(s) waiting and no online worker consumes it",
    "worker_offline": "offline, last heard from {value} ago",
}


def summary_line(rule: Rule, transition: Transition) -> str:
    """One plain-text line: what is alerting, and its figure against the threshold."""
    subject = ", ".join(f"{key} {value}" for key, value in sorted(transition.labels.items())
                        if key in ("task", "queue", "worker")) or rule.name
    threshold_text = "" if transition.threshold is None else _number(transition.threshold,
                                                                       rule.kind)
    what = _WHAT[rule.kind].format(
        value=_number(transition.value, rule.kind), threshold=threshold_text,
        count=f"{transition.value:g}" if transition.value is not None else "some",
        window=_number(rule.window, "queue_latency"))
    if transition.status == "resolved":
        return f"Resolved: {subject} is back within its rule ({rule.name})."
    limit = f" (threshold {threshold_text})" if threshold_text and rule.kind != \
        "stuck_started" else ""
    return f"{subject}: {what}{limit}."
