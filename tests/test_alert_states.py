from celery_scope.alerts.rules import parse_rule
from celery_scope.alerts.states import (
    AlertState,
    Measurement,
    active,
    labels_key,
    step,
    summary,
)

LABELS = {"task": "shop.tasks.charge"}
KEY = labels_key(LABELS)


def make_rule(**fields):
    return parse_rule({"name": "charge failures", "kind": "failure_ratio", "threshold": 0.2,
                       **fields})


def breach(value=0.5, labels=LABELS):
    return Measurement(labels, value, True)


def calm(value=0.0, labels=LABELS):
    return Measurement(labels, value, False)


def run(rule, timeline, muted=()):
    """Step `rule` through [(now, measurements)]; every transition made, and the states."""
    states, transitions = {}, []
    for now, measured in timeline:
        states, made = step(rule, states, measured, now, now in muted)
        transitions.extend(made)
    return states, transitions


def test_labels_key_is_canonical():
    assert labels_key({"b": "2", "a": "1"}) == labels_key({"a": "1", "b": "2"}) \
        == '{"a":"1","b":"2"}'
    assert labels_key({"task": "é<b>"}) == '{"task":"é<b>"}'


def test_pending_then_firing_after_for():
    rule = make_rule(**{"for": "30s"})
    states, made = step(rule, {}, [breach(0.4)], 100.0, False)
    assert made == [] and states[KEY].state == "pending" and states[KEY].active_since == 100.0
    assert summary(states) == "pending"
    states, made = step(rule, states, [breach(0.5)], 129.0, False)
    assert made == [] and states[KEY].state == "pending" and states[KEY].value == 0.5
    states, made = step(rule, states, [breach(0.6)], 130.0, False)
    assert [(t.status, t.notify, t.value, t.started_at, t.at, t.threshold) for t in made] == \
        [("firing", True, 0.6, 100.0, 130.0, 0.2)]
    assert states[KEY].state == "firing" and states[KEY].fired_at == 130.0
    assert states[KEY].notified_at == 130.0 and summary(states) == "firing"


def test_for_zero_fires_at_once():
    states, made = step(make_rule(), {}, [breach()], 10.0, False)
    assert [t.status for t in made] == ["firing"] and states[KEY].state == "firing"


def test_fifty_breaching_evaluations_make_one_firing_transition():
    timeline = [(float(second), [breach(0.3 + second / 1000)]) for second in range(50)]
    states, made = run(make_rule(), timeline)
    assert [t.status for t in made] == ["firing"]
    assert states[KEY].value == 0.3 + 49 / 1000


def test_resolved_once_when_it_stops_breaching_or_is_no_longer_measured():
    rule = make_rule()
    for gone in ([calm()], []):
        states, made = run(rule, [(0.0, [breach()]), (5.0, gone), (10.0, gone), (15.0, gone)])
        assert [(t.status, t.at, t.started_at, t.notify) for t in made] == \
            [("firing", 0.0, 0.0, True), ("resolved", 5.0, 0.0, True)]
        assert active(states) == {} and summary(states) == "ok"


def test_a_pending_alert_that_never_fired_leaves_silently():
    rule = make_rule(**{"for": "1m"})
    states, made = run(rule, [(0.0, [breach()]), (30.0, [breach()]), (40.0, [calm()])])
    assert made == [] and states == {}


def test_label_sets_are_separate_alerts_and_carry_the_rules_labels():
    rule = make_rule(labels={"team": "payments"})
    other = {"task": "shop.tasks.refund"}
    states, made = step(rule, {}, [breach(), breach(labels=other), calm(labels={"task": "x"})],
                        0.0, False)
    assert sorted(t.labels["task"] for t in made) == ["shop.tasks.charge", "shop.tasks.refund"]
    assert all(t.labels["team"] == "payments" for t in made)
    states, made = step(rule, states, [breach()], 1.0, False)
    assert [(t.status, t.labels["task"]) for t in made] == [("resolved", "shop.tasks.refund")]
    assert list(active(states)) == [labels_key({"team": "payments", **LABELS})]


def test_muted_alerts_change_state_without_notifying():
    rule = make_rule()
    states, made = run(rule, [(0.0, [breach()]), (5.0, [calm()])], muted={0.0, 5.0})
    assert [(t.status, t.notify) for t in made] == [("firing", False), ("resolved", False)]
    assert states == {}


def test_an_alert_firing_when_its_mute_ends_is_notified_then():
    rule = make_rule()
    states, made = run(rule, [(0.0, [breach()]), (5.0, [breach()]), (10.0, [breach()]),
                              (15.0, [breach()])], muted={0.0, 5.0})
    assert [(t.status, t.notify, t.repeat, t.at) for t in made] == \
        [("firing", False, False, 0.0), ("firing", True, True, 10.0)]
    assert states[KEY].notified_at == 10.0


def test_the_resolve_of_a_muted_firing_is_not_notified_after_the_mute_ends():
    states, made = run(make_rule(), [(0.0, [breach()]), (5.0, [calm()])], muted={0.0})
    assert [(t.status, t.notify) for t in made] == [("firing", False), ("resolved", False)]


def test_cooldown_holds_a_flapping_alert_to_one_notification():
    rule = make_rule(cooldown="5m")
    timeline = [(0.0, [breach()]), (10.0, [calm()]), (20.0, [breach()]), (30.0, [calm()]),
                (40.0, [breach()]), (50.0, [calm()])]
    states, made = run(rule, timeline)
    assert [(t.status, t.notify) for t in made] == [
        ("firing", True), ("resolved", True), ("firing", False), ("resolved", False),
        ("firing", False), ("resolved", False)]
    assert [s.state for s in states.values()] == ["resolved"] and active(states) == {}
    assert summary(states) == "ok"
    # past the cooldown, the next firing is notified and the remembered state is gone
    states, made = step(rule, states, [], 299.0, False)
    assert made == [] and list(states) == [KEY]
    states, made = step(rule, states, [], 300.0, False)
    assert states == {}
    states, made = step(rule, states, [breach()], 400.0, False)
    assert [(t.status, t.notify) for t in made] == [("firing", True)]


def test_a_firing_held_by_the_cooldown_is_notified_once_it_passes():
    rule = make_rule(cooldown="60s")
    timeline = [(0.0, [breach()]), (10.0, [calm()]), (20.0, [breach()]), (59.0, [breach()]),
                (60.0, [breach()]), (61.0, [breach()]), (70.0, [calm()])]
    states, made = run(rule, timeline)
    assert [(t.status, t.notify, t.repeat, t.at) for t in made] == [
        ("firing", True, False, 0.0), ("resolved", True, False, 10.0),
        ("firing", False, False, 20.0), ("firing", True, True, 60.0),
        ("resolved", True, False, 70.0)]


def test_cooldown_zero_notifies_every_firing():
    timeline = [(0.0, [breach()]), (1.0, [calm()]), (2.0, [breach()])]
    states, made = run(make_rule(cooldown=0), timeline)
    assert [(t.status, t.notify) for t in made] == [("firing", True), ("resolved", True),
                                                    ("firing", True)]


def test_renotify_repeats_while_firing():
    rule = make_rule(renotify="1h")
    timeline = [(float(t), [breach()]) for t in range(0, 7300, 100)]
    states, made = run(rule, timeline)
    assert [(t.status, t.notify, t.repeat, t.at) for t in made] == [
        ("firing", True, False, 0.0), ("firing", True, True, 3600.0),
        ("firing", True, True, 7200.0)]
    assert states[KEY].fired_at == 0.0 and states[KEY].notified_at == 7200.0


def test_renotify_is_quiet_while_muted():
    rule = make_rule(renotify="1m")
    states, made = run(rule, [(0.0, [breach()]), (60.0, [breach()]), (120.0, [breach()])],
                       muted={60.0})
    assert [(t.at, t.repeat) for t in made] == [(0.0, False), (120.0, True)]


def test_a_threshold_change_is_carried_into_the_state():
    states, _ = step(make_rule(), {}, [breach()], 0.0, False)
    states, _ = step(make_rule(threshold=0.3), states, [breach()], 1.0, False)
    assert states[KEY].threshold == 0.3


def test_states_are_text_and_frozen():
    state = AlertState("r", {"task": "x"}, '{"task":"x"}', "firing", 1.0, None, 0.0, 0.0, None)
    assert not state.notified
    try:
        state.labels["task"] = "y"  # type: ignore[index]
    except TypeError:
        pass
    else:
        raise AssertionError("labels of a state can be changed")
