"""Acting on a periodic task: run it now, and enable or disable it where its scheduler keeps
its entries in a database (django-celery-beat's tables, RedBeat's Redis hashes).

Pages and the API call the same functions, so both pass the same gates in the same order —
read-only, role, the entry exists — and every call, refused or not, leaves one audit record
(its action named like the API route's endpoint, so a refusal made by the API's own gate
before the route runs lands under the same name).
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any

import redis
from sqlalchemy import create_engine, text

from ..auth.gated_action import gated_action
from ..broker.gate import BrokerUnavailable, ControlError
from ..broker.publish import publish_task
from ..services import Services
from .entries import BeatEntry
from .sources import for_services
from .view import entry as find_entry

RUN, ENABLE, DISABLE = "beat_run", "beat_enable", "beat_disable"
SWITCHABLE = ("django", "redbeat")  # sources whose entries celery-scope can switch on and off
_ROUTING = ("exchange", "routing_key", "priority")  # options run-now keeps beside the queue
HEADER = "periodic_task_name"  # django-celery-beat's header naming the entry; the hook reads it


class UnknownEntry(ControlError):
    def __init__(self, name: str):
        super().__init__(f"unknown periodic task {name!r}: no schedule source lists it")
        self.name = name


class NotSwitchable(ControlError):
    """The entry's scheduler reads it from code: only a change to that code disables it."""


@dataclass(frozen=True)
class Switched:
    entry: BeatEntry  # as it stands after the change
    changed: bool  # False: it already was as asked


def run_options(entry: BeatEntry) -> dict[str, Any]:
    """apply_async's options for a manual run: the entry's queue, exchange, routing key,
    priority and headers, with the header django-celery-beat's own "run now" adds."""
    options: dict[str, Any] = {}
    if entry.queue is not None:
        options["queue"] = entry.queue
    for key in _ROUTING:
        value = entry.options.get(key)
        if value is not None:
            options[key] = getattr(value, "name", value) if key == "exchange" else value
    headers = entry.options.get("headers")
    options["headers"] = {**(headers if isinstance(headers, dict) else {}), HEADER: entry.name}
    return options


def _gated(services: Services, action: str, name: str, role: str,
           act: Callable[[BeatEntry], tuple[Any, str]]) -> Any:
    """Read-only, role, the entry exists; then `act` on it."""
    params: dict[str, Any] = {}

    def on_entry() -> tuple[Any, str]:
        entry = find_entry(services, name)
        if entry is None:
            raise UnknownEntry(name)
        params.update(task=entry.task, source=entry.source)
        return act(entry)
    return gated_action(services, action, name, role, on_entry, params=params,
                        verb=f"{action.removeprefix('beat_')} a periodic task")


def run_now(services: Services, name: str) -> str:
    """Send the entry's task now, as beat would (operator; its args as a list, as beat's
    apply_async passes them, so the run's args text is the one matching looks for); the new
    task's id."""
    def send(entry: BeatEntry) -> tuple[str, str]:
        app = services.celery_app
        if app is None:
            raise BrokerUnavailable("no broker connection yet: the collector is still starting")
        result = publish_task(app, entry.task, list(entry.args), dict(entry.kwargs),
                              run_options(entry), services.settings.inspect_timeout)
        return result.id, f"sent {entry.task} as {result.id}"

    return _gated(services, RUN, name, "operator", send)


def set_enabled(services: Services, name: str, enabled: bool) -> Switched:
    """Switch a django-celery-beat or RedBeat entry on or off (admin), so its running beat
    stops or resumes sending it; an app entry is NotSwitchable."""
    def switch(entry: BeatEntry) -> tuple[Switched, str]:
        if entry.source not in SWITCHABLE:
            raise NotSwitchable(
                f"{entry.name} comes from the app's beat_schedule: remove it there (or give "
                "it to django-celery-beat or RedBeat) to stop it; celery-scope cannot")
        # The scheduler's own store says how it stands (the listing may be a refresh old).
        switch_in = _switch_django if entry.source == "django" else _switch_redbeat
        changed = switch_in(services, entry, enabled)
        for_services(services).forget()  # the listing shows the switch at once
        state = "enabled" if enabled else "disabled"
        return (Switched(replace(entry, enabled=enabled), changed),
                f"{state} in {entry.source}" if changed else f"already {state}")

    return _gated(services, ENABLE if enabled else DISABLE, name, "admin", switch)


# -- django-celery-beat ------------------------------------------------------------------

_ENABLED = text("SELECT enabled FROM django_celery_beat_periodictask WHERE id = :id")
_PERIODIC_TASK = text("UPDATE django_celery_beat_periodictask SET enabled = :enabled, "
                      "date_changed = :now, last_run_at = CASE WHEN :enabled THEN last_run_at "
                      "ELSE NULL END WHERE id = :id")
_LAST_CHANGE = text("SELECT last_update FROM django_celery_beat_periodictasks WHERE ident = 1")
_BUMP = text("UPDATE django_celery_beat_periodictasks SET last_update = :at WHERE ident = 1")
_FIRST_CHANGE = text("INSERT INTO django_celery_beat_periodictasks (ident, last_update) "
                     "VALUES (1, :at)")


def _stored_time(value: Any) -> datetime | None:
    """A DateTimeField as the driver gives it (SQLite: text), naive UTC."""
    if value is None or value == "":
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.astimezone(timezone.utc).replace(tzinfo=None) if moment.tzinfo else moment


def change_mark(previous: datetime | None, now: datetime) -> datetime:
    """The `last_update` to write: now, but always after the one there, so the scheduler's
    `ts > last` test sees a change even when its clock or zone setting differs from ours."""
    if previous is not None and previous >= now:
        return previous + timedelta(milliseconds=1)
    return now


def _switch_django(services: Services, entry: BeatEntry, enabled: bool) -> bool:
    """What PeriodicTask.save() does (a disabled task forgets its last run) and then
    PeriodicTasks.changed(): the DatabaseScheduler reloads once `last_update` grows.
    Whether the flag changed."""
    url = services.settings.beat_db
    if not url:
        raise ControlError("no --beat-db is configured")
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            found = connection.execute(_ENABLED, {"id": int(entry.key)}).first()
            if found is None:
                raise UnknownEntry(entry.name)
            if bool(found[0]) == enabled:
                return False
            now = datetime.now(timezone.utc).replace(tzinfo=None)  # Django's USE_TZ: UTC
            connection.execute(_PERIODIC_TASK, {"enabled": enabled, "now": now,
                                                "id": int(entry.key)})
            previous = _stored_time(connection.execute(_LAST_CHANGE).scalar())
            at = change_mark(previous, now)
            if not connection.execute(_BUMP, {"at": at}).rowcount:
                connection.execute(_FIRST_CHANGE, {"at": at})
        return True
    finally:
        engine.dispose()


# -- RedBeat -----------------------------------------------------------------------------

def redbeat_url(services: Services) -> str:
    """The Redis RedBeat's entries were read from (--redbeat-redis-url)."""
    url = services.settings.redbeat_redis_url
    if not url:
        raise ControlError("no --redbeat-redis-url is configured")
    return url


def switched_definition(definition: bytes | str, enabled: bool) -> tuple[str, bool]:
    """RedBeat's `definition` JSON with `enabled` set, every other field kept as stored; and
    whether that changed it (RedBeat counts a definition without the field as enabled)."""
    loaded = json.loads(definition)
    if not isinstance(loaded, dict):
        raise ControlError("the RedBeat definition is not a JSON object")
    return json.dumps({**loaded, "enabled": enabled}), loaded.get("enabled", True) != enabled


def _switch_redbeat(services: Services, entry: BeatEntry, enabled: bool) -> bool:
    """Rewrite the entry hash's `definition` (RedBeat reads it at every tick; a disabled
    entry stays in the schedule and is skipped), watching it so a concurrent save wins.
    Whether the flag changed."""
    client = redis.Redis.from_url(redbeat_url(services), socket_timeout=5,
                                  socket_connect_timeout=5)
    try:
        with client.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(entry.key)
                    definition = pipe.hget(entry.key, "definition")
                    if definition is None:
                        raise UnknownEntry(entry.name)
                    switched, changed = switched_definition(definition, enabled)
                    if not changed:
                        return False
                    pipe.multi()
                    pipe.hset(entry.key, "definition", switched)
                    pipe.execute()
                    return True
                except redis.WatchError:
                    continue
    except redis.ConnectionError as exc:
        raise BrokerUnavailable(f"RedBeat's Redis unreachable: {exc}") from None
    finally:
        client.close()
