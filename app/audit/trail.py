"""Recording actions: every action that changes (or tries to change) the cluster, from a
page or the API, single or bulk, leaves one row in the store's `audit` table.

`record_action` never raises into the action it records: the action has already happened
(or been refused), so a store that is away must not turn its result into an error. The
record is then written to the log instead, whole, at ERROR level, so it is not lost.
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.engine import Engine

from ..auth.users import current_user
from ..broker.gate import BrokerUnavailable, ControlError
from ..store.schema import audit
from . import retention

T = TypeVar("T")

log = logging.getLogger(__name__)

OUTCOMES = ("ok", "refused", "error", "dry-run")


@dataclass(frozen=True)
class Actor:
    """Who acts and where their actions are written, captured while the request lasts."""
    user: str
    role: str
    via: str
    engine: Engine | None  # None: no store is known (the record goes to the log only)
    keep_seconds: float = 30 * 86400.0  # the store's retention (see retention.py)
    keep_rows: int = 10_000_000


def current_actor() -> Actor:
    """The user and role of this request (auth.roles) and the store of its app (services);
    outside a request, the operator at the command line with no store."""
    import flask

    user = current_user()
    services = flask.current_app.extensions.get("celery_scope") if flask.has_app_context() \
        else None
    where: dict[str, Any] = {"engine": None}
    if services is not None:
        where = {"engine": services.store.engine,
                 "keep_seconds": services.settings.retention_days * 86400.0,
                 "keep_rows": services.settings.retention_tasks}
    if user is None:
        return Actor("anonymous", "", "none", **where)
    via = user.via if flask.has_request_context() else "cli"
    return Actor(user.name, user.role, via, **where)


def _row(actor: Actor, action: str, targets: Sequence[str], filter: str | None,
         count: int | None, params: Mapping[str, Any] | None, outcome: str,
         detail: str) -> dict[str, Any]:
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}: one of {', '.join(OUTCOMES)}")
    return {
        "at": time.time(), "username": actor.user, "role": actor.role, "via": actor.via,
        "action": str(action), "targets": json.dumps([str(target) for target in targets]),
        "filter": None if filter is None else str(filter),
        "count": None if count is None else int(count),
        "params": json.dumps(dict(params or {}), default=str, sort_keys=True),
        "outcome": outcome, "detail": str(detail),
    }


def record_action(action: str, *, targets: Sequence[str] = (), filter: str | None = None,
                  count: int | None = None, params: Mapping[str, Any] | None = None,
                  outcome: str, detail: str = "", actor: Actor | None = None) -> None:
    """Append one audit record. `actor` defaults to this request's (see current_actor);
    a background job passes the one it captured when it was started (see audit_job)."""
    actor = actor or current_actor()
    row = _row(actor, action, targets, filter, count, params, outcome, detail)
    engine = actor.engine
    if engine is None:
        log.error("audit (no store): %s", json.dumps(row))
        return
    _mark_recorded()
    try:
        with engine.begin() as connection:
            inserted = connection.execute(audit.insert(), row).inserted_primary_key
            record_id = inserted[0] if inserted else None
            if retention.due(record_id):
                retention.prune(connection, actor.keep_seconds, actor.keep_rows, row["at"])
    except Exception as exc:  # noqa: BLE001 — the action stands; its record goes to the log
        log.error("audit record not stored (%s): %s", exc, json.dumps(row))


def record_outcome(action: str, targets: Sequence[str], params: Mapping[str, Any],
                   run: Callable[[], T], describe: Callable[[T], tuple[str, str]],
                   refusals: tuple[type[Exception], ...] = (ControlError,)) -> T:
    """Run an action and record how it went, then hand back its result or raise on: an
    exception of `refusals` is a refusal (an unreachable broker, an error), any other an
    error, and a result is `describe`d as (outcome, detail). `params` is read once the
    action has run, so `run` may fill it in."""
    try:
        result = run()
    except refusals as exc:
        outcome = "error" if isinstance(exc, BrokerUnavailable) else "refused"
        record_action(action, targets=targets, params=params, outcome=outcome, detail=str(exc))
        raise
    except Exception as exc:
        record_action(action, targets=targets, params=params, outcome="error",
                      detail=f"{type(exc).__name__}: {exc}")
        raise
    outcome, detail = describe(result)
    record_action(action, targets=targets, params=params, outcome=outcome, detail=detail)
    return result


def _mark_recorded() -> None:
    """Note that this request left its record, so the API's catch-all adds none."""
    import flask

    if flask.has_request_context():
        flask.g.audit_recorded = True


def recorded() -> bool:
    """Whether this request has left an audit record already."""
    import flask

    return bool(flask.g.get("audit_recorded"))


def audit_job(action: str, *, targets: Sequence[str] = (), filter: str | None = None,
              params: Mapping[str, Any] | None = None) -> Callable[..., None]:
    """For a long job: capture the actor now (in the request) and return a function the job
    calls once, when it ends, with `outcome=`, `count=`, `detail=` (and `targets=` if the
    job learned them), to record it under the user who started it."""
    actor = current_actor()

    def finish(*, outcome: str, count: int | None = None, detail: str = "",
               targets: Sequence[str] = targets) -> None:
        record_action(action, targets=targets, filter=filter, count=count, params=params,
                      outcome=outcome, detail=detail, actor=actor)

    return finish
