"""Alert states, Prometheus and Alertmanager style: one alert per rule and label set, which
is pending while its condition holds for less than the rule's `for`, firing after that,
and resolved when the condition stops holding. `step` is the one place that decides it:
pure, so every case is a fast test.

Deduplication is by rule + label set: an alert that keeps breaching changes nothing, so a
burst of failed tasks makes one firing transition. Notifications follow three rules: a
firing alert is notified once it may be (not muted, and its cooldown since the last
firing notification has passed, which covers a rule unmuted while firing); a resolve is
notified only when its firing was; `renotify` repeats the firing notification while it
lasts, as a `repeat` transition that is not a change of state (the store does not add it
to the history). To keep the cooldown across a resolve, a notified alert that resolves is
kept as a "resolved" state until its cooldown has passed, so a flapping rule does not page
at every flap; "resolved" states are not alerts (see ACTIVE).
"""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType

from .rules import Rule

PENDING, FIRING, RESOLVED = "pending", "firing", "resolved"
ACTIVE = (PENDING, FIRING)  # the states that are alerts; RESOLVED only remembers a cooldown
SEVERITY = {"ok": 0, PENDING: 1, FIRING: 2}  # a rule's summary is its worst alert


def labels_key(labels: Mapping[str, str]) -> str:
    """The labels as canonical JSON (sorted keys): an alert's identity within its rule."""
    return json.dumps({str(key): str(value) for key, value in labels.items()},
                      sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _frozen(labels: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType({str(key): str(value) for key, value in labels.items()})


@dataclass(frozen=True)
class Measurement:
    """What a measure found for one label set (one task name, one queue, one worker)."""
    labels: Mapping[str, str]
    value: float
    breaching: bool  # the rule's condition holds for this label set now

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", _frozen(self.labels))


@dataclass(frozen=True)
class AlertState:
    """One row of alert_states."""
    rule: str
    labels: Mapping[str, str]
    labels_key: str
    state: str  # pending | firing | resolved (kept only for its cooldown)
    value: float | None
    threshold: float | None
    active_since: float  # when the condition began to hold
    fired_at: float | None
    notified_at: float | None  # the last firing notification sent

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", _frozen(self.labels))

    @property
    def notified(self) -> bool:
        """Whether this alert's current firing has been notified."""
        return (self.fired_at is not None and self.notified_at is not None
                and self.notified_at >= self.fired_at)


@dataclass(frozen=True)
class Transition:
    """A change to record in alert_history and maybe notify."""
    rule: str
    labels: Mapping[str, str]
    status: str  # firing | resolved
    value: float | None
    threshold: float | None
    started_at: float
    at: float
    notify: bool  # False when muted, within the cooldown, or resolving an unnotified firing
    repeat: bool = False  # a notification of an alert already firing: not a change of state

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", _frozen(self.labels))


def active(states: Mapping[str, AlertState]) -> dict[str, AlertState]:
    """The alerts among one rule's states: pending and firing, not the resolved ones kept
    for their cooldown."""
    return {key: state for key, state in states.items() if state.state in ACTIVE}


def summary(states: Mapping[str, AlertState]) -> str:
    """A rule's state from its alerts: "firing", "pending" or "ok"."""
    worst = "ok"
    for state in states.values():
        if state.state in ACTIVE and SEVERITY[state.state] > SEVERITY[worst]:
            worst = state.state
    return worst


def step(rule: Rule, current: Mapping[str, AlertState], measured: Sequence[Measurement],
         now: float, muted: bool) -> tuple[dict[str, AlertState], list[Transition]]:
    """The rule's states after one evaluation at `now`, and the transitions it made.
    `current` maps labels_key to the states after the last step; an alert's labels are
    the rule's labels overlaid with its measurement's."""
    breaching: dict[str, tuple[Mapping[str, str], float]] = {}
    for measurement in measured:
        if measurement.breaching:
            merged = {**rule.labels, **measurement.labels}
            breaching[labels_key(merged)] = (merged, measurement.value)
    states: dict[str, AlertState] = {}
    transitions: list[Transition] = []
    for key, (labels, value) in breaching.items():
        state = current.get(key)
        if state is None or state.state == RESOLVED:
            state = AlertState(rule.name, labels, key, PENDING, value, rule.threshold, now,
                               None, state.notified_at if state else None)
        else:
            state = replace(state, value=value, threshold=rule.threshold)
        state, transition = _advance(rule, state, now, muted)
        states[key] = state
        if transition is not None:
            transitions.append(transition)
    for key, state in current.items():
        if key in breaching:
            continue
        if state.state == FIRING:
            transitions.append(_transition(state, "resolved", now,
                                           notify=state.notified and not muted))
            if _cooling(rule, state, now):
                states[key] = replace(state, state=RESOLVED)
        elif state.state == RESOLVED and _cooling(rule, state, now):
            states[key] = state
    return states, transitions


def _advance(rule: Rule, state: AlertState, now: float,
             muted: bool) -> tuple[AlertState, Transition | None]:
    """A breaching alert one step on: pending to firing after `for`, and a firing one
    notified once it may be, or again when `renotify` is due."""
    if state.state == PENDING:
        if now - state.active_since < rule.for_seconds:
            return state, None
        state = replace(state, state=FIRING, fired_at=now)
        notify = _may_notify(rule, state, now, muted)
        if notify:
            state = replace(state, notified_at=now)
        return state, _transition(state, "firing", now, notify=notify)
    if muted:
        return state, None
    if not state.notified:
        if _may_notify(rule, state, now, muted):
            return replace(state, notified_at=now), \
                _transition(state, "firing", now, notify=True, repeat=True)
        return state, None
    if rule.renotify is not None and state.notified_at is not None \
            and now - state.notified_at >= rule.renotify:
        return replace(state, notified_at=now), \
            _transition(state, "firing", now, notify=True, repeat=True)
    return state, None


def _cooling(rule: Rule, state: AlertState, now: float) -> bool:
    """Whether a firing notification of this alert was sent less than a cooldown ago."""
    return state.notified_at is not None and now - state.notified_at < rule.cooldown


def _may_notify(rule: Rule, state: AlertState, now: float, muted: bool) -> bool:
    return not muted and not _cooling(rule, state, now)


def _transition(state: AlertState, status: str, now: float, notify: bool,
                repeat: bool = False) -> Transition:
    return Transition(state.rule, state.labels, status, state.value, state.threshold,
                      state.active_since, now, notify, repeat)
