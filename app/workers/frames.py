"""Pure functions turning worker rows of the store into what pages show. No Dash, no Celery."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from .liveness import is_online


def load_text(row: Mapping[str, Any]) -> str | None:
    """The three load averages as Flower shows them: "0.80 / 0.65 / 0.34" (None if unknown)."""
    loads = [row.get(key) for key in ("load1", "load5", "load15")]
    if all(value is None for value in loads):
        return None
    return " / ".join("–" if value is None else f"{value:.2f}" for value in loads)


def worker_records(rows: Iterable[Mapping[str, Any]], now: float) -> list[dict[str, Any]]:
    """The worker table's rows, online first, then by name: plain dicts of plain values,
    since the dashboard sends them to every open tab every refresh (hundreds of workers)."""
    records = []
    for row in rows:
        software = " ".join(part for part in (row.get("sw_ident"), row.get("sw_ver")) if part)
        last = row.get("last_heartbeat")
        records.append({
            "hostname": row["hostname"],
            "status": "online" if is_online(row, now) else "offline",
            "active": row.get("active"),
            "processed": row.get("processed"),
            "succeeded": row.get("succeeded") or 0,
            "failed": row.get("failed") or 0,
            "retried": row.get("retried") or 0,
            "load": load_text(row),
            "load1": row.get("load1"),  # the Load column sorts by it
            "last_heartbeat": last,
            "heartbeat_age": None if last is None else max(0.0, now - last),
            "software": software or None,
        })
    records.sort(key=lambda record: (record["status"] != "online", record["hostname"]))
    return records


def online_hostnames(records: Iterable[Mapping[str, Any]]) -> list[str]:
    return [record["hostname"] for record in records if record["status"] == "online"]


def dashboard_summary(workers: list[dict[str, Any]],
                      recent_states: Mapping[str, int]) -> dict[str, int]:
    """The headline numbers: workers by status, tasks running now, recent outcomes."""
    online = [record for record in workers if record["status"] == "online"]
    return {
        "workers_online": len(online),
        "workers_offline": len(workers) - len(online),
        "tasks_active": sum(record["active"] or 0 for record in online),
        "succeeded_recent": int(recent_states.get("SUCCESS", 0)),
        "failed_recent": int(recent_states.get("FAILURE", 0)),
    }


_SUMMED = ("active", "processed", "succeeded", "failed", "retried")


def worker_totals(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The grid's Total row: the counters summed over every worker shown, and how many.

    Unknown counters (a worker that sent no heartbeat yet) count as 0."""
    count = len(records)
    totals: dict[str, Any] = {"hostname": "Total",
                              "status": f"{count:,} worker{'' if count == 1 else 's'}"}
    for column in _SUMMED:
        totals[column] = sum(record[column] or 0 for record in records)
    return totals


def worker_samples_frame(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Samples as a frame, for the worker's chart (empty but with its columns if none)."""
    return pd.DataFrame.from_records(list(rows),
                                     columns=["timestamp", "active", "processed", "load1"])
