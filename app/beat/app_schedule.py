"""Entries of a Celery app's own `beat_schedule` (what the default PersistentScheduler runs).

Its last run times live in beat's shelve file on beat's machine, which celery-scope does not
read: an app entry's last run is the newest matching task in the store.
"""
from __future__ import annotations

from typing import Any

from celery import Celery
from celery.app.utils import find_app
from celery.schedules import maybe_schedule

from .entries import BeatEntry, schedule_text


def load_app(spec: str) -> Celery:
    """`proj.celery:app` or `proj`, found as `celery -A` finds it."""
    return find_app(spec)


def zone_name(celery_app: Celery) -> str:
    """The zone the app's crontabs are read in (`timezone`, UTC by default)."""
    return str(getattr(celery_app.timezone, "key", celery_app.timezone))


def read_app_entries(celery_app: Celery) -> tuple[list[BeatEntry], list[str]]:
    """The app's entries, and one line per entry that cannot be read."""
    entries, problems = [], []
    zone = zone_name(celery_app)
    for name, spec in dict(celery_app.conf.beat_schedule or {}).items():
        try:
            entries.append(_entry(str(name), spec, celery_app, zone))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            problems.append(f"beat_schedule entry {name!s}: cannot be read ({exc!s})")
    return entries, problems


def _entry(name: str, spec: dict[str, Any], celery_app: Celery, zone: str) -> BeatEntry:
    value = maybe_schedule(spec["schedule"], bool(spec.get("relative", False)), app=celery_app)
    return BeatEntry(
        name=name, task=str(spec["task"]), schedule=value,
        schedule_text=schedule_text(value, zone), args=tuple(spec.get("args") or ()),
        kwargs=dict(spec.get("kwargs") or {}), options=dict(spec.get("options") or {}),
        enabled=True, source="app", last_run_at=None, total_run_count=None, key=name)
