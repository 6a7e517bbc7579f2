"""Bulk retry and revoke, for the API and the pages alike: parse the request, pass the
gates (read-only, role, admin over a threshold), plan (the dry run), then send: at once
for a small set, else as a rate-bounded job (jobs.py). Every run, dry or real, refused or
not, leaves an audit record."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from celery import Celery
from celery.backends.base import DisabledBackend
from celery.platforms import signals
from sqlalchemy.engine import Engine

from ..audit.trail import audit_job, current_actor, record_action
from ..auth.credentials import rank
from ..auth.roles import Forbidden, current_role
from ..broker.gate import BrokerUnavailable
from ..broker.publish import Routing, TaskRefused, broadcast_revoke, publish_routed
from ..services import Services
from ..tasks.filters import TaskFilter
from . import jobs, links
from .roundtrip import call_of
from .targets import (
    Plan,
    SelectionError,
    parse_selection,
    retry_reason,
    revoke_refusal,
    selected_rows,
)

SYNC_MAX = 50  # eligible tasks sent within the request; more run as a job (202)
ADMIN_OVER = 1000  # eligible tasks beyond which only an admin may act
DEFAULT_RATE, MAX_RATE = 50.0, 1000.0  # tasks per second a job sends


@dataclass(frozen=True)
class BulkRequest:
    kind: str  # 'retry' or 'revoke'
    ids: list[str] | None
    task_filter: TaskFilter | None
    filter_text: str
    dry_run: bool = True
    rate: float = DEFAULT_RATE
    priority: int | None = None
    terminate: bool = False
    signal: str = "SIGTERM"

    @property
    def action(self) -> str:
        return "tasks_terminate" if self.terminate else f"tasks_{self.kind}"

    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"dry_run": self.dry_run, "rate": self.rate}
        if self.kind == "retry" and self.priority is not None:
            params["priority"] = self.priority
        if self.kind == "revoke":
            params.update(terminate=self.terminate, signal=self.signal)
        return params


def parse_request(kind: str, body: Mapping[str, Any]) -> BulkRequest:
    """A request body ({ids} or {filter}, dry_run — true unless false —, rate, priority;
    revoke also terminate and signal); SelectionError says what is wrong."""
    known = {"ids", "filter", "dry_run", "rate"} | (
        {"priority"} if kind == "retry" else {"terminate", "signal"})
    unknown = sorted(set(body) - known)
    if unknown:
        raise SelectionError(f"unknown field {unknown[0]!r}")
    ids, task_filter, text = parse_selection(body)
    dry_run, terminate = body.get("dry_run", True), body.get("terminate", False)
    if not isinstance(dry_run, bool) or not isinstance(terminate, bool):
        raise SelectionError("dry_run and terminate must be true or false")
    rate = body.get("rate", DEFAULT_RATE)
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 < rate <= MAX_RATE:
        raise SelectionError(f"rate must be a number of tasks per second, above 0 and at most "
                             f"{MAX_RATE:g}")
    priority = body.get("priority")
    if priority is not None and (isinstance(priority, bool) or not isinstance(priority, int)
                                 or not 0 <= priority <= 255):
        raise SelectionError("priority must be a whole number 0-255")
    signal = body.get("signal", "SIGTERM")
    try:
        signals.signum(signal)
    except (AttributeError, TypeError, ValueError):
        raise SelectionError(f"signal {signal!r} is not a signal name such as SIGTERM") from None
    return BulkRequest(kind, ids, task_filter, text, dry_run, float(rate), priority,
                       terminate, signal)


def _extended_backend(app: Celery | None):
    """The result backend when it keeps each task's real args and kwargs, else None."""
    if app is None or isinstance(app.backend, DisabledBackend) or not app.conf.result_extended:
        return None
    return app.backend


def _stored_call(backend, uuid: str) -> tuple[tuple, dict] | None:
    """The args and kwargs the result backend stored for a task, if it did."""
    try:
        meta = backend.get_task_meta(uuid)
    except Exception:  # noqa: BLE001 — an unreachable backend falls back to the event's text
        return None
    args, kwargs = meta.get("args"), meta.get("kwargs")
    if isinstance(args, (list, tuple)) and isinstance(kwargs, dict):
        return tuple(args), dict(kwargs)
    return None


def plan(services: Services, request: BulkRequest, keep_rows: bool = True) -> Plan:
    """The dry run: what matches, what would be sent, each refusal with its reason (and
    the rows to send, unless `keep_rows` is off)."""
    result = Plan(keep_rows=keep_rows)
    retry = request.kind == "retry"
    backend = _extended_backend(services.celery_app) if retry else None
    rows = selected_rows(services.store.engine, request.ids, request.task_filter, result)
    for row in rows:
        uuid, name, state, args, kwargs, _queue, _exchange, _key, retried = row  # COLUMNS
        result.matched += 1
        if retry:
            reason = retry_reason(state, retried, name, args, kwargs)
            if reason and reason.startswith(("args", "kwargs")) and backend is not None:
                if _stored_call(backend, uuid) is not None:
                    reason = None  # the backend kept the real values
        else:
            reason = revoke_refusal(state)
        if reason:
            result.refuse(uuid, reason)
        else:
            result.accept(row)
    return result


def _retry_sender(app: Celery, engine: Engine, timeout: float, priority: int | None,
                  job_id: str | None) -> jobs.Sender:
    backend = _extended_backend(app)

    def send(rows: list[dict[str, Any]]):
        sent, refused = [], []
        for row in rows:
            stored = _stored_call(backend, row["uuid"]) if backend is not None else None
            call = stored or call_of(row["args"], row["kwargs"])
            if isinstance(call, str):
                refused.append({"id": row["uuid"], "reason": call})
                continue
            routing = Routing(row["queue"], row["exchange"], row["routing_key"], priority)
            try:
                new_id = publish_routed(app, row["name"], call[0], call[1], routing, timeout)
            except TaskRefused as exc:
                refused.append({"id": row["uuid"], "reason": str(exc)})
                continue
            sent.append({"id": row["uuid"], "new_id": new_id})
        links.record(engine, [(item["id"], item["new_id"]) for item in sent], job_id)
        return sent, refused

    return send


def _revoke_sender(app: Celery, request: BulkRequest, timeout: float) -> jobs.Sender:
    def send(ids: list[str]):
        broadcast_revoke(app, ids, request.terminate, request.signal, timeout)
        return [{"id": uuid} for uuid in ids], []

    return send


def check_allowed(services: Services, eligible: int) -> None:
    """Read-only and role gates of a real run (a dry run is reading: anyone may)."""
    services.check_writable()
    if rank(current_role()) < rank("operator"):
        raise Forbidden(f"your role ({current_role() or 'none'}) may not retry or revoke "
                        "tasks; it needs operator")
    if eligible > ADMIN_OVER and rank(current_role()) < rank("admin"):
        raise Forbidden(f"{eligible:,} tasks: acting on more than {ADMIN_OVER:,} at once "
                        "needs admin")


def execute(services: Services, request: BulkRequest) -> tuple[int, dict[str, Any]]:
    """Run the request: (HTTP status, answer). 200 with the report for a dry run or a small
    set, 202 with the job for a large one. Gate refusals raise (and are recorded)."""
    result = plan(services, request, keep_rows=not request.dry_run)
    answer: dict[str, Any] = {**result.summary(), "sent": [], "dry_run": request.dry_run}
    if request.dry_run:
        _record(request, "dry-run", result.matched,
                f"{result.eligible_count:,} eligible of {result.matched:,}")
        return 200, answer
    try:
        check_allowed(services, len(result.rows))
        app = services.celery_app
        if app is None:
            raise BrokerUnavailable("no broker connection yet: the collector is still starting")
    except Exception as exc:
        _record(request, "refused", result.matched, str(exc))
        raise
    engine, timeout = services.store.engine, services.settings.inspect_timeout
    items = [row if request.kind == "retry" else row["uuid"] for row in result.eligible]
    if len(items) <= SYNC_MAX:
        sender = (_retry_sender(app, engine, timeout, request.priority, None)
                  if request.kind == "retry" else _revoke_sender(app, request, timeout))
        report = jobs.Report()
        try:
            if items:
                report.add(*sender(items))
        except Exception as exc:
            _record(request, "error", result.matched, str(exc))
            raise
        answer["sent"] = report.sent
        answer["refused"] = result.refused + report.refused
        answer["refused_count"] = result.refused_count + report.refused_count
        _record(request, "ok", report.sent_count,
                f"{report.sent_count:,} sent, {answer['refused_count']:,} refused",
                [item["id"] for item in report.sent])
        return 200, answer
    return 202, _start_job(services, request, result, items, app)


def _record(request: BulkRequest, outcome: str, count: int, detail: str,
            targets: list[str] | None = None) -> None:
    record_action(request.action, targets=(request.ids or ()) if targets is None else targets,
                  filter=request.filter_text or None, count=count, params=request.params(),
                  outcome=outcome, detail=detail)


def _start_job(services: Services, request: BulkRequest, result: Plan, items: list,
               app: Celery) -> dict[str, Any]:
    engine, timeout = services.store.engine, services.settings.inspect_timeout
    report = jobs.Report(refused=list(result.refused), refused_count=result.refused_count)
    job_id = jobs.create(engine, request.kind, current_actor().user, result.matched,
                         len(items), report)
    finish = audit_job(request.action, filter=request.filter_text or None,
                       targets=request.ids or (), params={**request.params(), "job": job_id})
    sender = (_retry_sender(app, engine, timeout, request.priority, job_id)
              if request.kind == "retry" else _revoke_sender(app, request, timeout))

    def finished(state: str, done: jobs.Report) -> None:
        finish(outcome="ok" if state in ("done", "cancelled") else "error",
               count=done.sent_count,
               detail=f"job {job_id} {state}: {done.sent_count:,} sent, "
                      f"{done.refused_count:,} refused")

    jobs.start(engine, job_id, items, sender, request.rate, report, finished)
    return {"job": job_id, "state": "running", "matched": result.matched,
            "eligible": len(items), "refused_count": result.refused_count,
            "dry_run": False}
