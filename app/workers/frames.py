"""Pure functions turning store rows into the DataFrames pages show. No Dash, no Celery."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from .liveness import is_online

WORKER_COLUMNS = ["hostname", "status", "active", "processed", "succeeded", "failed", "retried",
                  "load", "load1", "load5", "load15", "last_heartbeat", "heartbeat_age",
                  "software"]


def load_text(row: Mapping[str, Any]) -> str | None:
    """The three load averages as Flower shows them: "0.80 / 0.65 / 0.34" (None if unknown)."""
    loads = [row.get(key) for key in ("load1", "load5", "load15")]
    if all(value is None for value in loads):
        return None
    return " / ".join("–" if value is None else f"{value:.2f}" for value in loads)


def worker_frame(rows: Iterable[Mapping[str, Any]], now: float) -> pd.DataFrame:
    """One row per worker, online first, then by name."""
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
            "load1": row.get("load1"),
            "load5": row.get("load5"),
            "load15": row.get("load15"),
            "last_heartbeat": last,
            "heartbeat_age": None if last is None else max(0.0, now - last),
            "software": software or None,
        })
    frame = pd.DataFrame.from_records(records, columns=WORKER_COLUMNS)
    if frame.empty:
        return frame
    frame["_order"] = frame["status"] != "online"
    return frame.sort_values(["_order", "hostname"]).drop(columns="_order").reset_index(drop=True)


def dashboard_summary(workers: pd.DataFrame, recent_states: Mapping[str, int]) -> dict[str, int]:
    """The headline numbers: workers by status, tasks running now, recent outcomes."""
    online = workers[workers["status"] == "online"] if not workers.empty else workers
    return {
        "workers_online": len(online),
        "workers_offline": len(workers) - len(online),
        "tasks_active": int(pd.to_numeric(online["active"]).fillna(0).sum()) if len(online) else 0,
        "succeeded_recent": int(recent_states.get("SUCCESS", 0)),
        "failed_recent": int(recent_states.get("FAILURE", 0)),
    }


_SUMMED = ("active", "processed", "succeeded", "failed", "retried")


def worker_totals(frame: pd.DataFrame) -> dict[str, Any]:
    """The grid's Total row: the counters summed over every worker shown, and how many.

    Unknown counters (a worker that sent no heartbeat yet) count as 0."""
    count = len(frame)
    totals: dict[str, Any] = {"hostname": "Total",
                              "status": f"{count:,} worker{'' if count == 1 else 's'}"}
    for column in _SUMMED:
        totals[column] = int(pd.to_numeric(frame[column]).fillna(0).sum()) if count else 0
    return totals


def grid_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows for a grid: NaN becomes None so the browser gets null, not the string 'NaN'."""
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def worker_samples_frame(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Samples as a frame, for the worker's chart (empty but with its columns if none)."""
    return pd.DataFrame.from_records(list(rows),
                                     columns=["timestamp", "active", "processed", "load1"])
