"""Streamed responses a store outage cannot pass off as complete.

Before the first byte, a failure is an ordinary error: `started` runs the stream up to its
first chunk inside the route, so the 503 handler answers. After it, the status line is
gone: the stream raises, and the server drops the connection without the chunked
encoding's final chunk, which every HTTP client reports as a truncated body. A CSV also
gets a last line saying so (`marked_incomplete`), for a client reading an HTTP/1.0 stream
(no chunks: the body just ends) and for whoever opens the file later.
"""
from __future__ import annotations

from collections.abc import Iterator
from itertools import chain
from typing import TypeVar

from ..store.outage import STORE_ERRORS, STORE_UNREACHABLE, is_unreachable

T = TypeVar("T")


def started(chunks: Iterator[T]) -> Iterator[T]:
    """`chunks` with its first item already computed (the query run, its first rows read)."""
    try:
        first = next(chunks)
    except StopIteration:
        return chain((), chunks)
    return chain((first,), chunks)


def incomplete_line(error: BaseException) -> str:
    """The CSV's last line after a failure midway; it has no comma, so it reads as one field."""
    reason = STORE_UNREACHABLE if isinstance(error, STORE_ERRORS) and is_unreachable(error) \
        else "server error"
    return f"# export incomplete: {reason}\r\n"


def marked_incomplete(lines: Iterator[str]) -> Iterator[str]:
    """CSV text that, failing midway, ends in `incomplete_line` and then aborts."""
    try:
        yield from lines
    except Exception as exc:
        yield incomplete_line(exc)
        raise
