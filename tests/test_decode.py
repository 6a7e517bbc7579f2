"""Decoding raw event messages: what goes through, and what is refused with a reason."""
import base64
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from celery_scope.collector import decode
from celery_scope.collector.decode import (
    MalformedEvent,
    iter_events,
    normalize_event,
    raw_text,
    unwrap_envelope,
)
from celery_scope.store.task_ids import ID_CHARS, clip_id


def envelope(body, content_type="application/json", encoding="base64"):
    payload = json.dumps(body).encode()
    if encoding == "base64":
        payload = base64.b64encode(payload).decode()
    else:
        payload = payload.decode()
    return json.dumps({"body": payload, "content-type": content_type,
                       "properties": {"body_encoding": encoding}}).encode()


HEARTBEAT = {"type": "worker-heartbeat", "hostname": "w@h", "timestamp": 1.5, "active": 1}
RECEIVED = {"type": "task-received", "uuid": "u1", "timestamp": 2, "hostname": "w@h"}


def test_unwraps_a_base64_envelope_holding_a_list_of_events():
    events = list(iter_events(envelope([RECEIVED, HEARTBEAT])))
    assert [event["type"] for event in events] == ["task-received", "worker-heartbeat"]
    assert events[0]["timestamp"] == 2.0 and isinstance(events[0]["timestamp"], float)


def test_plain_body_encoding_and_already_decoded_bodies():
    assert unwrap_envelope(envelope(HEARTBEAT, encoding=None)) == HEARTBEAT
    (event,) = iter_events(dict(HEARTBEAT))
    assert event["hostname"] == "w@h"


@pytest.mark.parametrize("raw, reason", [
    pytest.param(b"\xff\x00garbage", "not a kombu message envelope", id="not-json"),
    pytest.param(b'{"no": "body"}', "not a kombu message envelope", id="no-body"),
    pytest.param(b'{"body": "!!!", "properties": {"body_encoding": "base64"}}', "undecodable",
                 id="bad-base64"),
    pytest.param(envelope(HEARTBEAT, content_type="application/x-python-serialize"),
                 "unsupported content type", id="pickle-refused"),
])
def test_bad_messages_are_reported_not_raised(raw, reason):
    (problem,) = list(iter_events(raw))
    assert isinstance(problem, MalformedEvent) and reason in str(problem)


@pytest.mark.parametrize("event, reason", [
    pytest.param([1, 2], "not an object", id="not-a-dict"),
    pytest.param({"type": "bogus", "timestamp": 1}, "unknown event type", id="bad-type"),
    pytest.param({"type": "task-received", "uuid": "u"}, "numeric timestamp", id="no-timestamp"),
    pytest.param({"type": "task-received", "timestamp": 1}, "task uuid", id="no-uuid"),
    pytest.param({"type": "worker-heartbeat", "timestamp": 1}, "hostname", id="no-hostname"),
    pytest.param({"type": "task-succeeded", "uuid": "u", "timestamp": 1, "runtime": "fast"},
                 "non-numeric runtime", id="bad-runtime"),
])
def test_invalid_events(event, reason):
    with pytest.raises(MalformedEvent, match=reason):
        normalize_event(event)


def test_one_bad_event_in_a_group_spares_the_others():
    results = list(iter_events(envelope([RECEIVED, {"type": "task-started"}, HEARTBEAT])))
    assert [type(result).__name__ for result in results] == ["dict", "MalformedEvent", "dict"]


def test_numeric_strings_are_coerced():
    event = normalize_event({"type": "task-succeeded", "uuid": "u", "timestamp": "3.5",
                             "runtime": "0.25", "retries": "2"})
    assert (event["timestamp"], event["runtime"], event["retries"]) == (3.5, 0.25, 2)


# -- hostile events: each field made safe for the store, or the event refused -------------

UUID88 = "nightly-report-" + "0" * 36 + "-" + "1" * 36


@pytest.mark.parametrize("event, reason", [
    pytest.param({**RECEIVED, "name": {"a": 1}}, "name is dict", id="name-object"),
    pytest.param({**RECEIVED, "hostname": ["w"]}, "hostname is list", id="hostname-array"),
    pytest.param({**RECEIVED, "name": 5}, "name is int", id="name-integer"),
    pytest.param({**HEARTBEAT, "loadavg": ["x", "y", "z"]}, "non-numeric loadavg",
                 id="loadavg-text"),
    pytest.param({**HEARTBEAT, "loadavg": [1, 2]}, "three numbers", id="loadavg-short"),
    pytest.param({**RECEIVED, "timestamp": "nan"}, "non-finite timestamp", id="timestamp-nan"),
    pytest.param({**RECEIVED, "timestamp": float("inf")}, "non-finite", id="timestamp-inf"),
    pytest.param({**RECEIVED, "timestamp": 1e20}, "out of range", id="timestamp-past-9999"),
    pytest.param({**RECEIVED, "queue": {"q": 1}}, "queue is dict", id="queue-object"),
    pytest.param({**HEARTBEAT, "sw_ident": {"x": 1}}, "sw_ident is dict", id="sw-ident-object"),
    pytest.param({**HEARTBEAT, "processed": 2**63}, "out of range", id="processed-huge"),
    pytest.param({**RECEIVED, "retries": 2**64}, "out of range", id="retries-huge"),
    pytest.param({**RECEIVED, "retries": 1.5}, "fractional", id="retries-fraction"),
    pytest.param({**RECEIVED, "uuid": 7}, "uuid is int", id="uuid-integer"),
    pytest.param({**RECEIVED, "type": "task-" + "x" * 40}, "unknown event type",
                 id="state-too-long"),
    pytest.param({**RECEIVED, "runtime": True}, "non-numeric runtime", id="runtime-bool"),
])
def test_hostile_fields_are_refused_with_the_reason(event, reason):
    with pytest.raises(MalformedEvent, match=reason) as refused:
        normalize_event(event)
    assert refused.value.raw == event


def test_text_is_cleaned_and_bounded():
    event = normalize_event({**RECEIVED, "name": "a\x00b" * 200, "args": "(\x00,)",
                             "queue": "q\x00", "kwargs": {"not": "text"},
                             "uuid": UUID88, "parent_id": "p" * 1000})
    assert "\x00" not in event["name"] + event["args"] + event["queue"]
    assert len(event["name"]) == decode.NAME_CHARS and event["name"].endswith("]")
    assert event["kwargs"] == "{'not': 'text'}"
    assert event["uuid"] == UUID88  # 88 characters: kept whole
    assert len(event["parent_id"]) == ID_CHARS
    assert clip_id("p" * 1000) == event["parent_id"] != clip_id("p" * 999 + "q")
    assert "extra" not in normalize_event({**RECEIVED, "extra": "x" * 10**6})


def test_raw_text_is_bounded_and_has_no_nul():
    assert raw_text(b"a\x00\xff") == "a\\x00\\xff"
    long = raw_text({"name": "x" * 10**6})
    assert len(long) < decode.RAW_CHARS + 100 and "more characters" in long


_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(),
                     st.binary().map(lambda b: b.decode("latin-1")))
_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=3)
                       | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=6)
_FIELDS = ["name", "queue", "exchange", "routing_key",
           "args", "kwargs", "result", "exception", "traceback", "retries", "runtime", "eta",
           "expires", "parent_id", "root_id", "active", "processed", "freq", "pid", "loadavg",
           "sw_ident", "sw_ver", "sw_sys"]
_hostile_events = st.fixed_dictionaries(
    {"type": st.sampled_from(["task-received", "task-succeeded", "worker-heartbeat"]),
     "uuid": st.text(min_size=1), "hostname": st.text(min_size=1),
     "timestamp": st.floats() | st.integers() | st.text()},
    optional={field: _values for field in _FIELDS})


@settings(max_examples=400, deadline=None)
@given(_hostile_events)
def test_any_event_is_made_safe_or_refused(event):
    try:
        clean = normalize_event(event)
    except MalformedEvent as problem:
        assert problem.reason and problem.raw is event
        return
    assert 0 <= clean["timestamp"] <= decode.LATEST_TIMESTAMP
    for field, value in clean.items():
        if isinstance(value, str):
            assert "\x00" not in value and len(value) <= decode.TEXT_CHARS
        elif field == "loadavg":
            assert all(math.isfinite(number) for number in value)
        else:
            assert isinstance(value, (int, float)) and math.isfinite(value), field
            if isinstance(value, int):
                assert decode.INT_RANGE[0] <= value <= decode.INT_RANGE[1]
