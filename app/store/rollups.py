"""Five- and thirty-minute aggregates of the task history and the worker samples, kept by the writer
in the same transaction as the rows, so that /explore's long windows read a few thousand
aggregates instead of every task of the week (a week of 10M tasks is 9M runtimes) or every
sample (50 workers sampled every 10 s make 3M a week).

Each task row contributes to measures, each bucketed by one of its times:

* counts: received (by received), SUCCESS, FAILURE, REVOKED (by the time of that state),
  retried (by retried), departed (any final state of a received task, by its time);
* histograms: runtime (succeeded tasks, by their time) and wait (received → started, by
  received), in log-spaced bins 2% apart, so a percentile read from them is within 1% of
  the exact one.

Each contribution is counted four times: for the whole cluster, its task name, its worker
and its queue. The invariant is that the table equals the sum of `contributions(row)` over
the stored rows: the writer adds a row's new contributions and takes away its old ones,
retention takes away what it deletes, and a replay that changes no row changes nothing.
Worker samples are only ever appended: each period keeps, per worker, how many samples had
an active count and a load and their sums.
"""
from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.engine import Connection, Engine

from .paramstyle import placeholder
from .schema import store_marks, task_rollups, tasks, worker_sample_rollups, worker_samples
from .sketch import Sketch, bin_of

# Seconds in one aggregate, longest first: 30 minutes for weeks and months, 5 for a day.
# Each divides every automatic chart bucket from its own length up (spec.BUCKETS).
SPANS = (1800, 300)
PERIOD = SPANS[-1]
DIMENSIONS = ("", "name", "worker", "queue")
HISTOGRAMS = ("runtime", "wait")
READY_MARK = "rollups_ready_v2"  # v2: the 30-minute span
# The task columns the contributions read.
COLUMNS = ("name", "worker", "queue", "state", "timestamp", "received", "started", "retried",
           "runtime")
_FINAL = frozenset(("SUCCESS", "FAILURE", "REVOKED", "REJECTED"))
_REBUILD_CHUNK = 3600.0  # seconds of history read at a time: bounds the memory a rebuild takes
_IN_CHUNK = 200  # periods per IN (...) list
_SAMPLE_SUMS = ("active_samples", "active_sum", "load1_samples", "load1_sum")

Key = tuple[str, str, int, str, int]  # measure, dimension, span, member, period


def member(value: str | None) -> str:
    """A name, worker or queue as a rollup member: '' for none, '=' and the text for one,
    so that no text (the empty one included) reads as 'none'."""
    return "" if value is None else "=" + value


def member_value(text: str) -> str | None:
    return text[1:] if text else None


def _blob(histogram: Mapping[int, int]) -> bytes:
    bins = sorted(histogram)
    return np.array([*bins, *(histogram[b] for b in bins)], dtype="<i4").tobytes()


def _wait(row: Mapping[str, Any]) -> float | None:
    if row["started"] is None or row["received"] is None:
        return None
    return row["started"] - row["received"]


def _measures(row: Mapping[str, Any], times: Iterable[str] = ("received", "timestamp",
                                                             "retried")
              ) -> list[tuple[str, float, int | None]]:
    """(measure, time, histogram bin or None) for each measure `row` counts in, among the
    measures bucketed by one of `times`."""
    found: list[tuple[str, float, int | None]] = []
    state, moment = row["state"], row["timestamp"]
    for time_column in times:
        if time_column == "received" and row["received"] is not None:
            found.append(("received", row["received"], None))
            wait = _wait(row)
            if wait is not None:
                found.append(("wait", row["received"], bin_of(wait)))
        elif time_column == "retried" and row["retried"] is not None:
            found.append(("retried", row["retried"], None))
        elif time_column == "timestamp" and moment is not None:
            if state in ("SUCCESS", "FAILURE", "REVOKED"):
                found.append((state, moment, None))
            if state in _FINAL and row["received"] is not None:
                found.append(("departed", moment, None))
            if state == "SUCCESS" and row["runtime"] is not None:
                found.append(("runtime", moment, bin_of(row["runtime"])))
    return found


def _members(row: Mapping[str, Any]) -> tuple[str, str, str]:
    """The name, worker and queue a row counts for, as members."""
    return member(row["name"]), member(row["worker"]), member(row["queue"])


class RollupChanges:
    """What a transaction changes in the rollups: +1 or -1 per (key, bin).

    Rows count by (measure, name, worker, queue, five-minute period, bin), one entry a
    measure; by_key spreads the totals over the dimensions and spans, once per distinct
    entry rather than eight times a row."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str, str, str, int, int | None]] = Counter()

    def add(self, row: Mapping[str, Any], sign: int, times=("received", "timestamp",
                                                          "retried")) -> None:
        self._count(_members(row), _measures(row, times), sign)

    def _count(self, members: tuple[str, str, str],
               measures: Iterable[tuple[str, float, int | None]], sign: int) -> None:
        counts = self.counts
        name, worker, queue = members
        for measure, moment, bin_ in measures:
            counts[measure, name, worker, queue, int(moment // PERIOD), bin_] += sign

    def replace(self, before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> None:
        """A row went from `before` (None: new) to `after`. With the same name, worker and
        queue only the measures that differ move: an event changes one or two of them."""
        if before is None:
            self.add(after, 1)
            return
        if all(before[column] == after[column] for column in COLUMNS):
            return
        members = _members(after)
        if _members(before) != members:
            self.add(before, -1)
            self.add(after, 1)
            return
        old, new = _measures(before), _measures(after)
        self._count(members, [item for item in old if item not in new], -1)
        self._count(members, [item for item in new if item not in old], 1)

    def by_key(self) -> dict[Key, dict[int | None, int]]:
        """The changes by stored key, then by bin (None for a count)."""
        grouped: dict[Key, dict[int | None, int]] = defaultdict(dict)
        periods_per_span = [(span, span // PERIOD) for span in SPANS]
        for (measure, *members, period, bin_), change in self.counts.items():
            if not change:
                continue
            for span, per in periods_per_span:
                for dimension, who in zip(DIMENSIONS, ("", *members)):
                    bins = grouped[measure, dimension, span, who, period // per]
                    bins[bin_] = bins.get(bin_, 0) + change
        return {key: {bin_: change for bin_, change in bins.items() if change}
                for key, bins in grouped.items() if any(bins.values())}


def apply(connection: Connection, changes: RollupChanges) -> None:
    """Add `changes` to the stored aggregates (read, add, write back: only the leading
    collector writes, so nothing changes them between the read and the write)."""
    grouped = changes.by_key()
    if not grouped:
        return
    mark = placeholder(connection.dialect)
    periods = sorted({key[4] for key in grouped})
    stored: dict[Key, tuple[int, bytes | None]] = {}
    for first in range(0, len(periods), _IN_CHUNK):
        chunk = tuple(periods[first:first + _IN_CHUNK])
        result = connection.exec_driver_sql(
            "SELECT measure, dimension, span, member, period, tasks, histogram "
            f"FROM task_rollups WHERE period IN ({', '.join([mark] * len(chunk))})", chunk)
        for measure, dimension, span, who, period, count, blob in result:
            key = (measure, dimension, span, who, period)
            if key in grouped:
                stored[key] = (count, blob)
    written, emptied = [], []
    for key, change in grouped.items():
        count, blob = stored.get(key, (0, None))
        total = count + sum(change.values())
        if total <= 0:
            if key in stored:
                emptied.append(key)
            continue
        histogram = None
        if key[0] in HISTOGRAMS:
            bins: Counter[int] = Counter()
            if blob is not None:
                sketch = Sketch.from_blob(bytes(blob))
                bins.update(dict(zip(sketch.bins.tolist(), sketch.counts.tolist())))
            bins.update({bin_: n for bin_, n in change.items() if bin_ is not None})
            histogram = _blob({bin_: n for bin_, n in bins.items() if n > 0})
        written.append((*key, total, histogram))
    if written:
        connection.exec_driver_sql(
            "INSERT INTO task_rollups (measure, dimension, span, member, period, tasks, "
            f"histogram) VALUES ({', '.join([mark] * 7)}) ON CONFLICT (measure, dimension, "
            "span, member, period) DO UPDATE SET tasks = excluded.tasks, "
            "histogram = excluded.histogram", written)
    if emptied:
        connection.exec_driver_sql(
            f"DELETE FROM task_rollups WHERE measure = {mark} AND dimension = {mark} "
            f"AND span = {mark} AND member = {mark} AND period = {mark}", emptied)


# -- worker samples -----------------------------------------------------------------------

def add_samples(connection: Connection, samples: Iterable[Mapping[str, Any]]) -> None:
    """Add appended worker samples to their workers' period sums."""
    sums: dict[tuple[int, int, str], list[float]] = {}
    for sample in samples:
        for span in SPANS:
            entry = sums.setdefault((span, int(sample["timestamp"] // span), sample["hostname"]),
                                    [0, 0.0, 0, 0.0])
            for offset, column in ((0, "active"), (2, "load1")):
                if sample.get(column) is not None:
                    entry[offset] += 1
                    entry[offset + 1] += sample[column]
    if not sums:
        return
    mark = placeholder(connection.dialect)
    added = ", ".join(f"{column} = worker_sample_rollups.{column} + excluded.{column}"
                      for column in _SAMPLE_SUMS)
    connection.exec_driver_sql(
        f"INSERT INTO worker_sample_rollups (span, period, hostname, {', '.join(_SAMPLE_SUMS)}) "
        f"VALUES ({', '.join([mark] * 7)}) ON CONFLICT (span, period, hostname) "
        f"DO UPDATE SET {added}", [(*key, *entry) for key, entry in sums.items()])


def _resum_samples(connection: Connection, span: int, where: str, params: tuple = ()) -> None:
    """Recompute the `span` sums of the samples `where` selects, from the samples."""
    if connection.dialect.name == "sqlite":  # CAST truncates, which is floor for t > 0
        period = f"CAST(timestamp / {span}.0 AS INTEGER)"
    else:
        period = f"CAST(floor(timestamp / {span}.0) AS INTEGER)"
    connection.exec_driver_sql(
        f"INSERT INTO worker_sample_rollups (span, period, hostname, {', '.join(_SAMPLE_SUMS)}) "
        f"SELECT {span}, {period}, hostname, count(active), coalesce(sum(active), 0), "
        f"count(load1), coalesce(sum(load1), 0) FROM worker_samples WHERE {where} "
        "GROUP BY 2, 3", params)


def prune_samples(connection: Connection, before: float) -> None:
    """After the samples older than `before` went: drop the periods they filled, and sum
    again the one the cut goes through."""
    mark = placeholder(connection.dialect)
    for span in SPANS:
        cut = int(before // span)
        connection.exec_driver_sql(
            f"DELETE FROM worker_sample_rollups WHERE span = {mark} AND period <= {mark}",
            (span, cut))
        _resum_samples(connection, span, f"timestamp >= {mark} AND timestamp < {mark}",
                       (cut * span, (cut + 1) * span))


# -- readiness ----------------------------------------------------------------------------

def _marked(connection: Connection) -> bool:
    return connection.execute(select(store_marks.c.value)
                              .where(store_marks.c.name == READY_MARK)).first() is not None


def _mark_ready(connection: Connection) -> None:
    connection.execute(store_marks.delete().where(store_marks.c.name == READY_MARK))
    connection.execute(store_marks.insert().values(name=READY_MARK, value="1"))


def ready(engine: Engine) -> bool:
    """Whether the aggregates hold the whole history (a store made before them holds none
    until the collector rebuilds them)."""
    with engine.connect() as connection:
        return _marked(connection)


def mark_ready_if_empty(connection: Connection) -> None:
    """A store with no task yet is complete as it is: mark it so."""
    if not _marked(connection) and not any(
            connection.execute(select(column).limit(1)).first()
            for column in (tasks.c.uuid, worker_samples.c.hostname)):
        _mark_ready(connection)


def rebuild(engine: Engine) -> int:
    """Compute every aggregate from the stored rows, an hour of history at a time, in one
    transaction, and mark them ready; returns the tasks read. The writer runs it when it
    finds a store made before the aggregates existed."""
    read = 0
    with engine.begin() as connection:
        connection.execute(task_rollups.delete())
        bounds = connection.execute(select(*(aggregate(tasks.c[column])
                                             for column in ("received", "timestamp", "retried")
                                             for aggregate in (func.min, func.max)))).one()
        known = [value for value in bounds if value is not None]
        if known:
            first = math.floor(min(known) / PERIOD) * PERIOD
            last = max(known)
            chunk_start = first
            while chunk_start <= last:
                chunk_end = chunk_start + _REBUILD_CHUNK
                changes = RollupChanges()
                for time_column in ("received", "timestamp", "retried"):
                    moment = tasks.c[time_column]
                    query = (select(*(tasks.c[column] for column in COLUMNS))
                             .where(moment >= chunk_start, moment < chunk_end))
                    for values in connection.execute(query):
                        changes.add(dict(zip(COLUMNS, values)), 1, (time_column,))
                        read += time_column == "timestamp"
                apply(connection, changes)
                chunk_start = chunk_end
        connection.execute(worker_sample_rollups.delete())
        for span in SPANS:
            _resum_samples(connection, span, "timestamp IS NOT NULL")
        _mark_ready(connection)
    return read
