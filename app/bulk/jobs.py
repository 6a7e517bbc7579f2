"""Bulk jobs: a large set is sent by a background thread at a bounded rate, its progress and
report kept in the store (`bulk_jobs`), so that any web replica answers GET /api/jobs/<id>
and takes a cancel. The thread lives in the process that started the job: if that process
dies, the job's heartbeat (`updated`) stops and readers see it as `lost`."""
from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from ..store.schema import bulk_jobs
from .targets import MAX_LISTED

log = logging.getLogger(__name__)

STEP_SECONDS = 0.2  # the runner sends rate × this many items at a time
SAVE_SECONDS = 0.5  # progress is written (and a cancel looked for) this often
LOST_AFTER = 30.0  # seconds without a heartbeat: the process running the job is gone


@dataclass
class Report:
    """What a run did: sent ({id, new_id}) and refused ({id, reason}), listed up to
    MAX_LISTED each and counted beyond."""
    sent: list[dict[str, str]] = field(default_factory=list)
    refused: list[dict[str, str]] = field(default_factory=list)
    sent_count: int = 0
    refused_count: int = 0

    def add(self, sent: Sequence[dict[str, str]], refused: Sequence[dict[str, str]]) -> None:
        self.sent_count += len(sent)
        self.refused_count += len(refused)
        self.sent.extend(sent[:max(0, MAX_LISTED - len(self.sent))])
        self.refused.extend(refused[:max(0, MAX_LISTED - len(self.refused))])

    def as_dict(self) -> dict[str, Any]:
        return {"sent": self.sent, "sent_count": self.sent_count, "refused": self.refused,
                "refused_count": self.refused_count}


# A batch sender: takes items, returns (sent, refused) for them. Never raises for one item.
Sender = Callable[[list[Any]], tuple[list[dict[str, str]], list[dict[str, str]]]]


def create(engine: Engine, kind: str, username: str, matched: int, total: int,
           report: Report) -> str:
    job_id = uuid.uuid4().hex
    now = time.time()
    with engine.begin() as connection:
        connection.execute(bulk_jobs.insert(), {
            "id": job_id, "kind": kind, "state": "running", "username": username,
            "created": now, "updated": now, "matched": matched, "total": total, "done": 0,
            "cancel_requested": None, "report": json.dumps(report.as_dict())})
    return job_id


def read(engine: Engine, job_id: str, now: float | None = None) -> dict[str, Any] | None:
    with engine.connect() as connection:
        row = connection.execute(select(bulk_jobs).where(bulk_jobs.c.id == job_id)).first()
    if row is None:
        return None
    job = row._asdict()
    job.update(json.loads(job.pop("report")))
    if job["state"] == "running" and (now or time.time()) - job["updated"] > LOST_AFTER:
        job["state"] = "lost"
    return job


def request_cancel(engine: Engine, job_id: str) -> bool:
    """Ask a running job to stop (it stops within SAVE_SECONDS); False if it is not running."""
    with engine.begin() as connection:
        changed = connection.execute(
            update(bulk_jobs).where(bulk_jobs.c.id == job_id, bulk_jobs.c.state == "running")
            .values(cancel_requested=time.time())).rowcount
    return bool(changed)


def _save(engine: Engine, job_id: str, done: int, report: Report,
          state: str = "running") -> bool:
    """Write progress; return whether a cancel was asked for."""
    with engine.begin() as connection:
        connection.execute(update(bulk_jobs).where(bulk_jobs.c.id == job_id).values(
            done=done, report=json.dumps(report.as_dict()), state=state, updated=time.time()))
        cancel = connection.execute(select(bulk_jobs.c.cancel_requested)
                                    .where(bulk_jobs.c.id == job_id)).scalar()
    return cancel is not None


def run(engine: Engine, job_id: str, items: list[Any], send: Sender, rate: float,
        report: Report, finished: Callable[[str, Report], None]) -> None:
    """Send `items` at most `rate` per second, saving progress; `finished(state, report)`
    is called once at the end (the audit record)."""
    step = max(1, int(rate * STEP_SECONDS))
    started, saved, done, state = time.monotonic(), 0.0, 0, "done"
    try:
        while done < len(items):
            batch = items[done:done + step]
            report.add(*send(batch))
            done += len(batch)
            if time.monotonic() - saved >= SAVE_SECONDS:
                saved = time.monotonic()
                if _save(engine, job_id, done, report):
                    state = "cancelled"
                    break
            delay = started + done / rate - time.monotonic()
            if delay > 0 and done < len(items):
                time.sleep(delay)
    except Exception:  # noqa: BLE001 — the job's row must say it ended, whatever happened
        log.exception("bulk job %s failed", job_id)
        state = "failed"
    try:
        _save(engine, job_id, done, report, state)
    finally:
        finished(state, report)


def start(engine: Engine, job_id: str, items: list[Any], send: Sender, rate: float,
          report: Report, finished: Callable[[str, Report], None]) -> threading.Thread:
    thread = threading.Thread(target=run, name=f"bulk-job-{job_id[:8]}", daemon=True,
                              args=(engine, job_id, items, send, rate, report, finished))
    thread.start()
    return thread
