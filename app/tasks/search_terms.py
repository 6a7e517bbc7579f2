"""The task search box's language, Flower's (flower/utils/search.py) with a few more keys.

    state:FAILURE name:app.tasks.charge worker:w1@host "two words" 3f2a

`state:`, `name:`, `worker:`, `queue:` and `issue:` (a failure's fingerprint, see
store/fingerprint.py) match exactly (several values: `state:FAILURE,RETRY` or the key
repeated); `state:` also takes the derived states (DERIVED_STATES); `result:` and `args:`
are text found in the task's result or args;
`kwargs:key=value` a keyword argument of that value; any other word (a task id, an id prefix,
part of a name...) is looked for in the id, name, worker, args, kwargs, result and exception.
Quotes keep spaces in a value. Every term must hold (Flower's any one of them sufficed: a
search narrows as it grows, the way a search box is read). Pure: the SQL is in queries.py.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace

STATE_NAME = re.compile(r"^[A-Z][A-Z_]{0,31}$")  # what a Celery state looks like
# States no event names, derived from the stored columns (the SQL is in queries.py):
# RECOVERED succeeded after at least one retry; DEAD failed for good (Celery sends
# task-failed only once it will not retry: its retries used up, or none allowed); RETRYING
# retried and not finished yet (waiting for its next run, or running it).
DERIVED_STATES = ("RECOVERED", "DEAD", "RETRYING")
LIST_KEYS = ("state", "name", "worker", "queue", "issue")  # exact values, comma-separated
TEXT_KEYS = ("result", "args", "kwargs")
KEYS = LIST_KEYS + TEXT_KEYS
# A term: runs of anything but spaces and quotes, or quoted text (backslash escapes a quote).
_TERM = re.compile(r'(?:[^\s"]|"(?:\\.|[^"\\])*")+')
_KEYED = re.compile(r"^([a-z_]+):(.*)$", re.DOTALL)
_HELP = ", ".join(f"{key}:" for key in KEYS)


class SearchError(ValueError):
    """A search the box cannot read; the message names the term and says how to write it."""


@dataclass(frozen=True)
class SearchTerms:
    states: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    workers: tuple[str, ...] = ()
    queues: tuple[str, ...] = ()
    issues: tuple[str, ...] = ()
    results: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    kwargs: tuple[tuple[str, str], ...] = ()
    words: tuple[str, ...] = ()  # free text

    def without_states(self) -> SearchTerms:
        return replace(self, states=())


def _unquote(text: str) -> str:
    """`a"b c"d` → `ab cd`: quotes group, `\\"` is a quote."""
    return re.sub(r'"((?:\\.|[^"\\])*)"', lambda m: re.sub(r"\\(.)", r"\1", m.group(1)), text)


def tokens(text: str) -> list[str]:
    """The raw terms of a search, quotes kept; an unclosed quote is an error."""
    text = text or ""
    if _TERM.sub("", text).strip():  # all that is left over is an unmatched quote
        raise SearchError('a quote (") is not closed')
    return _TERM.findall(text)


def _values(key: str, raw: str) -> list[str]:
    parts = raw.split(",") if key in LIST_KEYS else [raw]
    values = [_unquote(part).strip() for part in parts]
    if not all(values):
        example = {"state": "state:FAILURE", "kwargs": "kwargs:user_id=42"}.get(key, f"{key}:text")
        raise SearchError(f"{key}: needs a value, e.g. {example}")
    return values


def _checked(key: str, value: str, term: str) -> str | tuple[str, str]:
    if key == "state":
        if not STATE_NAME.match(value.upper()):
            raise SearchError(f"state: {value.upper()!r} is not a task state such as SUCCESS "
                              "or FAILURE")
        return value.upper()
    if key == "kwargs":
        name, equals, wanted = value.partition("=")
        if not equals or not name.strip():
            raise SearchError(f"kwargs: write kwargs:name=value, not {term!r}")
        return name.strip(), wanted.strip()
    return value


def parse_search(text: str | None) -> SearchTerms:
    """Read a search box; raise SearchError on the first term it cannot read."""
    found: dict[str, list] = {key: [] for key in (*KEYS, "words")}
    for term in tokens(text or ""):
        keyed = _KEYED.match(term)
        if not keyed:
            found["words"].append(_unquote(term))
            continue
        key, raw = keyed.groups()
        if key not in KEYS:
            raise SearchError(f"{key}: is not a search term; use {_HELP} or put text holding "
                              f'a colon in quotes ("{term}")')
        for value in _values(key, raw):
            found[key].append(_checked(key, value, term))
    return SearchTerms(
        states=tuple(dict.fromkeys(found["state"])), names=tuple(found["name"]),
        workers=tuple(found["worker"]), queues=tuple(found["queue"]),
        issues=tuple(found["issue"]),
        results=tuple(found["result"]), args=tuple(found["args"]),
        kwargs=tuple(found["kwargs"]), words=tuple(word for word in found["words"] if word))


def drop_key(text: str, key: str) -> str:
    """The search without its `key:` terms (a state chip replaces the box's state: terms)."""
    try:
        kept = [term for term in tokens(text or "") if not term.startswith(f"{key}:")]
    except SearchError:
        return text
    return " ".join(kept)


def kwarg_patterns(name: str, value: str) -> list[str]:
    """How `name=value` reads in a kwargs repr: {'name': value, ...} with the value bare
    (numbers, None) or quoted either way; each pattern ends where the value must end."""
    patterns = []
    for key_quote in ("'", '"'):
        key = f"{key_quote}{name}{key_quote}: "
        patterns += [f"{key}{value},", f"{key}{value}}}", f"{key}'{value}'", f'{key}"{value}"']
    return patterns
