"""Queue latency: how long the oldest waiting message of a queue has waited. Pure functions
over what the broker shows of each queue's head (broker/queue_lengths.queue_heads).

The age comes from the task's `sent` time in the store when clients send task-sent events
(or from the publisher's timestamp, on RabbitMQ), source "sent"; otherwise from when the
queue sampler first saw that message at the head, source "first_seen" — a lower bound,
short of the truth by up to one sample interval, and by however long the message waited
behind others before it became the oldest.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

MAX_FIRST_SEEN = 10_000  # message ids remembered; heads only, so a few per queue in practice


class FirstSeen:
    """When the sampler first saw each message at a queue's head, kept for the heads of
    the latest round only (so bounded by queues × priority levels, and by a hard cap)."""

    def __init__(self, limit: int = MAX_FIRST_SEEN):
        self.limit = limit
        self._seen: dict[str, float] = {}

    def mark(self, task_ids: Iterable[str], now: float) -> dict[str, float]:
        kept: dict[str, float] = {}
        for task_id in task_ids:
            if len(kept) >= self.limit:
                break
            kept[task_id] = self._seen.get(task_id, now)
        self._seen = kept
        return kept


def head_age(level: Mapping[str, Any], sent: Mapping[str, float],
             first_seen: Mapping[str, float], now: float) -> tuple[float | None, str | None]:
    """(seconds waited, source) of one priority level's oldest message; (0, None) when the
    level is empty and (None, None) when its age cannot be told."""
    if not level.get("messages"):
        return 0.0, None
    task_id, stamp = str(level.get("task_id") or ""), level.get("timestamp")
    if stamp is not None:
        return max(0.0, now - stamp), "sent"
    if task_id in sent:
        return max(0.0, now - sent[task_id]), "sent"
    if task_id in first_seen:
        return max(0.0, now - first_seen[task_id]), "first_seen"
    return None, None


def queue_latency(levels: Sequence[Mapping[str, Any]] | None, sent: Mapping[str, float],
                  first_seen: Mapping[str, float], now: float) -> dict[str, Any]:
    """A queue's latency (the oldest of its priority levels) and each non-empty level's:
    {"latency_seconds", "latency_source", "priorities": [{priority, messages,
    latency_seconds, latency_source}]}. Unknown (None) when the broker shows no heads."""
    if levels is None:
        return {"latency_seconds": None, "latency_source": None, "priorities": None}
    priorities, worst, source, unknown = [], 0.0, None, False
    for level in levels:
        age, how = head_age(level, sent, first_seen, now)
        if level.get("messages"):
            priorities.append({"priority": level.get("priority"), "messages": level["messages"],
                               "latency_seconds": age, "latency_source": how})
        unknown = unknown or age is None  # one unknown level makes the queue's figure unknown
        if age is not None and how is not None and age >= worst:
            worst, source = age, how
    ranked = any(level.get("priority") is not None for level in levels)  # Redis's levels
    return {"latency_seconds": None if unknown else worst,
            "latency_source": None if unknown else source,
            "priorities": priorities if ranked else None}
