from types import SimpleNamespace

import pytest

from celery_scope.alerts.delivery import Delivery
from celery_scope.alerts.rules import RuleError, parse_rule
from celery_scope.alerts.state_store import AlertStore
from celery_scope.alerts.states import Measurement, step
from celery_scope.store.history import HistoryStore

pytestmark = pytest.mark.integration

FILE_RULES = ({"name": "charge failures", "kind": "failure_ratio", "threshold": 0.2,
               "task": "shop.tasks.charge", "notify": ["ops"]},
              {"name": "workers", "kind": "worker_offline"})
SETTINGS = SimpleNamespace(alerts=FILE_RULES, notifiers=({"name": "ops", "kind": "webhook",
                                                          "url": "http://127.0.0.1:9/"},))


@pytest.fixture
def store(store_url):
    history = HistoryStore(store_url)
    yield AlertStore(history.engine)
    history.close()


def test_page_rules_save_replace_delete(store):
    rule = parse_rule({"name": "deep / queue 'x'", "kind": "queue_depth", "threshold": 100,
                       "queue": "celery", "labels": {"team": "ops"}}, source="page")
    store.save_rule(rule, "alice")
    assert store.page_rules() == [rule]
    changed = parse_rule({**rule.table(), "threshold": 200}, source="page")
    store.save_rule(changed, "bob")
    assert store.page_rules() == [changed]
    assert store.page_rule_names() == {rule.name}
    assert [r.name for r in store.rules(SETTINGS)] == ["charge failures", "workers", rule.name]
    assert [r.source for r in store.rules(SETTINGS)] == ["file", "file", "page"]
    assert store.delete_rule(rule.name) is True
    assert store.delete_rule(rule.name) is False
    assert store.page_rules() == []


def test_a_page_rule_never_shadows_a_file_rule(store):
    store.save_rule(parse_rule({"name": "workers", "kind": "no_consumer"}, source="page"), "a")
    rules = store.rules(SETTINGS)
    assert [(r.name, r.kind, r.source) for r in rules] == [
        ("charge failures", "failure_ratio", "file"), ("workers", "worker_offline", "file")]


def test_a_bad_file_rule_is_an_error(store):
    bad = SimpleNamespace(alerts=({"name": "x", "kind": "nope"},), notifiers=())
    with pytest.raises(RuleError, match="alert 'x': kind"):
        store.rules(bad)


def test_apply_replaces_states_and_appends_history(store):
    rule = parse_rule(FILE_RULES[0], known_notifiers=["ops"])
    labels = {"task": "shop.tasks.charge"}
    states, made = step(rule, {}, [Measurement(labels, 0.5, True)], 100.0, False)
    store.apply(rule.name, states, made)
    assert store.states() == {rule.name: states}
    state = store.states()[rule.name][next(iter(states))]
    assert (state.state, state.value, state.fired_at, dict(state.labels)) == \
        ("firing", 0.5, 100.0, labels)
    # a renotification is a transition, not a change of state: not in the history
    renotify = parse_rule({**FILE_RULES[0], "renotify": "1m"})
    states, made = step(renotify, store.states()[rule.name],
                        [Measurement(labels, 0.7, True)], 200.0, False)
    assert [t.repeat for t in made] == [True]
    store.apply(rule.name, states, made)
    states, made = step(rule, store.states()[rule.name], [], 300.0, False)
    store.apply(rule.name, states, made)
    assert [s.state for s in store.states().get(rule.name, {}).values()] == ["resolved"]
    rows = store.history()
    assert [(r["status"], r["at"], r["started_at"], r["labels"], r["value"], r["threshold"])
            for r in rows] == [("resolved", 300.0, 100.0, labels, 0.7, 0.2),
                               ("firing", 100.0, 100.0, labels, 0.5, 0.2)]
    store.apply(rule.name, {}, [])
    assert store.states() == {}


def test_history_filters(store):
    for at, name in [(10.0, "a"), (20.0, "b"), (30.0, "a"), (40.0, "a b/c")]:
        rule = parse_rule({"name": name, "kind": "worker_offline"})
        states, made = step(rule, {}, [Measurement({"worker": "w@h"}, 1, True)], at, False)
        store.apply(name, states, made)
    assert [r["at"] for r in store.history()] == [40.0, 30.0, 20.0, 10.0]
    assert [r["at"] for r in store.history(rule="a")] == [30.0, 10.0]
    assert [r["at"] for r in store.history(rule="a b/c")] == [40.0]
    assert [r["at"] for r in store.history(since=20.0)] == [40.0, 30.0, 20.0]
    assert [r["at"] for r in store.history(limit=2)] == [40.0, 30.0]
    assert [r["at"] for r in store.history(since=15.0, rule="a", limit=5)] == [30.0]
    assert set(store.states()) == {"a", "b", "a b/c"}
    store.drop_states(["b"])
    assert set(store.states()) == {"b"}


def test_mutes(store):
    store.mute("workers", 1000.0, "alice", "deploying")
    store.mute("charge failures", 500.0, "bob", "")
    assert store.mutes(400.0) == {
        "workers": {"until": 1000.0, "by": "alice", "reason": "deploying",
                    "created": store.mutes(400.0)["workers"]["created"]},
        "charge failures": {"until": 500.0, "by": "bob", "reason": "",
                            "created": store.mutes(400.0)["charge failures"]["created"]}}
    assert set(store.mutes(600.0)) == {"workers"}
    store.mute("workers", 2000.0, "carol", "longer")
    assert store.mutes(1500.0)["workers"]["by"] == "carol"
    assert store.unmute("workers") is True
    assert store.unmute("workers") is False
    assert store.mutes(0.0).keys() == {"charge failures"}


def test_deliveries(store):
    store.record_delivery(Delivery(10.0, "r", "ops", "firing", True, 1, ""))
    store.record_delivery(Delivery(20.0, "r", "ops", "resolved", False, 5, "HTTP 500 from x"))
    store.record_delivery(Delivery(30.0, "q", "mail", "firing", False, 2, "refused"))
    rows = store.deliveries()
    assert [(r["at"], r["ok"], r["attempts"]) for r in rows] == [(30.0, False, 2),
                                                                  (20.0, False, 5),
                                                                  (10.0, True, 1)]
    failed = store.deliveries(failed_only=True, limit=1)
    assert [(r["notifier"], r["rule"], r["status"], r["error"]) for r in failed] == \
        [("mail", "q", "firing", "refused")]


def test_prune(store):
    rule = parse_rule({"name": "w", "kind": "worker_offline"})
    for at in (10.0, 20.0):
        states, made = step(rule, {}, [Measurement({"worker": f"w{at}"}, 1, True)], at, False)
        store.apply("w", states, made)
    store.record_delivery(Delivery(10.0, "w", "ops", "firing", False, 1, "x"))
    store.record_delivery(Delivery(20.0, "w", "ops", "firing", False, 1, "x"))
    store.mute("w", 12.0, "a", "")
    store.mute("v", 30.0, "a", "")
    assert store.prune(15.0) == 3
    assert [r["at"] for r in store.history()] == [20.0]
    assert [r["at"] for r in store.deliveries()] == [20.0]
    assert set(store.mutes(0.0)) == {"v"}
    assert store.states() != {}  # states are the present, never pruned


def test_overview_rows_and_counts(store):
    from celery_scope.alerts.editing import table_from_form
    from celery_scope.alerts.overview import counts, grid_rows, overview

    rule = parse_rule(FILE_RULES[0])
    labels = {"task": "shop.tasks.charge"}
    states, made = step(rule, {}, [Measurement(labels, 0.5, True)], 100.0, False)
    store.apply(rule.name, states, made)
    store.mute("workers", 10_000.0, "alice", "")
    seen = overview(store, SETTINGS, 50.0)
    assert counts(seen["rules"]) == {"firing": 1, "pending": 0, "muted": 1}
    rows = {row["name"]: row for row in grid_rows(seen["rules"])}
    assert (rows["charge failures"]["state"], rows["charge failures"]["value"],
            rows["charge failures"]["since"], rows["charge failures"]["scope"]) == \
        ("firing", 0.5, 100.0, "task=shop.tasks.charge")
    assert (rows["workers"]["state"], rows["workers"]["scope"]) == ("muted", "all")
    assert table_from_form({"name": " deep ", "kind": "queue_depth", "threshold": "5",
                            "window": "5m", "for": "", "min_count": "3",
                            "notify": "ops, mail", "task": None}) == {
        "name": "deep", "kind": "queue_depth", "threshold": 5.0, "window": "5m",
        "min_count": 3, "notify": ["ops", "mail"]}
