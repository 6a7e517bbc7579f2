"""Entries RedBeat keeps in Redis: the sorted set `<prefix>:schedule` lists every entry's
key (scored by its next due time), and each key is a hash whose `definition` and `meta`
fields hold JSON written by RedBeat's RedBeatJSONEncoder (`__type__` objects for intervals,
crontabs, datetimes, rrules).

Read only (ZRANGE, HGET). The prefix is RedBeat's `redbeat_key_prefix`; RedBeat's own default
is `redbeat:`, so `redbeat` finds it too.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import redis
from celery import Celery
from celery.schedules import crontab, schedule

from .app_schedule import zone_name
from .entries import BeatEntry, schedule_text


def schedule_keys(prefix: str) -> list[str]:
    """Where RedBeat's sorted set may be: the prefix as given, then with RedBeat's colon."""
    keys = [f"{prefix}:schedule"]
    if not prefix.endswith(":"):
        keys.append(f"{prefix}::schedule")
    return keys


def decoder(celery_app: Celery):
    """A json object_hook reading RedBeat's `__type__` objects as Celery's schedules."""
    def decode(value: dict[str, Any]) -> Any:
        kind = value.get("__type__")
        if kind == "interval":
            return schedule(run_every=value["every"], relative=bool(value.get("relative")),
                            app=celery_app)
        if kind == "crontab":
            fields = {key: value[key] for key in ("minute", "hour", "day_of_week",
                                                  "day_of_month", "month_of_year")}
            return crontab(**fields, app=celery_app)
        if kind == "datetime":
            return _datetime(value)
        if kind in ("rrule", "weekday"):
            return _redbeat_object(value)
        return value
    return decode


def _datetime(value: dict[str, Any]) -> datetime:
    zone = value.get("timezone", "UTC")
    zone_info = (timezone(timedelta(seconds=float(zone))) if isinstance(zone, (int, float))
                 else ZoneInfo(str(zone)))
    fields = {key: int(value[key]) for key in ("year", "month", "day", "hour", "minute",
                                               "second", "microsecond")}
    return datetime(**fields, tzinfo=zone_info)


def _redbeat_object(value: dict[str, Any]) -> Any:
    """RedBeat's own rrule class, when RedBeat is installed here (celery-scope[beat])."""
    try:
        from redbeat.decoder import RedBeatJSONDecoder
    except ImportError:
        return value
    return RedBeatJSONDecoder().dict_to_object(dict(value))


def read_redbeat_entries(client: redis.Redis, prefix: str, celery_app: Celery
                         ) -> tuple[list[BeatEntry], list[str]]:
    """Every entry the sorted set names, and one line per key that cannot be read."""
    keys: list[Any] = []
    for schedule_key in schedule_keys(prefix):
        keys = client.zrange(schedule_key, 0, -1)
        if keys:
            break
    with client.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.hmget(key, ["definition", "meta"])
        fields = pipe.execute()
    hook = decoder(celery_app)
    zone = zone_name(celery_app)
    entries, problems = [], []
    for key, (definition, meta) in zip(keys, fields):
        name = key.decode(errors="replace")
        if definition is None:
            continue  # deleted between the two reads
        try:
            entries.append(_entry(name, json.loads(definition, object_hook=hook),
                                  json.loads(meta, object_hook=hook) if meta else {}, zone))
        except (ValueError, KeyError, TypeError) as exc:
            problems.append(f"RedBeat entry {name}: cannot be read ({exc!s})")
    return entries, problems


def _entry(key: str, definition: dict[str, Any], meta: dict[str, Any], zone: str) -> BeatEntry:
    value = definition["schedule"]
    if isinstance(value, dict):
        raise ValueError(f"unknown schedule type {value.get('__type__')!s} "
                         "(an rrule needs celery-redbeat installed here)")
    last_run = meta.get("last_run_at")
    return BeatEntry(
        name=str(definition["name"]), task=str(definition["task"]), schedule=value,
        schedule_text=schedule_text(value, zone), args=tuple(definition.get("args") or ()),
        kwargs=dict(definition.get("kwargs") or {}),
        options=dict(definition.get("options") or {}),
        enabled=bool(definition.get("enabled", True)), source="redbeat",
        last_run_at=last_run.timestamp() if isinstance(last_run, datetime) else None,
        total_run_count=meta.get("total_run_count"), key=key)
