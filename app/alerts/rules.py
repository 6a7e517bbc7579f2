"""Alert rules: what to watch, parsed from the config file's `[[alerts]]` tables or a rule
made on the /alerts page (stored as the same table).

Parsing is strict and stops at the first problem with one line naming the rule, so a typo
in the config file stops the start instead of silently watching nothing. `Rule.table()`
gives the rule back as a table that parses to the same rule, which is how page rules are
stored and how the page's form is filled.
"""
from __future__ import annotations

import math
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

# kind -> what it measures and what its threshold means. Every rule fires for a label set
# while its value is above the threshold (kinds without a threshold fire on any).
KINDS: dict[str, str] = {
    "failure_ratio": "Failed ÷ finished tasks over the window, per task name; fires above "
                     "the threshold (0–1) once at least min_count tasks finished.",
    "failure_count": "Failed tasks over the window, per task name; fires when more than "
                     "the threshold failed.",
    "queue_latency": "Seconds the oldest message of a queue has waited; fires above the "
                     "threshold (seconds).",
    "queue_depth": "Messages waiting in a queue; fires above the threshold.",
    "worker_offline": "A worker that said goodbye or stopped sending heartbeats; fires on "
                      "any (no threshold).",
    "no_consumer": "A queue with messages waiting and no worker consuming it; fires on any "
                   "(no threshold).",
    "stuck_started": "Tasks in STARTED for longer than the threshold (seconds), per task "
                     "name; fires once at least min_count are.",
    "orphaned": "Tasks whose worker went offline while running them, over the window, per "
                "task name; fires once at least min_count are (no threshold).",
    "runtime_p95": "95th percentile runtime (seconds) of the tasks that succeeded over the "
                   "window, per task name; fires above the threshold once at least "
                   "min_count finished.",
    "dead_mans_switch": "Seconds since a task of the given name last succeeded; fires above "
                        "the threshold (seconds).",
}

NO_THRESHOLD = frozenset({"worker_offline", "no_consumer", "orphaned"})
# kinds whose threshold is a duration: "10m" is accepted as well as 600
DURATION_THRESHOLD = frozenset({"queue_latency", "stuck_started", "runtime_p95",
                                "dead_mans_switch"})
SCOPE_KEYS = ("task", "queue", "worker")
SCOPES: dict[str, tuple[str, ...]] = {  # kind -> the scope keys it accepts
    "failure_ratio": SCOPE_KEYS, "failure_count": SCOPE_KEYS, "stuck_started": SCOPE_KEYS,
    "orphaned": SCOPE_KEYS, "runtime_p95": SCOPE_KEYS,
    "queue_latency": ("queue",), "queue_depth": ("queue",), "no_consumer": ("queue",),
    "worker_offline": ("worker",), "dead_mans_switch": ("task", "queue"),
}
REQUIRED_SCOPE = {"dead_mans_switch": "task"}  # kind -> the scope key it cannot do without
SOURCES = ("file", "page")
KEYS = ("name", "kind", "threshold", "window", "min_count", "for", *SCOPE_KEYS, "labels",
        "cooldown", "renotify", "notify", "description")

DEFAULT_WINDOW = 300.0  # seconds
DEFAULT_COOLDOWN = 300.0  # seconds
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd])")


class RuleError(ValueError):
    """One line naming the rule and its problem."""


def parse_duration(value: str | int | float) -> float:
    """Seconds from `30`, `"30s"`, `"5m"`, `"2h"`, `"1d"` or `"1h30m"`; a ValueError
    saying what was expected otherwise. Never negative, never infinite."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as \"30s\", \"5m\" or seconds, got {value}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        parsed = _duration_text(value.strip().lower())
        if parsed is None:
            raise ValueError(f"expected a duration such as \"30s\", \"5m\", \"2h\", \"1d\" "
                             f"or seconds, got {value!r}")
        seconds = parsed
    else:
        raise ValueError(f"expected a duration such as \"30s\" or seconds, got "
                         f"{type(value).__name__}")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"expected a duration of zero or more seconds, got {value!r}")
    return seconds


def _duration_text(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        pass
    parts = _DURATION.findall(text)
    if not parts or _DURATION.sub("", text).strip():
        return None
    return sum(float(number) * _UNITS[unit] for number, unit in parts)


def format_duration(seconds: float) -> str | float:
    """The shortest config-file form of `seconds` that parses back to it: "5m", "90s", or
    the number itself when it is not whole."""
    if seconds != int(seconds):
        return seconds
    whole = int(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if whole and whole % size == 0:
            return f"{whole // size}{unit}"
    return f"{whole}s"


@dataclass(frozen=True)
class Rule:
    name: str
    kind: str
    threshold: float | None  # None only for the kinds in NO_THRESHOLD
    window: float = DEFAULT_WINDOW  # seconds
    min_count: int = 1
    for_seconds: float = 0.0  # the config file's "for"
    task: str | None = None
    queue: str | None = None
    worker: str | None = None
    labels: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    cooldown: float = DEFAULT_COOLDOWN  # least seconds between two firing notifications
    renotify: float | None = None  # re-send while still firing, every this many seconds
    notify: tuple[str, ...] = ()
    description: str = ""
    source: str = "file"  # "file" | "page"

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", MappingProxyType(dict(self.labels)))

    def __hash__(self) -> int:
        return hash((self.name, self.source))

    @property
    def scope(self) -> dict[str, str]:
        """The scope keys set on this rule (task, queue, worker) and their values."""
        return {key: value for key in SCOPE_KEYS if (value := getattr(self, key)) is not None}

    def table(self) -> dict[str, Any]:
        """The rule as a config-file table; `parse_rule(rule.table())` gives it back."""
        table: dict[str, Any] = {"name": self.name, "kind": self.kind}
        if self.threshold is not None:
            table["threshold"] = self.threshold
        table["window"] = format_duration(self.window)
        table["min_count"] = self.min_count
        table["for"] = format_duration(self.for_seconds)
        table.update(self.scope)
        if self.labels:
            table["labels"] = dict(self.labels)
        table["cooldown"] = format_duration(self.cooldown)
        if self.renotify is not None:
            table["renotify"] = format_duration(self.renotify)
        table["notify"] = list(self.notify)
        if self.description:
            table["description"] = self.description
        return table


def parse_rule(table: Mapping[str, Any], source: str = "file",
               known_notifiers: Collection[str] | None = None, number: int = 1) -> Rule:
    """One `[[alerts]]` table as a Rule; a RuleError naming the rule (or its position,
    `number`, when it has no name) and its first problem. `known_notifiers`, when given,
    are the only names `notify` may list."""
    if not isinstance(table, Mapping):
        raise RuleError(f"alert #{number}: expected a table, got {type(table).__name__}")
    name = table.get("name")
    if not isinstance(name, str) or not name.strip():
        raise RuleError(f"alert #{number}: name is missing (a non-empty string)")
    where = f"alert {name!r}"
    if source not in SOURCES:
        raise RuleError(f"{where}: unknown source {source!r}")
    try:
        return _parse_fields(name, table, source, known_notifiers)
    except ValueError as exc:
        raise RuleError(f"{where}: {exc}") from None
    except TypeError as exc:  # a table or list where a value belongs, from JSON or TOML
        raise RuleError(f"{where}: a value of the wrong type ({exc})") from None


def parse_rules(tables: Iterable[Mapping[str, Any]], source: str = "file",
                known_notifiers: Collection[str] | None = None) -> tuple[Rule, ...]:
    """Every table as a Rule, in order; a name used twice is an error."""
    rules: list[Rule] = []
    seen: set[str] = set()
    for number, table in enumerate(tables, start=1):
        rule = parse_rule(table, source, known_notifiers, number)
        if rule.name in seen:
            raise RuleError(f"alert {rule.name!r}: the name is used twice")
        seen.add(rule.name)
        rules.append(rule)
    return tuple(rules)


def _parse_fields(name: str, table: Mapping[str, Any], source: str,
                  known_notifiers: Collection[str] | None) -> Rule:
    unknown = [str(key) for key in table if key not in KEYS]
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r} (known: {', '.join(KEYS)})")
    kind = table.get("kind")
    if not isinstance(kind, str) or kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    scope = {key: _text(table, key) for key in SCOPE_KEYS if key in table}
    for key in scope:
        if key not in SCOPES[kind]:
            raise ValueError(f"a {kind} rule cannot be scoped by {key} "
                             f"(it takes: {', '.join(SCOPES[kind])})")
    needed = REQUIRED_SCOPE.get(kind)
    if needed and needed not in scope:
        raise ValueError(f"a {kind} rule needs a {needed}")
    return Rule(
        name=name, kind=kind, threshold=_threshold(kind, table.get("threshold")),
        window=_duration(table, "window", DEFAULT_WINDOW, positive=True),
        min_count=_count(table.get("min_count", 1)),
        for_seconds=_duration(table, "for", 0.0),
        labels=_labels(table.get("labels", {})),
        cooldown=_duration(table, "cooldown", DEFAULT_COOLDOWN),
        renotify=_duration(table, "renotify", None, positive=True),
        notify=_notify(table.get("notify", ()), known_notifiers),
        description=_text(table, "description") if "description" in table else "",
        source=source, **scope)


def _threshold(kind: str, value: Any) -> float | None:
    if kind in NO_THRESHOLD:
        if value is not None:
            raise ValueError(f"a {kind} rule takes no threshold (it fires on any)")
        return None
    if value is None:
        raise ValueError(f"threshold is missing (a {kind} rule needs one)")
    if kind in DURATION_THRESHOLD and isinstance(value, str):
        try:
            return parse_duration(value)
        except ValueError as exc:
            raise ValueError(f"threshold: {exc}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"threshold must be a number, got {value!r}")
    threshold = float(value)
    if not math.isfinite(threshold) or threshold < 0:
        raise ValueError(f"threshold must be a number of zero or more, got {value!r}")
    if kind == "failure_ratio" and threshold > 1:
        raise ValueError(f"a failure_ratio threshold is a ratio from 0 to 1, got {value!r}")
    return threshold


def _duration(table: Mapping[str, Any], key: str, default: float | None,
              positive: bool = False) -> Any:
    if key not in table:
        return default
    try:
        seconds = parse_duration(table[key])
    except ValueError as exc:
        raise ValueError(f"{key}: {exc}") from None
    if positive and seconds <= 0:
        raise ValueError(f"{key} must be longer than zero seconds")
    return seconds


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"min_count must be a whole number of 1 or more, got {value!r}")
    return value


def _text(table: Mapping[str, Any], key: str) -> str:
    value = table[key]
    if not isinstance(value, str) or (key != "description" and not value.strip()):
        raise ValueError(f"{key} must be a non-empty string, got {value!r}")
    return value


def _labels(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise ValueError(f"labels must be a table of strings, got {type(value).__name__}")
    for key, text in value.items():
        if not isinstance(key, str) or not key or not isinstance(text, str):
            raise ValueError(f"labels must be a table of strings, got {key!r} = {text!r}")
        if key in SCOPE_KEYS:
            raise ValueError(f"label {key!r} is set by the measure (use the {key} key to "
                             f"scope the rule)")
    return dict(value)


def _notify(value: Any, known: Collection[str] | None) -> tuple[str, ...]:
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, (list, tuple)) or \
            not all(isinstance(name, str) and name for name in names):
        raise ValueError(f"notify must be a list of notifier names, got {value!r}")
    if known is not None:
        for name in names:
            if name not in known:
                listed = ", ".join(sorted(known)) or "none are configured"
                raise ValueError(f"notify names an unknown notifier {name!r} ({listed})")
    return tuple(dict.fromkeys(names))
