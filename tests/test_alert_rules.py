import pytest

from celery_scope.alerts.rules import (
    KINDS,
    NO_THRESHOLD,
    Rule,
    RuleError,
    format_duration,
    parse_duration,
    parse_rule,
    parse_rules,
)

EXAMPLES = {
    "failure_ratio": {"threshold": 0.2, "task": "shop.tasks.charge", "min_count": 10},
    "failure_count": {"threshold": 5, "queue": "celery"},
    "queue_latency": {"threshold": "2m", "queue": "celery"},
    "queue_depth": {"threshold": 1000},
    "worker_offline": {"worker": "w1@host"},
    "no_consumer": {"queue": "reports"},
    "stuck_started": {"threshold": "30m", "worker": "w1@host", "min_count": 2},
    "orphaned": {"task": "shop.tasks.charge"},
    "runtime_p95": {"threshold": 12.5, "task": "shop.tasks.charge"},
    "dead_mans_switch": {"threshold": "1h", "task": "shop.tasks.nightly"},
}


@pytest.mark.parametrize("text, seconds", [
    pytest.param("30s", 30.0, id="seconds"), pytest.param("5m", 300.0, id="minutes"),
    pytest.param("2h", 7200.0, id="hours"), pytest.param("1d", 86400.0, id="days"),
    pytest.param("1h30m", 5400.0, id="compound"), pytest.param(" 1.5m ", 90.0, id="decimal"),
    pytest.param("45", 45.0, id="number-text"), pytest.param(12, 12.0, id="int"),
    pytest.param(0.5, 0.5, id="float"), pytest.param("0s", 0.0, id="zero"),
])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5 minutes", "m5", "-5s", -1, True, "5w", "1e999",
                                  None, [5]])
def test_parse_duration_refuses(text):
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


@pytest.mark.parametrize("seconds, text", [(300.0, "5m"), (90.0, "90s"), (7200.0, "2h"),
                                            (172800.0, "2d"), (0.0, "0s"), (1.5, 1.5)])
def test_format_duration_round_trips(seconds, text):
    assert format_duration(seconds) == text
    assert parse_duration(text) == seconds


def test_the_issue_example_parses():
    rule = parse_rule({"name": "charge failures", "kind": "failure_ratio",
                       "task": "shop.tasks.charge", "threshold": 0.2, "window": "5m",
                       "min_count": 10, "for": "30s", "notify": ["ops"],
                       "labels": {"team": "payments"}, "cooldown": "10m", "renotify": "1h",
                       "description": "Card charges failing"}, known_notifiers=["ops"])
    assert rule == Rule(name="charge failures", kind="failure_ratio", threshold=0.2,
                        window=300.0, min_count=10, for_seconds=30.0, task="shop.tasks.charge",
                        labels={"team": "payments"}, cooldown=600.0, renotify=3600.0,
                        notify=("ops",), description="Card charges failing")
    assert rule.scope == {"task": "shop.tasks.charge"}
    assert dict(rule.labels) == {"team": "payments"}


def test_defaults():
    rule = parse_rule({"name": "down", "kind": "worker_offline"}, source="page")
    assert (rule.threshold, rule.window, rule.min_count, rule.for_seconds, rule.cooldown,
            rule.renotify, rule.notify, rule.source) == (None, 300.0, 1, 0.0, 300.0, None, (),
                                                         "page")


def test_every_kind_has_an_example_and_round_trips_through_its_table():
    assert set(EXAMPLES) == set(KINDS)
    for kind, fields in EXAMPLES.items():
        rule = parse_rule({"name": f"a {kind}/rule", "kind": kind, **fields}, source="page")
        assert parse_rule(rule.table(), source="page") == rule, kind
        assert (rule.threshold is None) == (kind in NO_THRESHOLD)


def test_duration_thresholds_are_seconds():
    assert parse_rule({"name": "slow", "kind": "queue_latency", "threshold": "2m"}
                      ).threshold == 120.0


def test_a_full_rule_round_trips():
    table = {"name": "x", "kind": "runtime_p95", "threshold": 3.25, "window": 45.5,
             "min_count": 3, "for": "1m", "queue": "q", "worker": "w@h", "task": "t",
             "labels": {"team": "a", "env": "prod"}, "cooldown": 0, "renotify": "1d",
             "notify": ["ops", "mail"], "description": "d"}
    rule = parse_rule(table)
    again = parse_rule(rule.table())
    assert again == rule
    assert rule.table()["window"] == 45.5 and rule.table()["renotify"] == "1d"


@pytest.mark.parametrize("table, problem", [
    pytest.param({"kind": "queue_depth", "threshold": 1}, "alert #1: name is missing",
                 id="no-name"),
    pytest.param({"name": "  ", "kind": "queue_depth"}, "alert #1: name is missing",
                 id="blank-name"),
    pytest.param({"name": "r", "kind": "queue_size", "threshold": 1},
                 "alert 'r': kind must be one of failure_ratio, ", id="kind"),
    pytest.param({"name": "r", "kind": "queue_depth"}, "alert 'r': threshold is missing",
                 id="no-threshold"),
    pytest.param({"name": "r", "kind": "queue_depth", "threshold": "lots"},
                 "alert 'r': threshold must be a number, got 'lots'", id="threshold-text"),
    pytest.param({"name": "r", "kind": "queue_depth", "threshold": True},
                 "threshold must be a number", id="threshold-bool"),
    pytest.param({"name": "r", "kind": "queue_depth", "threshold": -1},
                 "threshold must be a number of zero or more", id="threshold-negative"),
    pytest.param({"name": "r", "kind": "failure_ratio", "threshold": 20},
                 "a failure_ratio threshold is a ratio from 0 to 1", id="ratio"),
    pytest.param({"name": "r", "kind": "queue_latency", "threshold": "soon"},
                 "alert 'r': threshold: expected a duration", id="threshold-duration"),
    pytest.param({"name": "r", "kind": "no_consumer", "threshold": 1},
                 "a no_consumer rule takes no threshold", id="threshold-unwanted"),
    pytest.param({"name": "r", "kind": "queue_depth", "threshold": 1, "window": "5 min"},
                 "alert 'r': window: expected a duration", id="window"),
    pytest.param({"name": "r", "kind": "queue_depth", "threshold": 1, "window": 0},
                 "window must be longer than zero seconds", id="window-zero"),
    pytest.param({"name": "r", "kind": "queue_depth", "threshold": 1, "for": "-3s"},
                 "alert 'r': for: expected a duration", id="for"),
    pytest.param({"name": "r", "kind": "queue_depth", "threshold": 1, "min_count": 0},
                 "min_count must be a whole number of 1 or more", id="min-count"),
    pytest.param({"name": "r", "kind": "queue_depth", "threshold": 1, "task": "t"},
                 "a queue_depth rule cannot be scoped by task (it takes: queue)", id="scope"),
    pytest.param({"name": "r", "kind": "dead_mans_switch", "threshold": "1h"},
                 "a dead_mans_switch rule needs a task", id="needs-task"),
    pytest.param({"name": "r", "kind": "queue_depth", "threshold": 1, "queue": ""},
                 "queue must be a non-empty string", id="empty-scope"),
    pytest.param({"name": "r", "kind": "queue_depth", "threshold": 1, "labels": ["a"]},
                 "labels must be a table of strings", id="labels-list"),
    pytest.param({"name": "r", "kind": "queue_depth", "threshold": 1, "labels": {"a": 1}},
                 "labels must be a table of strings", id="labels-number"),
    pytest.param({"name": "r", "kind": "queue_depth", "threshold": 1,
                  "labels": {"queue": "x"}}, "label 'queue' is set by the measure",
                 id="labels-scope"),
    pytest.param({"name": "r", "kind": "queue_depth", "threshold": 1, "notify": [1]},
                 "notify must be a list of notifier names", id="notify-type"),
    pytest.param({"name": "r", "kind": "queue_depth", "threshold": 1, "notify": ["pager"]},
                 "notify names an unknown notifier 'pager' (ops)", id="notify-unknown"),
    pytest.param({"name": "r", "kind": "queue_depth", "threshold": 1, "treshold": 2},
                 "alert 'r': unknown key 'treshold'", id="typo"),
    pytest.param({"name": "r", "kind": "queue_depth", "threshold": 1, "renotify": 0},
                 "renotify must be longer than zero seconds", id="renotify-zero"),
])
def test_bad_rules_name_the_rule_and_the_problem(table, problem):
    with pytest.raises(RuleError) as raised:
        parse_rule(table, known_notifiers=["ops"])
    assert str(raised.value).startswith(problem) or problem in str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_table_that_is_not_a_table():
    with pytest.raises(RuleError, match="alert #3: expected a table, got list"):
        parse_rules([{"name": "a", "kind": "worker_offline"},
                     {"name": "b", "kind": "worker_offline"}, ["x"]])


def test_a_name_used_twice():
    with pytest.raises(RuleError, match="alert 'a': the name is used twice"):
        parse_rules([{"name": "a", "kind": "worker_offline"},
                     {"name": "a", "kind": "no_consumer"}])


def test_notify_accepts_one_name_and_drops_repeats():
    rule = parse_rule({"name": "a", "kind": "worker_offline", "notify": "ops"})
    assert rule.notify == ("ops",)
    assert parse_rule({"name": "a", "kind": "worker_offline",
                       "notify": ["ops", "ops"]}).notify == ("ops",)


def test_rules_are_immutable():
    rule = parse_rule({"name": "a", "kind": "worker_offline", "labels": {"team": "x"}})
    with pytest.raises(TypeError):
        rule.labels["team"] = "y"  # type: ignore[index]
    assert hash(rule) == hash(parse_rule(rule.table()))
