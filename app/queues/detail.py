"""What the broker page shows, from the store's queue samples and the Inspector cache.
Pure functions: rows in, grid rows and frames out."""
from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from typing import Any
from urllib.parse import quote

import pandas as pd

# Chart windows offered: label -> (seconds shown, bucket seconds the database aggregates
# to); at most 120 points a line.
WINDOWS = {"15 min": (900, 10), "1 h": (3600, 30), "6 h": (21600, 180), "24 h": (86400, 720)}
DEFAULT_WINDOW = "1 h"
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~])")


def chart_window(label: str | None) -> tuple[int, int]:
    """(seconds shown, bucket seconds) for a window label; unknown labels get the default."""
    return WINDOWS.get(label or DEFAULT_WINDOW, WINDOWS[DEFAULT_WINDOW])


def worker_links(workers: Iterable[str], online: Collection[str], link_prefix: str) -> str:
    """Markdown links to each worker's page, online ones first; offline ones say so.
    Names come from the workers themselves: escaped as text, percent-encoded in the URL."""
    base = link_prefix.rstrip("/") + "/workers/"
    ordered = sorted(workers, key=lambda name: (name not in online, name))
    return ", ".join(
        f"[{_escape_markdown(name)}]({base}{quote(name, safe='')})"
        + ("" if name in online else " *(offline)*") for name in ordered)


def _escape_markdown(text: str) -> str:
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def queue_summaries(latest: Iterable[Mapping[str, Any]], consumers: Mapping[str, list[str]],
                    online: Collection[str]) -> list[dict[str, Any]]:
    """One summary per queue sampled or consumed, by name: messages ready and the oldest's
    wait at the newest sample (None: never sampled, or the broker could not tell), online
    consumers, and whether messages wait with nobody to take them. /broker and
    /api/queues both read this."""
    samples = {row["queue"]: row for row in latest}
    summaries = []
    for name in sorted(set(samples) | set(consumers)):
        sample = samples.get(name, {})
        serving = sum(worker in online for worker in consumers.get(name, []))
        summaries.append({
            "name": name, "messages": sample.get("messages"), "consumers": serving,
            "latency_seconds": sample.get("latency_seconds"),
            "latency_source": sample.get("latency_source"),
            "priorities": sample.get("priorities"),
            "no_consumer": bool(sample.get("messages")) and not serving,
            "sampled_at": sample.get("timestamp"),
        })
    return summaries


def longest_wait(summaries: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The queue whose oldest message has waited longest (None when nothing waits)."""
    waiting = [row for row in summaries if row.get("messages") and row.get("latency_seconds")]
    return max(waiting, key=lambda row: row["latency_seconds"], default=None)


NO_CONSUMER = "**no online consumer: messages wait**"  # the flag, in the Workers cell
SOURCE_TEXT = {"sent": "since sent", "first_seen": "since first seen"}


def wait_text(seconds: float) -> str:
    """12 s, 3.5 min, 2.1 h: as the broker grid writes it."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def queue_rows(latest: Iterable[Mapping[str, Any]], consumers: Mapping[str, list[str]],
               online: Collection[str], link_prefix: str, now: float) -> list[dict[str, Any]]:
    """The grid's rows: each queue's summary, links to every consumer (and the no-consumer
    flag), the sample's age in seconds and the latency per priority level as text."""
    rows = []
    for summary in queue_summaries(latest, consumers, online):
        taken = summary["sampled_at"]
        links = worker_links(consumers.get(summary["name"], []), online, link_prefix)
        if summary["no_consumer"]:
            links = f"{links} — {NO_CONSUMER}" if links else NO_CONSUMER
        rows.append({
            "queue": summary["name"], "messages": summary["messages"],
            "consumers": summary["consumers"], "no_consumer": summary["no_consumer"],
            "latency": summary["latency_seconds"], "latency_source": summary["latency_source"],
            "levels": priority_text(summary["priorities"]),
            "workers": links,
            "sampled_age": None if taken is None else max(0.0, now - taken),
        })
    return rows


def priority_text(priorities: Iterable[Mapping[str, Any]] | None) -> str:
    """"priority 0: 3 waiting, oldest 12 s · priority 9: ..." for the grid's tooltip."""
    parts = []
    for level in priorities or ():
        age = level.get("latency_seconds")
        parts.append(f"priority {level.get('priority')}: {level.get('messages')} waiting, "
                     + ("oldest unknown" if age is None else f"oldest {age:.0f} s"))
    return " · ".join(parts)


def samples_frame(samples: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Samples (queue, timestamp, messages, latency_seconds) as a frame for the charts, its
    columns kept when there are none; what could not be told stays a missing value."""
    return pd.DataFrame.from_records(list(samples), columns=[
        "queue", "timestamp", "messages", "latency_seconds"])
