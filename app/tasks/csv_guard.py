"""The spreadsheet formula guard of every CSV the app writes (OWASP's advice).

A spreadsheet opening a CSV reads a cell that starts with =, +, - or @ as a formula (a tab
or carriage return in front can hide one), and a formula can fetch URLs or run commands.
Task fields, names, workers and queues come from anyone able to send a task or start a
worker, so such text gets a leading single quote, which spreadsheets show as text. Numbers
written as numbers are never touched: a negative runtime stays a number.
"""
from __future__ import annotations

from typing import TypeVar

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")  # first characters a spreadsheet may evaluate

T = TypeVar("T")


def guard(value: T) -> T | str:
    """`value` with a leading ' when it is text a spreadsheet would evaluate; else as it is."""
    if isinstance(value, str) and value.startswith(TRIGGERS):
        return "'" + value
    return value
