"""Whether an args/kwargs text from an event gives back the exact value that was sent.

Celery renders arguments with `saferepr`: cut at 1,024 characters ('...' inside the text
or at the end of a string), nesting cut after three levels (`{...}`), only quotes escaped
(a backslash in a string is ambiguous), bytes rendered loosely. `ast.literal_eval` reads
such text back *silently wrong*, so a text is accepted only if it parses, holds no
Ellipsis, no string ending in '...', no string with a backslash, no bytes, and `repr` of
the value renders back to the identical text. Anything else is refused with its reason:
never guessed, never replaced by empty arguments.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

_MAX_DEPTH = 100  # deeper than any literal the parser accepts

# The fast path: flat tuples, lists and str-keyed dicts of canonical scalars (ints without
# leading zeros, printable-ASCII strings holding no quote or backslash, None, True, False)
# are exactly what repr renders, so they round-trip without parsing (a dry run over 100,000
# failures must take well under a second). A string ending in '...' and a key given twice
# go the slow way, which refuses them; anything else goes the slow way too.
_STR = r"'[ !\"#-&(-\[\]-~]*+'"
_SCALAR = rf"(?:{_STR}|0|-?[1-9][0-9]{{0,17}}|None|True|False)"
_SEQUENCE = re.compile(rf"\((?:{_SCALAR}(?:, {_SCALAR})+|{_SCALAR},)?\)"
                       rf"|\[(?:{_SCALAR}(?:, {_SCALAR})*)?\]")
_MAPPING = re.compile(rf"\{{(?:{_STR}: {_SCALAR}(?:, {_STR}: {_SCALAR})*)?\}}")
_TOKEN = re.compile(_SCALAR)


def _fast_kind(text: str) -> str | None:
    if not text or "...'" in text:
        return None
    if text[0] != "{":
        return "sequence" if _SEQUENCE.fullmatch(text) else None
    if _MAPPING.fullmatch(text):
        keys = _TOKEN.findall(text)[0::2]
        return "mapping" if len(set(keys)) == len(keys) else None
    return None


def _kind(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "sequence"
    if isinstance(value, dict) and all(isinstance(key, str) for key in value):
        return "mapping"
    return "other"


@dataclass(frozen=True)
class Verdict:
    """`reason` is None when the text round-trips; `kind` is then what it denotes:
    'sequence' (a tuple or list), 'mapping' (a dict keyed by names) or 'other'."""
    kind: str | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.reason is None


def _flaw(value: Any, depth: int = 0) -> str | None:
    """What in a parsed value shows the text was not Python's whole repr of it."""
    if value is Ellipsis:
        return "cut short by Celery's saferepr ('...': too long or nested deeper than 3 levels)"
    if isinstance(value, str):
        if value.endswith("..."):
            return "holds a string ending in '...', as saferepr cuts a long one"
        if "\\" in value:
            return "holds a string with a backslash, which saferepr does not escape"
        return None
    if isinstance(value, (bytes, bytearray)):
        return "holds bytes, which saferepr does not render faithfully"
    if depth > _MAX_DEPTH:
        return "nested too deeply to check"
    if isinstance(value, dict):
        for key, item in value.items():
            flaw = _flaw(key, depth + 1) or _flaw(item, depth + 1)
            if flaw:
                return flaw
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            flaw = _flaw(item, depth + 1)
            if flaw:
                return flaw
    return None


_UNRECORDED = "was never recorded by an event"


def _check(text: str | None) -> tuple[str | None, str | None]:
    """(why the text does not round-trip, or None; what it denotes when it does). A flat
    sequence passes the fast path in less time than a cache takes to store its verdict,
    and args texts are mostly distinct, so only the others' verdicts are cached."""
    if text and text[0] in "([":
        kind = _fast_kind(text)
        if kind:
            return None, kind
    return _verdict(text)


# One verdict per distinct text: kwargs texts repeat (their duplicate-key check costs more
# than a lookup), and the slow path parses.
@lru_cache(maxsize=1 << 16)
def _verdict(text: str | None) -> tuple[str | None, str | None]:
    if text is None:
        return _UNRECORDED, None
    fast = _fast_kind(text)
    if fast:
        return None, fast
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        if "..." in text:
            return "cut short by Celery's saferepr ('...'): it does not parse", None
        return ("is not a Python literal (a datetime, Decimal, UUID or object repr cannot be "
                "read back)"), None
    flaw = _flaw(value)
    if flaw:
        return flaw, None
    try:
        rendered = repr(value)
    except ValueError:  # an int beyond the digits limit
        return "does not render back to the same text", None
    if rendered != text:
        if "\\" in text:
            return "holds a backslash, which saferepr does not escape (only quotes)", None
        return "does not render back to the identical text", None
    return None, _kind(value)


def check_repr(text: str | None) -> Verdict:
    """The round-trip rule for one args or kwargs text (None: never recorded)."""
    reason, kind = _check(text)
    return Verdict(kind, reason)


def refusal(args_text: str | None, kwargs_text: str | None) -> str | None:
    """Why a task's (args, kwargs) texts cannot be sent again exactly, or None (called once
    per task of a dry run: two cached verdicts, no objects made)."""
    args_reason, args_kind = _check(args_text)
    if args_reason:
        return f"args {args_reason}"
    kwargs_reason, kwargs_kind = _check(kwargs_text)
    if kwargs_reason:
        return f"kwargs {kwargs_reason}"
    if args_kind != "sequence":
        return "args are not a list or tuple"
    if kwargs_kind != "mapping":
        return "kwargs are not a mapping of argument names"
    return None


def call_of(args_text: str | None, kwargs_text: str | None) -> tuple[tuple, dict] | str:
    """(args, kwargs) exactly as sent, or the reason they cannot be known. The values are
    read afresh from the text (the cache's are shared, so never handed out)."""
    reason = refusal(args_text, kwargs_text)
    if reason:
        return reason
    assert args_text is not None and kwargs_text is not None  # refusal() checked them
    return tuple(ast.literal_eval(args_text)), dict(ast.literal_eval(kwargs_text))
