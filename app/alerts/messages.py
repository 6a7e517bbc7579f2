"""Alert messages and the bodies each notifier kind sends: a documented JSON object for
webhooks, Slack's format, and a plain-text e-mail.

Everything that comes from the cluster (rule names, labels, task and queue names, the
summary) is text in every format: JSON escapes it; Slack text has `&`, `<` and `>` escaped
(so a task named `<!channel>` mentions no one) and user text sits in `plain_text` objects,
which Slack does not format; the e-mail is plain text whose subject has control characters
(a CR LF that would start a new header) replaced by spaces.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

SOURCE = "celery-scope"
SLACK_HEADER_LIMIT = 150  # characters, Slack's limit for a header block
SLACK_TEXT_LIMIT = 3000  # characters, Slack's limit for a section's text
SUBJECT_LIMIT = 200  # characters; a longer subject is cut with an ellipsis


@dataclass(frozen=True)
class AlertMessage:
    rule: str
    status: str  # "firing" | "resolved"
    labels: Mapping[str, str]
    value: float | None
    threshold: float | None
    started_at: float  # epoch seconds
    ended_at: float | None  # resolved: when
    url: str  # link to the page that shows the cause
    summary: str  # one plain-text line
    kind: str = ""  # the rule's kind


def webhook_body(message: AlertMessage) -> dict[str, Any]:
    """The documented webhook JSON object (README, "Alerts")."""
    return {
        "source": SOURCE,
        "rule": message.rule,
        "kind": message.kind,
        "status": message.status,
        "labels": {str(key): str(value) for key, value in message.labels.items()},
        "value": _finite(message.value),
        "threshold": _finite(message.threshold),
        "started_at": message.started_at,
        "ended_at": message.ended_at,
        "url": message.url,
        "summary": message.summary,
    }


def slack_body(message: AlertMessage) -> dict[str, Any]:
    """A message for a Slack incoming webhook: `text` for notifications and old clients,
    `blocks` for the layout."""
    headline = f"{_status_word(message)}: {message.rule}"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": _plain(headline, SLACK_HEADER_LIMIT)},
        {"type": "section", "text": _plain(message.summary or headline, SLACK_TEXT_LIMIT)},
    ]
    details = _detail_lines(message)
    if details:
        blocks.append({"type": "section",
                       "text": _plain("\n".join(details), SLACK_TEXT_LIMIT)})
    link = slack_escape(message.url.replace("|", "%7C"))
    blocks.append({"type": "context", "elements": [
        {"type": "mrkdwn", "text": f"<{link}|Open in celery-scope>", "verbatim": True}]})
    return {"text": _slack_text(f"{headline} — {message.summary}", SLACK_TEXT_LIMIT),
            "blocks": blocks}


def email_subject(message: AlertMessage) -> str:
    """One header line: control characters (CR, LF, tabs) become spaces."""
    return _cut(_one_line(f"[{SOURCE}] {_status_word(message)}: {message.rule}"), SUBJECT_LIMIT)


def email_body(message: AlertMessage) -> str:
    """Plain text, one fact a line; names are written as they are, never as markup."""
    lines = [
        f"{_status_word(message)}: {_one_line(message.rule)}",
        _one_line(message.summary),
        "",
        *_detail_lines(message),
        "",
        f"Open: {_one_line(message.url)}",
        "",
        f"-- \nSent by {SOURCE}.",
    ]
    return "\n".join(lines) + "\n"


def slack_escape(text: str) -> str:
    """Slack's three control characters as entities, so the text stays text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _detail_lines(message: AlertMessage) -> list[str]:
    lines = []
    if message.kind:
        lines.append(f"Kind: {_one_line(message.kind)}")
    if message.value is not None:
        lines.append(f"Value: {_number(message.value)}")
    if message.threshold is not None:
        lines.append(f"Threshold: {_number(message.threshold)}")
    lines.append(f"Started: {_utc(message.started_at)}")
    if message.ended_at is not None:
        lines.append(f"Resolved: {_utc(message.ended_at)}")
    lines.extend(f"{_one_line(str(key))}: {_one_line(str(value))}"
                 for key, value in sorted(message.labels.items()))
    return lines


def _status_word(message: AlertMessage) -> str:
    return _one_line(message.status).upper()


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": _slack_text(text, limit) or " ", "emoji": False}


def _slack_text(text: str, limit: int) -> str:
    """Escaped, then cut to Slack's limit without splitting an entity."""
    escaped = slack_escape(text)
    if len(escaped) <= limit:
        return escaped
    cut = escaped[:limit - 1]
    amp = cut.rfind("&")
    if amp >= 0 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + "…"


def _one_line(text: str) -> str:
    return "".join(" " if ord(c) < 32 or 127 <= ord(c) < 160 or c in "\u2028\u2029" else c
                   for c in text)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _finite(value: float | None) -> float | None:
    """JSON has no NaN or infinity: such a value is sent as null."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def _number(value: float) -> str:
    return f"{value:.6g}"


def _utc(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
