"""Entries of django-celery-beat's tables, read with plain SQL (no Django here): each
PeriodicTask with its interval, crontab (and its time zone), solar or clocked schedule, its
enabled flag, last run and run count as the DatabaseScheduler recorded them.

Only SELECTs are sent. Times without a zone are read as UTC (Django's USE_TZ, the default,
stores UTC).
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from celery import Celery
from celery.exceptions import ImproperlyConfigured
from celery.schedules import crontab, schedule, solar
from sqlalchemy import text
from sqlalchemy.engine import Engine

from .entries import BeatEntry, schedule_text, solar_text

ENTRIES_SQL = text("""
SELECT t.id, t.name, t.task, t.args, t.kwargs, t.queue, t.exchange, t.routing_key,
       t.priority, t.expires, t.expire_seconds, t.headers, t.enabled, t.last_run_at,
       t.total_run_count,
       i.every, i.period,
       c.minute, c.hour, c.day_of_week, c.day_of_month, c.month_of_year, c.timezone,
       s.event, s.latitude, s.longitude,
       k.clocked_time
FROM django_celery_beat_periodictask t
LEFT JOIN django_celery_beat_intervalschedule i ON t.interval_id = i.id
LEFT JOIN django_celery_beat_crontabschedule c ON t.crontab_id = c.id
LEFT JOIN django_celery_beat_solarschedule s ON t.solar_id = s.id
LEFT JOIN django_celery_beat_clockedschedule k ON t.clocked_id = k.id
ORDER BY t.name
""")


def as_utc(value: Any) -> datetime | None:
    """A DateTimeField as the driver returns it (SQLite: text; PostgreSQL: a datetime)."""
    if value is None or value == "":
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def read_django_entries(engine: Engine, celery_app: Celery) -> tuple[list[BeatEntry], list[str]]:
    """Every PeriodicTask, and one line per row that cannot be read as it should."""
    with engine.connect() as connection:
        rows = connection.execute(ENTRIES_SQL).mappings().all()
    entries, problems = [], []
    for row in rows:
        try:
            entry, problem = _entry(row, celery_app)
        except (TypeError, ValueError, KeyError) as exc:
            problems.append(f"django-celery-beat task {row['name']!s}: cannot be read ({exc!s})")
            continue
        entries.append(entry)
        if problem:
            problems.append(problem)
    return entries, problems


def _json(value: Any, kind: type, default: Any) -> Any:
    parsed = json.loads(value) if value not in (None, "") else default
    if not isinstance(parsed, kind):
        raise ValueError(f"{value!r} is not a JSON {kind.__name__}")
    return parsed


def _schedule(row: Any, celery_app: Celery) -> tuple[Any, str, str | None]:
    """The row's schedule as Celery's object, its words, and what keeps it from being
    evaluated here (or None)."""
    if row["every"] is not None:
        value: Any = schedule(timedelta(**{row["period"]: row["every"]}), app=celery_app)
        return value, schedule_text(value), None
    if row["minute"] is not None:
        value = crontab(minute=row["minute"], hour=row["hour"], day_of_week=row["day_of_week"],
                        day_of_month=row["day_of_month"], month_of_year=row["month_of_year"],
                        app=celery_app)
        zone = str(row["timezone"] or "UTC")
        try:
            value.tz = ZoneInfo(zone)  # django-celery-beat's crontabs run in their own zone
        except (ZoneInfoNotFoundError, ValueError):
            return value, schedule_text(value, zone), f"unknown time zone {zone}"
        return value, schedule_text(value, zone), None
    if row["event"] is not None:
        latitude, longitude = float(row["latitude"]), float(row["longitude"])
        words = solar_text(row["event"], latitude, longitude)
        try:
            return solar(row["event"], latitude, longitude, app=celery_app), words, None
        except ImproperlyConfigured:
            return None, words, "solar schedules need the ephem package to be evaluated"
    if row["clocked_time"] is not None:
        moment = as_utc(row["clocked_time"])
        return moment, schedule_text(moment), None
    return None, "no schedule", "it has no schedule"


def _entry(row: Any, celery_app: Celery) -> tuple[BeatEntry, str | None]:
    value, words, problem = _schedule(row, celery_app)
    options: dict[str, Any] = {key: row[key] for key in ("queue", "exchange", "routing_key",
                                                          "priority") if row[key] is not None}
    expires = as_utc(row["expires"]) or row["expire_seconds"]
    if expires is not None:
        options["expires"] = expires
    headers = _json(row["headers"], dict, {})
    if headers:
        options["headers"] = headers
    last_run = as_utc(row["last_run_at"])
    entry = BeatEntry(
        name=str(row["name"]), task=str(row["task"]), schedule=value, schedule_text=words,
        args=tuple(_json(row["args"], list, [])), kwargs=_json(row["kwargs"], dict, {}),
        options=options, enabled=bool(row["enabled"]), source="django",
        last_run_at=last_run.timestamp() if last_run else None,
        total_run_count=row["total_run_count"], key=str(row["id"]))
    return entry, (f"django-celery-beat task {entry.name}: {problem}" if problem else None)
