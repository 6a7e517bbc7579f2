"""Turn raw event messages into safe event dicts, or say exactly why not.

A message is either a kombu envelope as bytes (the Redis fast path) or a body already
decoded by kombu (other transports). Its body is one event or a list of events (workers
send task events in buffered groups). Only JSON is accepted: events are never unpickled.

Anyone who can publish to the broker can send an event, so each one is checked field by
field against what the store can hold before it goes anywhere near it: text for names
and hostnames, finite numbers for times, integers in the columns' range, no NUL, bounded
lengths. What cannot be made safe is refused with the reason and the raw event, which the
writer puts in the quarantine.
"""
from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Iterator
from typing import Any

import orjson

from ..store.task_ids import clip_id

_JSON_TYPES = ("application/json", "json")

# task names, hostnames, queues: three share one index entry (PostgreSQL: 2,704 bytes)
NAME_CHARS = 200
TEXT_CHARS = 100_000  # args, kwargs, result, exception, traceback
RAW_CHARS = 65_536  # of a refused event, kept in the quarantine
LATEST_TIMESTAMP = 253402300799.0  # 9999-12-31T23:59:59Z: later times cannot be shown as dates
INT_RANGE = (-(2**31), 2**31 - 1)  # the store's Integer columns (PostgreSQL's integer)
_EVENT_TYPE = re.compile(r"(task|worker)-[a-z0-9_-]{1,27}")  # the state column holds 32 chars

# `periodic_task_name`, `group` and `group_index` come in the worker hook's
# task-scope-headers event (beat/worker_hook.py).
_IDS = ("uuid", "parent_id", "root_id", "group")
_NAMES = ("name", "hostname", "queue", "exchange", "routing_key", "sw_ident", "sw_ver",
          "sw_sys", "eta", "expires", "periodic_task_name")
_TEXTS = ("args", "kwargs", "result", "exception", "traceback")
_FLOATS = ("runtime", "freq")
_INTS = ("retries", "active", "processed", "pid", "group_index")


class MalformedEvent(ValueError):
    """An event or message that cannot be ingested; the text says why, `raw` shows it."""

    def __init__(self, reason: str, raw: Any = None):
        super().__init__(reason)
        self.reason, self.raw = reason, raw


def raw_text(raw: Any) -> str:
    """A refused message or event as bounded text with no NUL, for the quarantine."""
    if isinstance(raw, (bytes, bytearray, memoryview)):
        text = bytes(raw).decode("utf-8", errors="backslashreplace")
    else:
        try:
            text = orjson.dumps(raw, default=repr).decode()
        except (TypeError, orjson.JSONEncodeError):
            text = repr(raw)
    text = text.replace("\x00", "\\x00")
    if len(text) > RAW_CHARS:
        text = f"{text[:RAW_CHARS]}…[{len(text) - RAW_CHARS} more characters]"
    return text


def unwrap_envelope(raw: bytes | bytearray | memoryview) -> Any:
    """Decode a kombu message envelope (as the Redis transport publishes it) to its body."""
    try:
        envelope = orjson.loads(raw)
        body = envelope["body"]
        properties = envelope.get("properties") or {}
        content_type = envelope.get("content-type", "application/json")
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise MalformedEvent(f"not a kombu message envelope: {exc}", raw) from None
    if content_type not in _JSON_TYPES:
        raise MalformedEvent(f"unsupported content type {content_type!r} (events must be JSON)",
                             raw)
    try:
        if properties.get("body_encoding") == "base64":
            body = base64.b64decode(body, validate=True)
        return orjson.loads(body)
    except (binascii.Error, orjson.JSONDecodeError, TypeError, ValueError, AttributeError) as exc:
        raise MalformedEvent(f"undecodable event body: {exc}", raw) from None


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    marker = f"…[+{len(text) - limit}]"
    return text[:limit - len(marker)] + marker


def _text(kind: str, field: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{kind} event whose {field} is {type(value).__name__}, not text")
    return value.replace("\x00", "")


def _number(kind: str, field: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{kind} event with a non-numeric {field}: {type(value).__name__}")
    try:
        number = float(value)
    except (ValueError, OverflowError):
        raise ValueError(f"{kind} event with a non-numeric {field}: {str(value)[:40]!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{kind} event with a non-finite {field}: {number}")
    return number


def _integer(kind: str, field: str, value: Any) -> int:
    number = _number(kind, field, value)
    if not number.is_integer():
        raise ValueError(f"{kind} event with a fractional {field}: {number}")
    low, high = INT_RANGE
    whole = int(value) if isinstance(value, int) else int(number)
    if not low <= whole <= high:
        raise ValueError(f"{kind} event with {field} out of range: {str(whole)[:40]}")
    return whole


def _id(kind: str, field: str, value: Any) -> str:
    return clip_id(_text(kind, field, value))


def _name(kind: str, field: str, value: Any) -> str:
    return _clip(_text(kind, field, value), NAME_CHARS)


def _long_text(_kind: str, _field: str, value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)  # Celery sends reprs
    return _clip(text.replace("\x00", ""), TEXT_CHARS)


def _loadavg(kind: str, _field: str, value: Any) -> list[float]:
    if not isinstance(value, (list, tuple)) or len(value) != 3:
        raise ValueError(f"{kind} event whose loadavg is not three numbers")
    return [_number(kind, "loadavg", number) for number in value]


# How each field used is made safe; every other field is dropped. The event's own fields
# are walked (5 to 15 of them), not this table: the decoder is a tenth of the writer's time.
_CHECKS = {**dict.fromkeys(_IDS, _id), **dict.fromkeys(_NAMES, _name),
           **dict.fromkeys(_TEXTS, _long_text), **dict.fromkeys(_FLOATS, _number),
           **dict.fromkeys(_INTS, _integer), "loadavg": _loadavg}


def _checked(event: dict[str, Any]) -> dict[str, Any]:
    kind = event.get("type")
    if not isinstance(kind, str) or not _EVENT_TYPE.fullmatch(kind):
        raise ValueError(f"unknown event type {str(kind)[:40]!r}")
    clean: dict[str, Any] = {"type": kind}
    if "timestamp" not in event:
        raise ValueError(f"{kind} event without a numeric timestamp")
    timestamp = _number(kind, "timestamp", event["timestamp"])
    if not 0 <= timestamp <= LATEST_TIMESTAMP:
        raise ValueError(f"{kind} event with a timestamp out of range: {timestamp}")
    clean["timestamp"] = timestamp
    for field, value in event.items():
        check = _CHECKS.get(field)
        if check is not None and value is not None:
            clean[field] = check(kind, field, value)
    if kind.startswith("task-") and not clean.get("uuid"):
        raise ValueError(f"{kind} event without a task uuid")
    if kind.startswith("worker-") and not clean.get("hostname"):
        raise ValueError(f"{kind} event without a hostname")
    return clean


def normalize_event(event: Any) -> dict[str, Any]:
    """The event with only the fields celery-scope uses, each safe for the store; raise
    MalformedEvent (with the reason and the event) if it cannot be made so."""
    if not isinstance(event, dict):
        raise MalformedEvent(f"event is a {type(event).__name__}, not an object", event)
    try:
        return _checked(event)
    except ValueError as problem:
        raise MalformedEvent(str(problem), event) from None


def iter_events(item: Any) -> Iterator[dict[str, Any] | MalformedEvent]:
    """Yield each event of one message, or a MalformedEvent in place of each bad one."""
    try:
        body = unwrap_envelope(item) if isinstance(item, (bytes, bytearray, memoryview)) else item
    except MalformedEvent as problem:
        yield problem
        return
    for event in body if isinstance(body, list) else (body,):
        try:
            yield normalize_event(event)
        except MalformedEvent as problem:
            yield problem
