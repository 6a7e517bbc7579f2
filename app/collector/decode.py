"""Turn raw event messages into validated event dicts, or say exactly why not.

A message is either a kombu envelope as bytes (the Redis fast path) or a body already
decoded by kombu (other transports). Its body is one event or a list of events (workers
send task events in buffered groups). Only JSON is accepted: events are never unpickled.
"""
from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from typing import Any

import orjson

_JSON_TYPES = ("application/json", "json")
_NUMERIC = {"runtime": float, "retries": int, "active": int, "processed": int, "freq": float,
            "pid": int}


class MalformedEvent(ValueError):
    """An event or message that cannot be ingested; the text says why."""


def unwrap_envelope(raw: bytes) -> Any:
    """Decode a kombu message envelope (as the Redis transport publishes it) to its body."""
    try:
        envelope = orjson.loads(raw)
        body = envelope["body"]
        properties = envelope.get("properties") or {}
        content_type = envelope.get("content-type", "application/json")
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise MalformedEvent(f"not a kombu message envelope: {exc}") from None
    if content_type not in _JSON_TYPES:
        raise MalformedEvent(f"unsupported content type {content_type!r} (events must be JSON)")
    try:
        if properties.get("body_encoding") == "base64":
            body = base64.b64decode(body, validate=True)
        return orjson.loads(body)
    except (binascii.Error, orjson.JSONDecodeError, TypeError, ValueError) as exc:
        raise MalformedEvent(f"undecodable event body: {exc}") from None


def normalize_event(event: Any) -> dict[str, Any]:
    """Validate one event dict and coerce its typed fields; raise MalformedEvent if unusable."""
    if not isinstance(event, dict):
        raise MalformedEvent(f"event is a {type(event).__name__}, not an object")
    kind = event.get("type")
    if not isinstance(kind, str) or not kind.startswith(("task-", "worker-")):
        raise MalformedEvent(f"unknown event type {kind!r}")
    try:
        event["timestamp"] = float(event["timestamp"])
    except (KeyError, TypeError, ValueError):
        raise MalformedEvent(f"{kind} event without a numeric timestamp") from None
    if kind.startswith("task-"):
        if not isinstance(event.get("uuid"), str) or not event["uuid"]:
            raise MalformedEvent(f"{kind} event without a task uuid")
    elif not isinstance(event.get("hostname"), str) or not event["hostname"]:
        raise MalformedEvent(f"{kind} event without a hostname")
    for field, kind_of in _NUMERIC.items():
        value = event.get(field)
        if value is not None and not isinstance(value, kind_of):
            try:
                event[field] = kind_of(value)
            except (TypeError, ValueError):
                raise MalformedEvent(f"{kind} event with a non-numeric {field}: {value!r}") from None
    return event


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
