"""Publishing a task: the one path for the API's apply/send-task, the pages' "apply again"
and retries (with the original's routing), and the bulk revoke broadcast.

A broker that cannot be reached is BrokerUnavailable (wait and retry); anything going wrong
once connected (arguments the serializer or the task's signature refuse, a bad option) is
TaskRefused: retrying the same thing would not help.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from celery import Celery
from celery.result import AsyncResult
from kombu.exceptions import EncodeError

from .gate import BrokerUnavailable, ControlError, broker_call

log = logging.getLogger(__name__)


class TaskRefused(ControlError):
    """The task could not be published as asked; the message says why."""


def _lost_connection(connection: Any, exc: BaseException) -> bool:
    """Whether a publish failed on the network (kombu wraps transport errors, and counts
    KeyError among Redis's recoverable errors, which a bad option also raises)."""
    network = (OSError, *(kind for kind in connection.connection_errors if kind is not KeyError))
    cause = exc.__cause__ or exc.__context__
    return isinstance(exc, network) or isinstance(cause, network)


def _unavailable(exc: BaseException) -> BrokerUnavailable:
    return BrokerUnavailable(f"broker unreachable: {type(exc).__name__}: {exc}")


def publish_task(app: Celery, name: str, args: list | tuple, kwargs: dict[str, Any],
                 options: dict[str, Any], timeout: float, by_name: bool = True) -> AsyncResult:
    """Send `name` as a new task. A task registered in `app` keeps its own routing and
    options unless `by_name`; `options` are apply_async's."""
    task = None if by_name else app.tasks.get(name)
    started = time.monotonic()
    with app.connection_for_write() as connection:
        try:
            connection.ensure_connection(max_retries=1, timeout=timeout)
        except Exception as exc:  # noqa: BLE001 — every transport has its own error types
            log.warning("sending %s failed: %s", name, exc)
            raise _unavailable(exc) from None
        try:
            if task is not None:
                result = task.apply_async(args=args, kwargs=kwargs, connection=connection,
                                          add_to_parent=False, **options)
            else:
                result = app.send_task(name, args=args, kwargs=kwargs, connection=connection,
                                       add_to_parent=False, **options)
        except EncodeError as exc:
            raise TaskRefused(f"cannot serialize the arguments of {name}: {exc}") from None
        except Exception as exc:  # noqa: BLE001 — celery and kombu raise many kinds
            if _lost_connection(connection, exc):
                raise _unavailable(exc) from None
            raise TaskRefused(f"cannot send {name}: {type(exc).__name__}: {exc}") from None
    log.info("sending %s as %s took %.0f ms", name, result.id,
             (time.monotonic() - started) * 1000)
    return result


@dataclass(frozen=True)
class Routing:
    """Where a task goes: what its events recorded (queue, exchange, routing key) and a
    priority; None leaves that part to Celery's routing for the task's name."""
    queue: str | None = None
    exchange: str | None = None
    routing_key: str | None = None
    priority: int | None = None

    def options(self) -> dict[str, Any]:
        return {key: value for key, value in (
            ("queue", self.queue), ("exchange", self.exchange),
            ("routing_key", self.routing_key), ("priority", self.priority))
            if value is not None}


def publish_routed(app: Celery, name: str, args: tuple, kwargs: dict[str, Any],
                   routing: Routing, timeout: float) -> str:
    """Send `name` by name with exactly this routing; return the new task's id."""
    return publish_task(app, name, args, kwargs, routing.options(), timeout, by_name=True).id


def broadcast_revoke(app: Celery, task_ids: list[str], terminate: bool, signal: str,
                     timeout: float) -> None:
    """One revoke broadcast for many ids (workers keep them in their revoked set, so no
    reply is awaited: a queued or ETA task is dropped when it comes up)."""
    with broker_call(f"revoke of {len(task_ids)} tasks"):
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=timeout)
            app.control.revoke(list(task_ids), terminate=terminate, signal=signal,
                               connection=connection, reply=False)
