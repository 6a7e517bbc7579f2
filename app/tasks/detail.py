"""What the task page shows, from one row of the tasks table. Pure functions, no Dash.

Lifecycle: the row keeps one epoch time (UTC seconds) per step (see store/schema.py); the
timeline orders the steps that happened and the durations say how long the task queued,
waited on its worker and ran.

Arguments and results: events carry them as text made by Celery's `saferepr` (limited to
1024 characters by default), not by `repr`. The two agree except in strings: `saferepr`
quotes every string with single quotes, escapes only the quote and leaves newlines and
backslashes raw (`'C:\\new'` stands for the 6 characters C, colon, backslash, n, e, w).
`read_literal` reads that text back: Celery's spelling first, then Python's own `repr`. A
value with a backslash could mean either, so it is shown but never sent again. Truncated
text is refused as well: Celery marks a cut with `...`, which Python reads as Ellipsis, or
as a string ending in '...'.
"""
from __future__ import annotations

import ast
import math
import pprint
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from celery import states

from ..formatting import human_seconds, utc_moment
from ..store.schema import LIFECYCLE_STEPS

MAX_LITERAL_CHARS = 100_000  # longer text is shown raw, never parsed
PRETTY_WIDTH = 88  # characters per line of pretty-printed values
FINAL_STATES = frozenset(states.READY_STATES)  # SUCCESS, FAILURE, REVOKED
SETTLE_SECONDS = 30.0  # a final task's page keeps refreshing this long for late events
SIGNALS = ("SIGTERM", "SIGKILL", "SIGINT", "SIGQUIT", "SIGUSR1")

# The step whose time ends a task's run (or the current attempt), by state.
_END_STEP = {states.SUCCESS: "succeeded", states.FAILURE: "failed", states.REVOKED: "revoked",
             states.REJECTED: "rejected", states.RETRY: "retried"}
_STEP_ORDER = {step: index for index, step in enumerate(LIFECYCLE_STEPS)}


# -- lifecycle ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    name: str  # a LIFECYCLE_STEPS entry
    at: float  # epoch seconds, UTC
    offset: float  # seconds since the first step (negative never: the first step is 0)


def timeline(row: Mapping[str, Any]) -> list[Step]:
    """The lifecycle steps the task went through, in time order (schema order on ties).

    Celery stamps task-sent after publishing, so a quick worker may stamp task-received
    first: sent is placed no later than received. Offsets count from the first step shown
    and are negative only then. A time that is no number of seconds (infinite, NaN) comes
    last.
    """
    times = []
    for step in LIFECYCLE_STEPS:
        at = row.get(step)
        if at is None:
            continue
        received = row.get("received")
        key = min(at, received) if step == "sent" and received is not None else at
        finite = math.isfinite(at)
        times.append((not finite, key if finite else 0.0, _STEP_ORDER[step], step, at))
    times.sort()
    if not times:
        return []
    first = times[0][-1]
    return [Step(step, at, at - first) for *_key, step, at in times]


@dataclass(frozen=True)
class Durations:
    """Seconds between lifecycle steps; None where a step is missing or clocks disagree."""
    queued: float | None  # sent → received: in the broker
    wait: float | None  # received → started: reserved by the worker, waiting for a slot
    run: float | None  # the worker's runtime, else started → end
    total: float | None  # the earlier of sent/received → end


def end_time(row: Mapping[str, Any]) -> float | None:
    """When the run (or the current attempt) ended, from the step matching the state."""
    step = _END_STEP.get(row.get("state") or "")
    return row.get(step) if step else None


def _between(start: float | None, end: float | None) -> float | None:
    if start is None or end is None or end < start:
        return None
    span = end - start
    return span if math.isfinite(span) else None


def durations(row: Mapping[str, Any]) -> Durations:
    end = end_time(row)
    runtime = row.get("runtime")
    starts = [row[step] for step in ("sent", "received") if row.get(step) is not None]
    first = min(starts) if starts else None
    return Durations(
        queued=_between(row.get("sent"), row.get("received")),
        wait=_between(row.get("received"), row.get("started")),
        run=(runtime if runtime is not None and 0 <= runtime < math.inf
             else _between(row.get("started"), end)),
        total=_between(first, end),
    )


def phases(spans: Durations) -> list[tuple[str, float, float]]:
    """(label, seconds, share of the whole) for the bar under the timeline."""
    parts = [(label, seconds) for label, seconds in
             (("queued", spans.queued), ("waiting", spans.wait), ("running", spans.run))
             if seconds is not None]
    whole = sum(seconds for _label, seconds in parts)
    if whole <= 0:
        return []
    return [(label, seconds, seconds / whole) for label, seconds in parts]


def human_duration(seconds: float | None) -> str:
    """Milliseconds below a second (0.42 ms, 12.3 ms, 830 ms), then as human_seconds."""
    if seconds is None:
        return "–"
    if seconds < 1:
        return f"{seconds * 1000:.3g} ms"
    return human_seconds(seconds)


def iso_utc(epoch: float | None) -> str | None:
    """ISO 8601 with an explicit UTC offset, which a browser turns into its local time;
    None when the epoch is no date (the page then keeps utc_text's raw number)."""
    moment = None if epoch is None else utc_moment(epoch)
    return None if moment is None else moment.isoformat(timespec="milliseconds")


def utc_text(epoch: float | None) -> str:
    """The fallback shown until the browser formats the time: '2024-05-01 12:00:00.123 UTC',
    or the stored number itself ('1e+20', 'inf') when it is no date."""
    if epoch is None:
        return "–"
    moment = utc_moment(epoch)
    if moment is None:
        return str(epoch)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d} UTC"


def is_final(state: str | None) -> bool:
    return state in FINAL_STATES


def settled(row: Mapping[str, Any] | None, now: float) -> bool:
    """Whether the page can stop refreshing: final for a while (late events, e.g. children,
    have had SETTLE_SECONDS to arrive). An unknown task is never settled: it may appear."""
    if row is None or not is_final(row.get("state")):
        return False
    return now - (row.get("timestamp") or 0) > SETTLE_SECONDS


# -- reading Celery's reprs back ------------------------------------------------------------


@dataclass(frozen=True)
class Literal:
    """What the text of an args/kwargs/result field says."""
    text: str
    parsed: bool = False
    value: Any = None
    truncated: bool = False  # Celery cut it: the value is not the task's real one
    ambiguous: bool = False  # a backslash: Celery's and Python's readings differ
    has_bytes: bool = False  # Celery's repr of bytes loses data (it may even be hex)


class _Unreadable(ValueError):
    pass


def _rewrite_saferepr(text: str) -> tuple[str, bool, bool]:
    """Turn saferepr's single-quoted strings into Python literals.

    Returns (python text, whether a backslash made the reading ambiguous, whether bytes
    appeared). Double-quoted strings only come from Python's repr and are kept as they are.
    """
    out: list[str] = []
    ambiguous = has_bytes = False
    index, size = 0, len(text)
    while index < size:
        char = text[index]
        if char == '"':
            end = index + 1
            while end < size and text[end] != '"':
                end += 2 if text[end] == "\\" else 1
            if end >= size:
                raise _Unreadable("unterminated string")
            out.append(text[index:end + 1])
            index = end + 1
            continue
        is_bytes = (char in "bB" and text[index + 1:index + 2] == "'"
                    and (index == 0 or not (text[index - 1].isalnum() or text[index - 1] == "_")))
        if char != "'" and not is_bytes:
            out.append(char)
            index += 1
            continue
        position = index + (2 if is_bytes else 1)
        chars: list[str] = []
        while True:
            if position >= size:
                raise _Unreadable("unterminated string")
            current = text[position]
            if current == "\\" and text[position + 1:position + 2] == "'":
                chars.append("'")
                position += 2
            elif current == "'":
                position += 1
                break
            else:
                ambiguous = ambiguous or current == "\\"
                chars.append(current)
                position += 1
        value = "".join(chars)
        if is_bytes:
            has_bytes = True
            out.append(repr(value.encode("utf-8", "surrogatepass")))
        else:
            out.append(repr(value))
        index = position
    return "".join(out), ambiguous, has_bytes


def _safe_eval(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError) as exc:
        raise _Unreadable(str(exc)) from None


def _looks_truncated(value: Any, depth: int = 0) -> bool:
    if value is Ellipsis:
        return True
    if isinstance(value, str):
        return value.endswith("...")
    if isinstance(value, bytes):
        return value.endswith(b"...")
    if depth > 100:  # deeper than any literal the parser accepts
        return False
    if isinstance(value, dict):
        return any(_looks_truncated(key, depth + 1) or _looks_truncated(item, depth + 1)
                   for key, item in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(_looks_truncated(item, depth + 1) for item in value)
    return False


def read_literal(text: str | None) -> Literal | None:
    """Read an args/kwargs/result text back into a value, saying what can be trusted."""
    if text is None:
        return None
    if len(text) > MAX_LITERAL_CHARS:
        return Literal(text)
    try:
        rewritten, ambiguous, has_bytes = _rewrite_saferepr(text)
        value = _safe_eval(rewritten)
    except _Unreadable:
        try:  # Python's own repr (a client that set argsrepr itself, or an old protocol)
            value, ambiguous, has_bytes = _safe_eval(text), False, False
        except _Unreadable:
            return Literal(text)
    return Literal(text, True, value, _looks_truncated(value), ambiguous, has_bytes)


def pretty(text: str | None) -> str | None:
    """Pretty-printed text of a value, or the raw text when it cannot be read (or was cut)."""
    literal = read_literal(text)
    if literal is None:
        return None
    if not literal.parsed or literal.truncated:
        return literal.text
    if isinstance(literal.value, str) and "\n" in literal.value:
        return literal.value  # a multi-line text result reads best as it is
    return pprint.pformat(literal.value, width=PRETTY_WIDTH, compact=True, sort_dicts=False)


def literal_note(text: str | None) -> str | None:
    """A remark for the reader when the text shown is not the whole value."""
    literal = read_literal(text)
    if literal is None or not literal.parsed:
        return None
    if literal.truncated:
        return "Cut short by Celery ('...'): the value shown is incomplete."
    return None


# -- apply again ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ApplyPlan:
    """The task to send again, or why not."""
    name: str | None
    args: tuple = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    queue: str | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def _refusal(label: str, literal: Literal | None) -> str | None:
    if literal is None:
        return f"its {label} were never reported by an event"
    if not literal.parsed:
        return f"its {label} are not plain Python literals"
    if literal.truncated:
        return f"its {label} were cut short by Celery ('...')"
    if literal.ambiguous:
        return (f"its {label} contain a backslash, which Celery's repr does not escape, "
                "so the original value cannot be known")
    if literal.has_bytes:
        return f"its {label} contain bytes, which Celery's repr does not keep faithfully"
    return None


def plan_apply(row: Mapping[str, Any] | None, registered: Collection[str]) -> ApplyPlan:
    """Whether `row`'s task can be sent again with the same arguments, and with which."""
    if row is None:
        return ApplyPlan(None, problem="the task has not been seen")
    name = row.get("name")
    if not name:
        return ApplyPlan(None, problem="the task's name was never reported")
    args, kwargs = read_literal(row.get("args")), read_literal(row.get("kwargs"))
    for label, literal in (("positional arguments", args), ("keyword arguments", kwargs)):
        problem = _refusal(label, literal)
        if problem:
            return ApplyPlan(name, problem=problem)
    assert args is not None and kwargs is not None  # _refusal refused a missing one
    if not isinstance(args.value, (tuple, list)):
        return ApplyPlan(name, problem="its positional arguments are not a list")
    if not isinstance(kwargs.value, dict) or not all(isinstance(key, str) for key in kwargs.value):
        return ApplyPlan(name, problem="its keyword arguments are not a mapping of names")
    if name not in registered:
        return ApplyPlan(name, problem=f"no online worker has {name} registered "
                                       "(as last reported to the Inspector)")
    return ApplyPlan(name, tuple(args.value), dict(kwargs.value), row.get("queue") or None)


def describe_call(plan: ApplyPlan) -> str:
    """`name(1, 'x', key=2)`, for the confirmation dialog."""
    parts = [repr(value) for value in plan.args]
    parts += [f"{key}={value!r}" for key, value in plan.kwargs.items()]
    call = f"{plan.name}({', '.join(parts)})"
    return call if len(call) <= 300 else call[:297] + "..."
