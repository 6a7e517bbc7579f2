"""Beat's families for /metrics: when each entry last ran, and how many of its expected
fire times went without a run over the last day (so the count falls as old misses leave
the window; alert on its increase). The misses are walked over the day's runs, which bounds
a scrape's cost whatever the history holds (a 2 s entry: 43,200 runs), and counted at most
once per `beat_refresh` per process."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from .sources import for_services
from .view import DAY, entries, entry_texts, latest_runs, missed_count

_CACHE_KEY = "beat_missed"


def _missed_counts(services: Any, now: float) -> dict[str, int]:
    sources = for_services(services)
    cached = sources.kept_figures.get(_CACHE_KEY)
    if cached is not None and now - cached[0] < services.settings.beat_refresh:
        return cached[1]
    since = now - min(services.settings.retention_days, 1.0) * DAY
    counts = {entry.name: missed_count(services, entry, since, now) for entry in entries(services)}
    sources.kept_figures[_CACHE_KEY] = (now, counts)
    return counts


def beat_families(services: Any, now: float) -> Iterator[Metric]:
    last_run = GaugeMetricFamily(
        "celery_beat_last_run_timestamp_seconds",
        "When the beat entry's newest run was sent (or received), epoch seconds", labels=["entry"])
    for entry in entries(services):
        runs = latest_runs(services.store.engine, entry, *entry_texts(services, entry), now, 1)
        moment = runs[0].at if runs else entry.last_run_at
        if moment is not None:
            last_run.add_metric([entry.name], moment)
    yield last_run
    missed = CounterMetricFamily(
        "celery_beat_missed",
        "Expected fire times of the beat entry with no run, counted over the last day",
        labels=["entry"])
    for name, count in _missed_counts(services, now).items():
        missed.add_metric([name], count)
    yield missed
