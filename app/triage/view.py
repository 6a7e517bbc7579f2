"""What the /issues page shows of an IssueReport, as plain rows (pure: no Dash)."""
from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from ..formatting import human_seconds, moment_text
from .queries import IssueReport

WINDOWS = {"1h": "last hour", "24h": "last 24 h", "7d": "last 7 days", "all": "all history"}


def bar_heights(counts: list[int]) -> list[int]:
    """Each bar's height in percent of the tallest; a bucket with any failure shows."""
    top = max(counts, default=0)
    return [0 if not number else max(8, round(100 * number / top)) for number in counts]


def tasks_href(prefix: str, fingerprint: str) -> str:
    """The task grid filtered to one issue."""
    return f"{prefix}tasks?{urlencode({'search': f'issue:{fingerprint}'})}"


def issue_rows(report: IssueReport, prefix: str, zone: ZoneInfo,
               now: float) -> list[dict[str, Any]]:
    """One row per issue: texts, counts, sparkline heights and links, newest first."""
    return [{
        "issue": issue.issue, "type": issue.exception_type or "(no exception type)",
        "message": issue.message or "(no message)", "task_name": issue.task_name or "(unnamed)",
        "count": issue.count, "workers": issue.workers, "recovered": issue.recovered,
        "dead": issue.dead, "retrying": issue.retrying,
        "other": issue.count - issue.recovered - issue.dead - issue.retrying,
        "bars": bar_heights(issue.sparkline),
        "counts": issue.sparkline,
        "first_seen": moment_text(issue.first_seen, zone),
        "last_seen": moment_text(issue.last_seen, zone),
        "last_ago": f"{human_seconds(max(now - issue.last_seen, 0))} ago",
        "sample_id": issue.sample_id, "sample_exception": issue.sample_exception,
        "sample_href": f"{prefix}tasks/{quote(issue.sample_id, safe='')}",
        "tasks_href": tasks_href(prefix, issue.issue),
    } for issue in report.issues]


def summary(report: IssueReport, window: str) -> str:
    failures, issues = report.total_failures, report.total_issues
    return (f"{failures:,} failure{'s' if failures != 1 else ''} in {issues:,} "
            f"issue{'s' if issues != 1 else ''}, {WINDOWS.get(window, 'chosen window')}")
