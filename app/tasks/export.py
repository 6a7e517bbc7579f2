"""The command-line export: the same CSV as /api/tasks.csv, written to a file with progress."""
from __future__ import annotations

import contextlib
import sys
import time

import click

from ..config import Settings
from ..store.history import HistoryStore
from . import queries as task_queries
from .filters import TaskFilter


def export_to_file(settings: Settings, task_filter: TaskFilter, output: str) -> int:
    """Write the filtered tasks to `output` ('-' is stdout); return the number of rows."""
    store = HistoryStore(settings.store)
    now = time.time()
    try:
        total = task_queries.count(store.engine, task_filter, now=now)
        batches = task_queries.export_batches(store.engine, task_filter, now=now)
        with contextlib.ExitStack() as stack:
            handle = sys.stdout if output == "-" else stack.enter_context(
                open(output, "w", encoding="utf-8", newline=""))
            progress = stack.enter_context(click.progressbar(
                length=total, label=f"Exporting {total:,} tasks", file=sys.stderr,
                show_pos=True))
            written = 0
            for rows, text in batches:
                handle.write(text)
                written += rows
                progress.update(rows)
    finally:
        store.close()
    click.echo(f"Wrote {written:,} tasks to {output}", err=True)
    return written
