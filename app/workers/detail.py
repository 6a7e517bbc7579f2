"""What the worker page shows, extracted from a worker's Inspector snapshot. Pure functions.

A snapshot is `{method: {"reply": ..., "at": epoch seconds}}` as the cache holds it; every
function copes with a missing method (the worker never answered it) by returning nothing.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

from ..formatting import display_value, human_bytes, human_seconds

Facts = list[tuple[str, str]]
_SECRET_KEY = re.compile(r"password|secret|token|credential|(^|_)key$", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"(://[^:/@\s]*:)[^@\s]+@")


def reply(snapshot: dict[str, Any], method: str, default: Any = None) -> Any:
    entry = snapshot.get(method)
    return default if entry is None else entry.get("reply", default)


def mask_secrets(key: str, value: Any) -> str:
    """Display text for a config value, hiding passwords, secrets and URL credentials."""
    if _SECRET_KEY.search(key) and value not in (None, "", [], {}):
        return "••••••"
    return _URL_PASSWORD.sub(r"\1••••••@", display_value(value))


def pool_facts(snapshot: dict[str, Any]) -> Facts:
    stats = reply(snapshot, "stats", {})
    pool = stats.get("pool") or {}
    if not pool:
        return []
    soft, hard = (list(pool.get("timeouts") or []) + [None, None])[:2]
    facts = [
        ("Implementation", display_value(pool.get("implementation"))),
        ("Max concurrency", display_value(pool.get("max-concurrency"))),
        ("Processes", display_value(pool.get("processes"))),
        ("Process count", str(len(pool.get("processes") or []))),
        ("Max tasks per child", display_value(pool.get("max-tasks-per-child"))),
        ("Soft time limit", human_seconds(soft) if soft else "none"),
        ("Hard time limit", human_seconds(hard) if hard else "none"),
        ("Prefetch count", display_value(stats.get("prefetch_count"))),
    ]
    autoscaler = stats.get("autoscaler")
    if autoscaler:
        facts.append(("Autoscale", f"min {autoscaler.get('min')}, max {autoscaler.get('max')}"))
    return facts


def process_count(snapshot: dict[str, Any]) -> int | None:
    pool = reply(snapshot, "stats", {}).get("pool") or {}
    processes = pool.get("processes")
    return None if processes is None else len(processes)


def broker_facts(snapshot: dict[str, Any]) -> Facts:
    broker = reply(snapshot, "stats", {}).get("broker") or {}
    return [(key.replace("_", " ").capitalize(), mask_secrets(key, value))
            for key, value in sorted(broker.items())]


def system_facts(snapshot: dict[str, Any]) -> Facts:
    stats = reply(snapshot, "stats", {})
    if not stats:
        return []
    usage = stats.get("rusage") or {}
    facts = [
        ("PID", display_value(stats.get("pid"))),
        ("Uptime", human_seconds(stats.get("uptime"))),
        ("Logical clock", display_value(stats.get("clock"))),
        ("User CPU time", human_seconds(usage.get("utime"))),
        ("System CPU time", human_seconds(usage.get("stime"))),
        # ru_maxrss is in KiB on Linux
        ("Max resident memory", human_bytes(usage["maxrss"] * 1024) if "maxrss" in usage else "–"),
        ("Page faults (minor / major)", f"{usage.get('minflt', '–')} / {usage.get('majflt', '–')}"),
        ("Context switches (voluntary / involuntary)",
         f"{usage.get('nvcsw', '–')} / {usage.get('nivcsw', '–')}"),
        ("Block I/O (in / out)", f"{usage.get('inblock', '–')} / {usage.get('oublock', '–')}"),
        ("Signals received", display_value(usage.get("nsignals"))),
    ]
    return facts


def queue_rows(snapshot: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for queue in reply(snapshot, "active_queues", []) or []:
        exchange = queue.get("exchange") or {}
        rows.append({
            "name": queue.get("name"),
            "exchange": exchange.get("name") or "(default)",
            "exchange_type": exchange.get("type"),
            "routing_key": queue.get("routing_key"),
            "durable": display_value(queue.get("durable")),
            "auto_delete": display_value(queue.get("auto_delete")),
            "exclusive": display_value(queue.get("exclusive")),
        })
    return rows


def known_queue_names(cache, extra: Iterable[str] = ()) -> list[str]:
    """Queues the workers consume from (Inspector), plus `extra`: cheaper for a filter's
    choices than scanning the history for distinct values (queue has no index)."""
    names = {row["name"] for hostname in cache.inspected_workers()
             for row in queue_rows(cache.worker_snapshot(hostname))}
    return sorted(name for name in names.union(extra) if name)


def task_rows(snapshot: dict[str, Any], method: str) -> list[dict[str, Any]]:
    """Rows for the active, scheduled, reserved or revoked list."""
    rows: list[dict[str, Any]] = []
    for item in reply(snapshot, method, []) or []:
        if method == "revoked":
            rows.append({"id": str(item), "name": None, "args": None, "kwargs": None, "when": None})
            continue
        request = item.get("request", item) if method == "scheduled" else item
        rows.append({
            "id": request.get("id"),
            "name": request.get("name") or request.get("type"),
            "args": display_value(request.get("args")),
            "kwargs": display_value(request.get("kwargs")),
            "when": _epoch(item.get("eta")) if method == "scheduled"
            else _epoch(request.get("time_start")),
            "pid": request.get("worker_pid"),
        })
    return rows


def _epoch(value: Any) -> float | None:
    """Epoch seconds from a started time (a number) or an ETA (ISO text), so the grid shows
    both in one format; None when it is neither."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
        return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()
    return None


def _registered(snapshot: dict[str, Any]) -> dict[str, dict[str, str]]:
    """{task name: its annotations} from a `registered` reply: 'a.add [rate_limit=10/m]' (a
    name may hold a space: only ' [' starts the annotations). The one parser of that reply."""
    tasks: dict[str, dict[str, str]] = {}
    for entry in reply(snapshot, "registered", []) or []:
        name, _, rest = str(entry).partition(" [")
        pairs = (item.partition("=") for item in rest.rstrip("]").split())
        tasks[name] = {key: value for key, sep, value in pairs if sep}
    return tasks


def registered_names(snapshot: dict[str, Any]) -> list[str]:
    """Task names, without the annotations Celery adds."""
    return sorted(_registered(snapshot))


def pool_restarts_off(snapshot: dict[str, Any]) -> bool:
    """Whether the worker's configuration says its pool cannot be restarted. The Inspector
    asks for the settings that differ from Celery's defaults, and the default is off; a
    worker whose configuration is not known yet is not judged."""
    conf = reply(snapshot, "conf")
    return isinstance(conf, dict) and not conf.get("worker_pool_restarts")


def _limit(value: Any, unit: str = " s") -> str:
    if value in (None, "", "None", 0, "0", 0.0):
        return "none"
    try:
        return f"{float(value):g}{unit}"
    except (TypeError, ValueError):
        return str(value)


def limit_rows(snapshot: dict[str, Any]) -> list[dict[str, Any]]:
    """Each task's current rate and time limits on this worker and how many it ran.

    The rate limit comes from `registered` (Celery reports it, changes included); time limits
    from its annotations when reported, else the worker's defaults (pool timeouts, conf)."""
    stats = reply(snapshot, "stats", {}) or {}
    conf = reply(snapshot, "conf", {}) or {}
    soft, hard = (list((stats.get("pool") or {}).get("timeouts") or []) + [None, None])[:2]
    soft, hard = soft or conf.get("task_soft_time_limit"), hard or conf.get("task_time_limit")
    default_rate = conf.get("task_default_rate_limit")
    totals = stats.get("total") or {}
    tasks = _registered(snapshot)
    return [{"name": name,
             "rate": _limit(tasks.get(name, {}).get("rate_limit") or default_rate, ""),
             "soft": _limit(tasks.get(name, {}).get("soft_time_limit") or soft),
             "hard": _limit(tasks.get(name, {}).get("time_limit") or hard),
             "processed": totals.get(name, 0)}
            for name in sorted(set(tasks) | set(totals))]


def cluster_registered_names(snapshots: Iterable[dict[str, Any]]) -> set[str]:
    """Every task name some inspected worker said it runs."""
    return {name for snapshot in snapshots for name in registered_names(snapshot)}


def conf_rows(snapshot: dict[str, Any]) -> Facts:
    conf = reply(snapshot, "conf", {}) or {}
    return [(key, mask_secrets(key, value)) for key, value in sorted(conf.items())]


def inspected_at(snapshot: dict[str, Any]) -> float | None:
    """When the freshest reply in the snapshot arrived."""
    times = [entry.get("at") for entry in snapshot.values() if entry.get("at")]
    return max(times) if times else None
