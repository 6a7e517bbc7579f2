"""A failure's fingerprint: what makes two failures the same issue (see triage/).

Task name + exception type + the message with what varies between occurrences folded
(uuids, hex ids, quoted values, numbers), hashed to 16 hex characters. The merge rules
write it into the task's `issue` column as the exception arrives, so grouping millions of
tasks is an indexed GROUP BY instead of a regex over every row at query time (SQLite has
no regex functions; PostgreSQL's regexp_replace over 100k failures costs seconds). It
lives in store/ because the merge rules call it and the store imports nothing above it.
Pure: no framework import.
"""
from __future__ import annotations

import hashlib
import re

MAX_MESSAGE = 500  # characters of the folded message kept (and hashed)
_CALL = re.compile(r"^\s*([A-Za-z_][\w.]*)\((.*)\)\s*$", re.DOTALL)
_ONE_LITERAL = re.compile(r"""^\s*(?:'((?:\\.|[^'\\])*)'|"((?:\\.|[^"\\])*)"),?\s*$""", re.DOTALL)
_FOLDS = (
    (re.compile(r"\b[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?"
                r"[0-9a-fA-F]{12}\b"), "<uuid>"),
    (re.compile(r"\b0[xX][0-9a-fA-F]+\b"), "<hex>"),
    (re.compile(r"\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,}\b"), "<hex>"),
    (re.compile(r"'(?:\\.|[^'\\])*'|\"(?:\\.|[^\"\\])*\""), "'<str>'"),
    (re.compile(r"(?<![A-Za-z_<])[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"), "<n>"),
    (re.compile(r"\s+"), " "),
)


def split_exception(exception: str | None) -> tuple[str, str]:
    """`ValueError('order 12 not found')` → ('ValueError', 'order 12 not found'): the
    type, and the message (a lone string argument unquoted); text that is no call is all
    message, of no type."""
    text = (exception or "").strip()
    call = _CALL.match(text)
    if not call:
        return "", text
    kind, inner = call.groups()
    literal = _ONE_LITERAL.match(inner)
    if literal:
        inner = literal.group(1) if literal.group(1) is not None else literal.group(2)
    return kind, inner.strip()


def normalize(message: str) -> str:
    """The message with uuids, hex ids, quoted values and numbers folded to placeholders."""
    for pattern, placeholder in _FOLDS:
        message = pattern.sub(placeholder, message)
    return message.strip()[:MAX_MESSAGE]


def fingerprint(name: str | None, exception: str | None) -> str:
    """The issue a failure belongs to: 16 hex characters."""
    kind, message = split_exception(exception)
    key = "\0".join((name or "", kind, normalize(message)))
    return hashlib.sha1(key.encode("utf-8", "surrogatepass")).hexdigest()[:16]
