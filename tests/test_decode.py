"""Decoding raw event messages: what goes through, and what is refused with a reason."""
import base64
import json

import pytest

from app.collector.decode import MalformedEvent, iter_events, normalize_event, unwrap_envelope


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
