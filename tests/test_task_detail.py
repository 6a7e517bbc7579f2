"""Task page data from task rows: input row or repr text → expected steps, durations, values."""
import pytest
from celery.utils.saferepr import saferepr

from celery_scope.store.schema import TASK_COLUMNS
from celery_scope.tasks import detail

ARGSREPR_MAXSIZE = 1024  # celery.app.amqp.AMQP.argsrepr_maxsize: what events carry


def row(**fields):
    base = dict.fromkeys(TASK_COLUMNS)
    base.update(uuid="t1", name="cluster.add", state="PENDING", timestamp=100.0)
    base.update(fields)
    return base


# -- timeline and durations ---------------------------------------------------------------


@pytest.mark.parametrize("fields, expected", [
    pytest.param({}, [], id="no-steps"),
    pytest.param({"sent": 100.0, "received": 100.5, "started": 101.0, "succeeded": 103.0},
                 [("sent", 0.0), ("received", 0.5), ("started", 1.0), ("succeeded", 3.0)],
                 id="success"),
    pytest.param({"received": 10.0, "started": 10.25, "failed": 11.0},
                 [("received", 0.0), ("started", 0.25), ("failed", 1.0)], id="failure-no-sent"),
    pytest.param({"sent": 5.0, "revoked": 7.0}, [("sent", 0.0), ("revoked", 2.0)],
                 id="revoked-before-start"),
    pytest.param({"received": 1.0, "retried": 2.0, "started": 3.0, "succeeded": 4.0},
                 [("received", 0.0), ("retried", 1.0), ("started", 2.0), ("succeeded", 3.0)],
                 id="retried-then-succeeded-time-order"),
    pytest.param({"sent": 10.002, "received": 10.0, "started": 10.5, "succeeded": 11.0},
                 [("sent", 0.0), ("received", -0.002), ("started", 0.498), ("succeeded", 0.998)],
                 id="sent-stamped-after-a-quick-receive-stays-first"),
    pytest.param({"received": 1.0, "started": 1.0, "rejected": 1.0},
                 [("received", 0.0), ("started", 0.0), ("rejected", 0.0)],
                 id="ties-keep-lifecycle-order"),
])
def test_timeline(fields, expected):
    steps = detail.timeline(row(**fields))
    assert [(step.name, round(step.offset, 6)) for step in steps] == expected
    assert all(step.at == fields[step.name] for step in steps)


@pytest.mark.parametrize("fields, expected", [
    pytest.param({"state": "SUCCESS", "sent": 100.0, "received": 100.5, "started": 102.0,
                  "succeeded": 105.0, "runtime": 2.9},
                 detail.Durations(queued=0.5, wait=1.5, run=2.9, total=5.0),
                 id="runtime-preferred"),
    pytest.param({"state": "FAILURE", "received": 10.0, "started": 11.0, "failed": 14.0},
                 detail.Durations(queued=None, wait=1.0, run=3.0, total=4.0),
                 id="run-from-started-to-failed"),
    pytest.param({"state": "REVOKED", "received": 10.0, "started": 11.0, "revoked": 71.0},
                 detail.Durations(queued=None, wait=1.0, run=60.0, total=61.0),
                 id="terminated-while-running"),
    pytest.param({"state": "STARTED", "received": 10.0, "started": 12.0},
                 detail.Durations(queued=None, wait=2.0, run=None, total=None),
                 id="still-running"),
    pytest.param({"state": "SUCCESS", "sent": 50.0, "received": 49.0, "started": 49.5,
                  "succeeded": 50.5},
                 detail.Durations(queued=None, wait=0.5, run=1.0, total=1.5),
                 id="client-clock-ahead-no-negative-queue"),
    pytest.param({"state": "PENDING"}, detail.Durations(None, None, None, None), id="nothing"),
])
def test_durations(fields, expected):
    assert detail.durations(row(**fields)) == expected


def test_phases_share_the_bar():
    spans = detail.Durations(queued=1.0, wait=1.0, run=2.0, total=4.0)
    assert detail.phases(spans) == [("queued", 1.0, 0.25), ("waiting", 1.0, 0.25),
                                    ("running", 2.0, 0.5)]
    assert detail.phases(detail.Durations(None, 0.0, None, None)) == []


@pytest.mark.parametrize("seconds, text", [
    pytest.param(None, "–", id="none"),
    pytest.param(0.00042, "0.42 ms", id="sub-millisecond"),
    pytest.param(0.0123, "12.3 ms", id="milliseconds"),
    pytest.param(0.83, "830 ms", id="under-a-second"),
    pytest.param(3.2, "3.2 s", id="seconds"),
    pytest.param(250, "4 min 10 s", id="minutes"),
])
def test_human_duration(seconds, text):
    assert detail.human_duration(seconds) == text


def test_times_are_utc_text_for_the_browser():
    assert detail.iso_utc(0.5) == "1970-01-01T00:00:00.500+00:00"
    assert detail.utc_text(86400.25) == "1970-01-02 00:00:00.250 UTC"
    assert detail.iso_utc(None) is None and detail.utc_text(None) == "–"


@pytest.mark.parametrize("fields, now, expected", [
    pytest.param({"state": "STARTED", "timestamp": 0.0}, 1000.0, False, id="running"),
    pytest.param({"state": "SUCCESS", "timestamp": 990.0}, 1000.0, False, id="just-finished"),
    pytest.param({"state": "SUCCESS", "timestamp": 900.0}, 1000.0, True, id="finished-long-ago"),
    pytest.param({"state": "RETRY", "timestamp": 0.0}, 1000.0, False, id="retry-is-not-final"),
])
def test_settled(fields, now, expected):
    assert detail.settled(row(**fields), now) is expected
    assert detail.settled(None, now) is False


# -- reading Celery's reprs ---------------------------------------------------------------


@pytest.mark.parametrize("value", [
    pytest.param((1, 2), id="ints"),
    pytest.param((), id="empty-args"),
    pytest.param({}, id="empty-kwargs"),
    pytest.param(("it's", 'say "hi"', "both ' and \""), id="quotes"),
    pytest.param(("line1\nline2\ttab",), id="newline-and-tab"),
    pytest.param(("héllo ✓ 日本 🚀",), id="unicode"),
    pytest.param((None, True, False, 1.5, -3, [1, 2]), id="none-and-friends"),
    pytest.param({"key": "v", "n": None, "nested": {"a": [1, 2]}}, id="nested-kwargs"),
    pytest.param(("<script>alert(1)</script>",), id="markup-is-just-text"),
    pytest.param(("",), id="empty-string"),
])
def test_celery_saferepr_reads_back(value):
    text = saferepr(value, ARGSREPR_MAXSIZE)
    literal = detail.read_literal(text)
    assert literal.parsed and literal.value == value
    assert not (literal.truncated or literal.ambiguous or literal.has_bytes)


@pytest.mark.parametrize("value", [
    pytest.param(("x" * 2000,), id="long-string-cut"),
    pytest.param(("hello world " * 200,), id="long-words-cut-at-a-space"),
    pytest.param((list(range(500)),), id="long-list-cut"),
    pytest.param(([[[[1]]]],), id="too-deep"),
    pytest.param({"k": {"a": {"b": {"c": 1}}}}, id="too-deep-kwargs"),
    pytest.param({"k" * 2000: 1}, id="long-key-cut"),
])
def test_truncated_reprs_are_not_trusted(value):
    text = saferepr(value, ARGSREPR_MAXSIZE)
    literal = detail.read_literal(text)
    assert not literal.parsed or literal.truncated
    assert detail.pretty(text) == text  # shown as Celery sent it, not as "Ellipsis"
    plan = detail.plan_apply(row(args=text, kwargs="{}"), {"cluster.add"})
    assert not plan.ok


@pytest.mark.parametrize("text, parsed, value, ambiguous", [
    pytest.param("('a\\\\',)", True, ("a\\",), False, id="python-repr-trailing-backslash"),
    pytest.param("('C:\\new',)", True, ("C:\\new",), True, id="backslash-is-ambiguous"),
    pytest.param('("it\'s",)', True, ("it's",), False, id="python-double-quotes"),
    pytest.param("(1, 'unterminated)", False, None, False, id="unterminated"),
    pytest.param("(datetime.datetime(2020, 1, 1),)", False, None, False, id="not-a-literal"),
    pytest.param("<object at 0x7f>", False, None, False, id="object-repr"),
    pytest.param("(nan, inf)", False, None, False, id="nan"),
    pytest.param("__import__('os').system('true')", False, None, False, id="code-is-not-run"),
    pytest.param("[" * 500 + "]" * 500, False, None, False, id="too-deep-to-parse"),
])
def test_read_literal_edge_cases(text, parsed, value, ambiguous):
    literal = detail.read_literal(text)
    assert literal.parsed is parsed
    if parsed:
        assert literal.value == value and literal.ambiguous is ambiguous


def test_read_literal_bytes_are_flagged_and_none_is_none():
    assert detail.read_literal(saferepr((b"abc",))).has_bytes
    assert detail.read_literal(None) is None


@pytest.mark.parametrize("text, expected", [
    pytest.param(None, None, id="missing"),
    pytest.param("(1, 2)", "(1, 2)", id="short"),
    pytest.param("{'b': 1, 'a': 2}", "{'b': 1, 'a': 2}", id="keeps-key-order"),
    pytest.param("'first line\nsecond line'", "first line\nsecond line",
                 id="multi-line-text-as-is"),
    pytest.param("not a literal <b>", "not a literal <b>", id="raw-fallback"),
    pytest.param(repr({"numbers": list(range(30)), "name": "x" * 40}),
                 "{'numbers': [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, "
                 "19, 20,\n             21, 22, 23, 24, 25, 26, 27, 28, 29],\n"
                 " 'name': 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'}", id="wrapped"),
])
def test_pretty(text, expected):
    assert detail.pretty(text) == expected


def test_literal_note_says_when_cut():
    assert "Cut short" in detail.literal_note(saferepr(("x" * 2000,), ARGSREPR_MAXSIZE))
    assert detail.literal_note("(1, 2)") is None and detail.literal_note("garbage(") is None


# -- apply again --------------------------------------------------------------------------


@pytest.mark.parametrize("fields, registered, problem", [
    pytest.param({"args": "(1, 2)", "kwargs": "{}"}, {"cluster.add"}, None, id="ok"),
    pytest.param({"args": "(1, 2)", "kwargs": "{}"}, set(), "no online worker",
                 id="not-registered"),
    pytest.param({"name": None, "args": "(1, 2)", "kwargs": "{}"}, {"cluster.add"},
                 "name was never reported", id="no-name"),
    pytest.param({"args": None, "kwargs": "{}"}, {"cluster.add"}, "never reported",
                 id="args-unknown"),
    pytest.param({"args": "(<object>,)", "kwargs": "{}"}, {"cluster.add"},
                 "not plain Python literals", id="unreadable-args"),
    pytest.param({"args": "(1,)", "kwargs": "{'path': 'C:\\new'}"}, {"cluster.add"},
                 "backslash", id="ambiguous-kwargs"),
    pytest.param({"args": "(b'x',)", "kwargs": "{}"}, {"cluster.add"}, "bytes", id="bytes"),
    pytest.param({"args": "5", "kwargs": "{}"}, {"cluster.add"}, "not a list", id="args-scalar"),
    pytest.param({"args": "()", "kwargs": "{1: 2}"}, {"cluster.add"}, "mapping of names",
                 id="kwargs-keys-not-names"),
    pytest.param({"args": "(1, ...)", "kwargs": "{}"}, {"cluster.add"}, "cut short",
                 id="ellipsis"),
])
def test_plan_apply(fields, registered, problem):
    plan = detail.plan_apply(row(**fields), registered)
    if problem is None:
        assert plan.ok and plan.args == (1, 2) and plan.kwargs == {}
    else:
        assert not plan.ok and problem in plan.problem


def test_plan_apply_keeps_unicode_quotes_newlines_and_the_queue():
    args = saferepr(("héllo\n'quoted' \"twice\"", None), ARGSREPR_MAXSIZE)
    kwargs = saferepr({"ключ": "значение"}, ARGSREPR_MAXSIZE)
    plan = detail.plan_apply(row(args=args, kwargs=kwargs, queue="extra"), {"cluster.add"})
    assert plan.ok
    assert plan.args == ("héllo\n'quoted' \"twice\"", None)
    assert plan.kwargs == {"ключ": "значение"} and plan.queue == "extra"
    assert detail.describe_call(plan) == (
        "cluster.add('héllo\\n\\'quoted\\' \"twice\"', None, ключ='значение')")
    assert detail.plan_apply(None, {"cluster.add"}).problem == "the task has not been seen"
