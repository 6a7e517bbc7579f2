"""What the /explore page's controls and chart events mean, as plain functions: the
window a fresh page opens on, the chart's title, times as the browser's zone writes them,
the controls as query parameters, what a zoom, a double-click or a typed time does to the
window controls, and whether a tick should redraw.

One rule for times: they are shown and typed in the browser's zone; a typed time without
an offset is read in that zone, epoch seconds and explicit offsets mean what they say."""
from __future__ import annotations

import math
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from ..query_string import wall_clock_time
from .frames import epoch_from_local
from .spec import GROUPS, QUICK_RANGES, STATS, SeriesSpec

FIT_RANGES = ("15m", "1h", "6h", "24h")  # what a fresh page may open on, shortest first
FIT_FILL = 0.5  # a quick range is chosen when the stored tasks span at least half of it
WINDOW_CONTROLS = ("range", "since", "until", "bucket")


def first_received(engine) -> float | None:
    """When the oldest stored task was received (read off the received index)."""
    from sqlalchemy import func, select

    from ..store.schema import tasks
    with engine.connect() as connection:
        return connection.execute(select(func.min(tasks.c.received))).scalar()


def fitting_window(first: float | None, now: float) -> dict[str, str]:
    """The window /explore opens on when its link names none: since the first stored task,
    at most 24 h. A quick range (it slides with the clock) when the tasks fill at least half
    of it; else from the whole minute before the first task on, open-ended (it grows with
    the clock), so a fresh cluster's few minutes are not squeezed into the last pixel."""
    if first is None or first >= now:
        return {"range": FIT_RANGES[0]}
    span = now - first
    for key in FIT_RANGES:
        if span <= QUICK_RANGES[key]:
            if span >= FIT_FILL * QUICK_RANGES[key]:
                return {"range": key}
            since = math.floor((first - 0.05 * span) / 60) * 60
            return {"range": "", "since": str(since)}
    return {"range": FIT_RANGES[-1]}


def bucket_label(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def chart_title(spec: SeriesSpec, bucket: int) -> str:
    """What the chart plots, statistic and unit included: 'Runtime p95 (s) by task name',
    'Tasks received per 10 s'."""
    metric = spec.definition
    name, _, unit = metric.label.partition(" (")
    if metric.kind == "percentiles":
        stats = spec.stat if spec.group else ", ".join(STATS)
        title = f"{name} {stats}" + (f" ({unit}" if unit else "")
    elif metric.kind == "count":
        per = "second" if spec.unit == "rate" else bucket_label(bucket)
        title = f"{metric.label} per {per}"
    else:
        title = metric.label
    return title + (f" by {GROUPS[spec.group].lower()}" if spec.group else "")


def local_text(moment: float | None, tz: ZoneInfo) -> str:
    """Epoch seconds as the browser's wall clock, for the From/To inputs."""
    if moment is None:
        return ""
    local = datetime.fromtimestamp(moment, tz).replace(tzinfo=None)
    whole = float(moment).is_integer()
    return local.isoformat(sep=" ", timespec="seconds" if whole else "milliseconds")


def typed_time(text: str | None, tz: ZoneInfo) -> str | None:
    """A time typed in From/To as a query parameter: a wall-clock time without an offset is
    the browser's zone's (as epoch seconds); epoch seconds, an explicit offset, a duration
    ago and text no time at all pass through for the spec's parser to read or refuse."""
    text = (text or "").strip()
    if not text:
        return None
    moment = wall_clock_time(text, tz)
    return text if moment is None else repr(moment.timestamp())


def controls_to_params(metric, group, stat, unit, top, names, workers, queues, states, quick,
                       since, until, bucket, tz: ZoneInfo | None = None) -> dict[str, str]:
    """The control panel's values as query parameters (empty ones left out)."""
    custom = quick == "custom"
    zone = tz or ZoneInfo("UTC")
    params = {"metric": metric, "group": group, "stat": stat, "unit": unit, "top": top,
              "name": ",".join(names or []), "worker": ",".join(workers or []),
              "queue": ",".join(queues or []), "state": ",".join(states or []),
              "range": None if custom else quick,
              "since": typed_time(since, zone) if custom else None,
              "until": typed_time(until, zone) if custom else None,
              "bucket": None if bucket in (None, "auto") else bucket}
    return {key: str(value) for key, value in params.items() if value not in (None, "")}


def zoomed_window(relayout: dict, tz, spec: SeriesSpec) -> tuple[float, float] | None:
    """The window a chart's relayout event asks for, or None when it asks for none: an
    autoscale, a legend click, or Plotly reporting the range it was drawn with. A zoom
    always narrows the window; anything as wide is not one."""
    bounds = relayout.get("xaxis.range") or [relayout.get("xaxis.range[0]"),
                                            relayout.get("xaxis.range[1]")]
    if not all(bounds):
        return None
    start, end = (epoch_from_local(str(bound), tz) for bound in bounds)
    shown_start, shown_end = spec.window()
    if end - start >= 0.95 * (shown_end - shown_start):
        return None
    return start, end


def window_controls(trigger: str | None, controls: dict[str, Any], chosen: dict | None,
                    relayout: dict | None, spec: SeriesSpec, tz: ZoneInfo,
                    now: float) -> dict[str, Any]:
    """What the window controls (range, since, until, bucket) and the window the user chose
    become after `trigger`; only what changes is returned ("chosen" among it).

    - the page opening, or the zone arriving: the spec's own times in the browser's zone;
    - typing a time: the range turns custom; picking custom starts from the window shown;
    - a zoom (drag, range slider): the zoomed window, automatic bucket; the choice is kept;
    - a double-click (Plotly's autorange): back to the window chosen before zooming."""
    changes: dict[str, Any] = {}
    if trigger in (None, "tz"):
        if not spec.range:
            changes = {"since": local_text(spec.since, tz), "until": local_text(spec.until, tz)}
    elif trigger in ("since", "until"):
        if controls["range"] != "custom" and (controls["since"] or "").strip():
            changes = {"range": "custom"}
    elif trigger == "range":
        if controls["range"] == "custom" and not (controls["since"] or "").strip():
            changes = {"since": local_text(math.floor(spec.window(now)[0]), tz)}
        elif controls["range"] != "custom":
            changes = {"since": "", "until": ""}
    elif trigger == "chart":
        relayout = relayout or {}
        window = zoomed_window(relayout, tz, spec)
        if window is not None:
            zoomed = {"range": "custom", "since": local_text(math.floor(window[0]), tz),
                      "until": local_text(math.ceil(window[1]), tz), "bucket": "auto"}
            return {**zoomed, "chosen": chosen or {key: controls[key] for key in
                                                   WINDOW_CONTROLS}}
        if relayout.get("xaxis.autorange") and chosen:
            restored = {key: value for key, value in chosen.items() if controls[key] != value}
            return {**restored, "chosen": None}
        return {}
    return {**changes, "chosen": {key: changes.get(key, controls[key])
                                  for key in WINDOW_CONTROLS}}


def due(spec: SeriesSpec, drawn_at: float | None, now: float, every: float) -> bool:
    """Whether a refresh tick should redraw: a window ending at a fixed time never changes;
    one ending now (a quick range, or a custom one without `until`) is redrawn once `every`
    seconds have passed since it was last drawn."""
    sliding = bool(spec.range) or spec.until is None
    return sliding and (drawn_at is None or now - drawn_at >= every)
