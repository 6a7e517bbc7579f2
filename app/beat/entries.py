"""A periodic task as celery-scope lists it, whichever scheduler holds it, and its schedule
said in plain words.

The schedule is kept as Celery's own object (`schedule`, `crontab`, `solar`; a clocked
time as a datetime) so that expected fire times come from Celery's arithmetic
(expected.py); `schedule_text` is what people read.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from celery.schedules import crontab, schedule, solar

SOURCES = ("app", "django", "redbeat")


@dataclass(frozen=True)
class BeatEntry:
    name: str
    task: str
    schedule: Any  # a celery.schedules schedule / crontab / solar, a datetime, or None
    schedule_text: str
    args: tuple
    kwargs: dict
    options: dict  # queue, exchange, routing_key, priority, expires... as the entry has them
    enabled: bool
    source: str  # one of SOURCES
    last_run_at: float | None  # as the scheduler itself recorded it (django, redbeat), epoch s
    total_run_count: int | None
    key: str  # what an action names: django's PeriodicTask id, the RedBeat key, the app's name

    @property
    def queue(self) -> str | None:
        """The queue the entry sends to, when it names one (a name or a kombu Queue)."""
        queue = self.options.get("queue") or self.options.get("routing_key")
        if queue is None:
            return None
        return str(getattr(queue, "name", queue))


_UNITS = ((86400, "day"), (3600, "hour"), (60, "minute"), (1, "second"))
_DAYS = ("Sundays", "Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")
_SOLAR_EVENTS = {"dawn_astronomical": "astronomical dawn", "dawn_nautical": "nautical dawn",
                 "dawn_civil": "civil dawn", "solar_noon": "solar noon",
                 "dusk_civil": "civil dusk", "dusk_nautical": "nautical dusk",
                 "dusk_astronomical": "astronomical dusk"}
LISTED_TIMES = 6  # times of day named in a crontab's text before it says the cron fields


def _number(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".") if value != int(value) else f"{int(value)}"


def interval_text(seconds: float, relative: bool = False) -> str:
    """'every 5 minutes', 'every 2 seconds', 'every hour', 'every 1.5 seconds'."""
    text = f"every {_number(seconds)} seconds"
    for size, unit in _UNITS:
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            text = f"every {unit}" if count == 1 else f"every {count} {unit}s"
            break
    return f"{text}, on the clock" if relative else text


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def _ranges(values: list[int]) -> str:
    """1,3,5-7: runs of consecutive numbers as ranges."""
    runs: list[list[int]] = []
    for value in values:
        if runs and value == runs[-1][-1] + 1:
            runs[-1].append(value)
        else:
            runs.append([value])
    return ",".join(f"{run[0]}-{run[-1]}" if len(run) > 2 else ",".join(map(str, run))
                    for run in runs)


def _step(values: list[int], span: int) -> int | None:
    """The step of values that run 0, n, 2n... across the whole span (a '*/n' field)."""
    if len(values) < 2 or values[0] != 0:
        return None
    step = values[1] - values[0]
    return step if values == list(range(0, span, step)) else None


def _times_of_day(minutes: list[int], hours: list[int]) -> str:
    every_hour = hours == list(range(24))
    if every_hour and minutes == list(range(60)):
        return "every minute"
    minute_step = _step(minutes, 60)
    if every_hour and minute_step:
        return interval_text(minute_step * 60)
    minute_words = f"minute{'s' if len(minutes) > 1 else ''} {_ranges(minutes)}"
    if every_hour:
        return f"every hour at {minute_words}"
    hour_words = f"hour{'s' if len(hours) > 1 else ''} {_ranges(hours)}"
    if minutes == list(range(60)):
        return f"every minute of {hour_words}"
    if len(minutes) * len(hours) <= LISTED_TIMES:
        return "at " + _join([f"{hour:02d}:{minute:02d}" for hour in hours for minute in minutes])
    return f"at {minute_words} of {hour_words}"


def crontab_text(cron: crontab, zone: str) -> str:
    """'at 02:00 on Mondays (Europe/Paris)', 'every minute (UTC)'; Celery requires the day
    of week, day of month and month all to match (not cron's either-or), and so does this."""
    parts = [_times_of_day(sorted(cron.minute), sorted(cron.hour))]
    days = sorted(cron.day_of_week)
    if days == [1, 2, 3, 4, 5]:
        parts.append("on weekdays")
    elif days != list(range(7)):
        parts.append("on " + _join([_DAYS[day] for day in days]))
    month_days = sorted(cron.day_of_month)
    if month_days != list(range(1, 32)):
        plural = "s" if len(month_days) > 1 else ""
        parts.append(f"on day{plural} {_join(list(map(str, month_days)))} of the month")
    months = sorted(cron.month_of_year)
    if months != list(range(1, 13)):
        parts.append("in " + _join([_MONTHS[month - 1] for month in months]))
    return f"{' '.join(parts)} ({zone})"


def solar_text(event: str, latitude: float, longitude: float) -> str:
    """'at sunrise in 48.85, 2.35'."""
    return (f"at {_SOLAR_EVENTS.get(event, event)} in "
            f"{_number(float(latitude))}, {_number(float(longitude))}")


def clocked_text(moment: datetime) -> str:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return f"once, at {aware.astimezone(timezone.utc):%Y-%m-%d %H:%M:%S} UTC"


def schedule_text(value: Any, zone: str = "UTC") -> str:
    """Any schedule beat takes, in plain words; `zone` is the one a crontab is read in."""
    if isinstance(value, crontab):
        return crontab_text(value, zone)
    if isinstance(value, schedule):
        return interval_text(value.run_every.total_seconds(), bool(value.relative))
    if isinstance(value, solar):
        return solar_text(value.event, value.lat, value.lon)
    if isinstance(value, datetime):
        return clocked_text(value)
    return str(value)
