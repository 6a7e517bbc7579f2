"""Issues in SQL: failures grouped by fingerprint over a window, and each group's
sparkline and sample, aggregated by the database (the ix_tasks_issue index answers the
grouping alone); only the groups come back, never the failures.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Integer, and_, case, cast, func, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql import ColumnElement

from ..store.fingerprint import normalize, split_exception
from ..store.schema import FAILED_AT, tasks
from ..tasks.queries import state_condition, where_clause
from .request import SPARK_BUCKETS, IssueRequest


@dataclass
class Issue:
    issue: str  # the fingerprint: `issue:<it>` in the task search finds its tasks
    count: int
    first_seen: float
    last_seen: float
    workers: int
    recovered: int
    dead: int
    retrying: int
    task_name: str = ""
    exception_type: str = ""
    message: str = ""  # normalized
    sample_id: str = ""  # the newest failure of the group
    sample_exception: str = ""
    sparkline: list[int] = field(default_factory=list)


@dataclass
class IssueReport:
    issues: list[Issue]
    total_failures: int  # in the window, all groups
    total_issues: int
    total_recovered: int
    total_dead: int
    start: float  # the sparklines' span, epoch seconds
    end: float
    bucket_seconds: float


def _count(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.sum(case((condition, 1), else_=0))


def _conditions(request: IssueRequest, now: float) -> ColumnElement[bool]:
    since, until = request.window(now)
    unwindowed = request.task_filter.with_changes(range=None, since=None, until=None)
    conditions = [tasks.c.issue.is_not(None), FAILED_AT.is_not(None),
                  where_clause(unwindowed, now)]
    if since is not None:
        conditions.append(FAILED_AT >= since)
    if until is not None:
        conditions.append(FAILED_AT <= until)
    return and_(*conditions)


def issue_report(engine: Engine, request: IssueRequest, now: float | None = None) -> IssueReport:
    """The newest `request.limit` issues of the window, each counted, sampled and drawn."""
    now = now or time.time()
    condition = _conditions(request, now)
    last_seen = func.max(FAILED_AT).label("last_seen")
    grouped = (select(tasks.c.issue, func.count().label("count"),
                      func.min(FAILED_AT).label("first_seen"), last_seen,
                      func.count(tasks.c.worker.distinct()).label("workers"),
                      _count(state_condition(["RECOVERED"])).label("recovered"),
                      _count(state_condition(["DEAD"])).label("dead"),
                      _count(state_condition(["RETRYING"])).label("retrying"))
               .where(condition).group_by(tasks.c.issue))
    with engine.connect() as connection:
        # Every group comes back (issues are few) so that the window's totals need no
        # second pass over its failures; the newest `limit` are kept.
        every = [Issue(**row._asdict()) for row in connection.execute(grouped)]
        every.sort(key=lambda issue: (-issue.last_seen, issue.issue))
        issues = every[:request.limit]
        since, until = request.window(now)
        start = since if since is not None else min(
            (issue.first_seen for issue in issues), default=now)
        end = until if until is not None else now
        bucket = max(end - start, 1.0) / SPARK_BUCKETS
        for issue in issues:
            _describe(connection, issue)
        _draw(connection, issues, condition, start, bucket)
    return IssueReport(issues, sum(issue.count for issue in every), len(every),
                       sum(issue.recovered for issue in every),
                       sum(issue.dead for issue in every), start, end, bucket)


def _describe(connection: Connection, issue: Issue) -> None:
    """The group's newest failure (an index seek on its fingerprint) names and shows it."""
    sample = connection.execute(
        select(tasks.c.uuid, tasks.c.name, tasks.c.exception)
        .where(tasks.c.issue == issue.issue, FAILED_AT == issue.last_seen)
        .limit(1)).first()
    if sample is None:  # written over since the grouping: the group stays, unnamed
        return
    issue.sample_id, issue.task_name, issue.sample_exception = (
        sample.uuid, sample.name or "", sample.exception or "")
    issue.exception_type, message = split_exception(sample.exception)
    issue.message = normalize(message)


def _draw(connection: Connection, issues: list[Issue], condition: ColumnElement[bool],
          start: float, bucket: float) -> None:
    """Occurrences per bucket of each group, in one GROUP BY over the index."""
    if not issues:
        return
    slot = cast(func.floor((FAILED_AT - start) / bucket), Integer).label("slot")
    query = (select(tasks.c.issue, slot, func.count())
             .where(condition, tasks.c.issue.in_([issue.issue for issue in issues]))
             .group_by(tasks.c.issue, slot))
    by_issue = {issue.issue: issue for issue in issues}
    for issue in issues:
        issue.sparkline = [0] * SPARK_BUCKETS
    for fingerprint, index, number in connection.execute(query):
        bars = by_issue[fingerprint].sparkline
        bars[min(max(int(index), 0), SPARK_BUCKETS - 1)] += number
