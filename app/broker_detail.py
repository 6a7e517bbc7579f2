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


def queue_rows(latest: Iterable[Mapping[str, Any]], consumers: Mapping[str, list[str]],
               online: Collection[str], link_prefix: str, now: float) -> list[dict[str, Any]]:
    """One grid row per queue sampled or consumed, by name: messages ready at the newest
    sample (None: never sampled, or the broker could not be asked), online consumers,
    links to every consumer, and the sample's age in seconds."""
    samples = {row["queue"]: row for row in latest}
    rows = []
    for name in sorted(set(samples) | set(consumers)):
        sample = samples.get(name, {})
        workers = consumers.get(name, [])
        taken = sample.get("timestamp")
        rows.append({
            "queue": name,
            "messages": sample.get("messages"),
            "consumers": sum(worker in online for worker in workers),
            "workers": worker_links(workers, online, link_prefix),
            "sampled_age": None if taken is None else max(0.0, now - taken),
        })
    return rows


def depth_frame(samples: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Samples (queue, timestamp, messages) as a frame for the chart, its columns kept
    when there are none; unknown depths stay missing values."""
    return pd.DataFrame.from_records(list(samples), columns=["queue", "timestamp", "messages"])
