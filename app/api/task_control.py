"""Flower's task routes that act: revoke, limits, sending tasks (apply, async-apply,
send-task), results and abort."""
from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

from celery import Celery, states
from celery.backends.base import DisabledBackend
from celery.contrib.abortable import AbortableAsyncResult, AbortableTask
from celery.exceptions import TimeoutError as ResultTimeout
from celery.platforms import signals
from celery.utils.time import rate
from flask import Response, request

from ..broker.publish import TaskRefused, publish_task
from ..services import current
from . import api
from .flower import (
    ETA_FORMAT,
    ApiError,
    arg,
    as_json,
    bool_arg,
    celery_of,
    check_task_name,
    check_worker,
    control_answer,
    number_arg,
    required_arg,
)


@api.post("/api/task/revoke/<text:taskid>")
def task_revoke(taskid: str):
    """Any id is accepted, as in Flower: a queued task may not have reached the history yet."""
    services = current()
    terminate = bool_arg("terminate")
    signal = arg("signal") or "SIGTERM"
    try:
        signals.signum(signal)
    except (AttributeError, TypeError, ValueError):
        raise ApiError(f"Invalid argument signal={signal!r}: not a signal name such as SIGTERM "
                       "or SIGKILL") from None
    services.control().task_revoke(taskid, terminate=terminate, signal=signal)
    return as_json({"message": f"Revoked '{taskid}'"})


@api.post("/api/task/timeout/<text:taskname>")
def task_timeout(taskname: str):
    """Flower requires workername; without it the limits go to every worker."""
    services = current()
    check_task_name(services, taskname)
    workername = arg("workername")
    if workername:
        check_worker(services, workername)
    soft = number_arg("soft", float, minimum=0)
    hard = number_arg("hard", float, minimum=0)
    if soft is not None and hard is not None and soft > hard:
        raise ApiError(f"Invalid arguments: soft ({soft:g}) must not exceed hard ({hard:g})")
    control = services.control()
    result = control.task_time_limit(taskname, soft=soft, hard=hard, workername=workername)
    return control_answer(result, workername, None, "Failed to set timeouts", control.timeout)


@api.post("/api/task/rate-limit/<text:taskname>")
def task_rate_limit(taskname: str):
    services = current()
    check_task_name(services, taskname)
    workername = arg("workername")
    if workername:
        check_worker(services, workername)
    ratelimit = required_arg("ratelimit")
    try:
        rate(ratelimit)
    except ValueError:
        raise ApiError(f"Invalid argument ratelimit={ratelimit!r}: use a number of tasks per "
                       "second, or per minute or hour such as 10/m or 100/h") from None
    control = services.control()
    result = control.task_rate_limit(taskname, ratelimit, workername=workername)
    return control_answer(result, workername, None, "Failed to set rate limit", control.timeout)


# -- sending tasks and reading results ---------------------------------------------------

def _task_body() -> tuple[list, dict, dict]:
    """args, kwargs and apply_async options from a JSON body (Flower's get_task_args)."""
    body = request.get_data()
    try:
        options = json.loads(body) if body.strip() else {}
    except ValueError as exc:
        raise ApiError(f"invalid JSON body: {exc}") from None
    if not isinstance(options, dict):
        raise ApiError("invalid options: the body must be a JSON object")
    args = options.pop("args", [])
    kwargs = options.pop("kwargs", {})
    if not isinstance(args, list):
        raise ApiError("args must be an array")
    if not isinstance(kwargs, dict):
        raise ApiError("kwargs must be an object")
    return args, kwargs, _normalize_options(options)


def _moment(key: str, value: Any) -> datetime | float:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and key == "expires":
        return float(value)
    if isinstance(value, str):
        if key == "expires":
            try:
                return float(value)
            except ValueError:
                pass
        for parse in (lambda text: datetime.strptime(text, ETA_FORMAT), datetime.fromisoformat):
            try:
                return parse(value)
            except ValueError:
                continue
    raise ApiError(f"Invalid option {key}={value!r}: use '{ETA_FORMAT}' or ISO-8601"
                   + (" or seconds" if key == "expires" else ""))


def _finite(value: Any) -> float | None:
    """A finite number from a JSON number or its text (Flower takes both), never from a
    boolean (JSON's true is not 1 second)."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _normalize_options(options: dict[str, Any]) -> dict[str, Any]:
    for key in ("eta", "expires"):
        if key in options and options[key] is not None:
            options[key] = _moment(key, options[key])
    countdown = options.get("countdown")
    if countdown is not None:
        options["countdown"] = _finite(countdown)
        if options["countdown"] is None:
            raise ApiError(f"Invalid option countdown={countdown!r}: a number of seconds")
    priority = options.get("priority", 0)
    if isinstance(priority, bool) or not (isinstance(priority, int) and 0 <= priority <= 255):
        raise ApiError(f"Invalid option priority={priority!r}: a whole number 0-255")
    for key in ("queue", "routing_key", "exchange", "task_id"):
        if key in options and not isinstance(options[key], str):
            raise ApiError(f"Invalid option {key}={options[key]!r}: a string")
    return options


def _send(app: Celery, taskname: str, args: list, kwargs: dict, options: dict[str, Any],
          by_name: bool, timeout: float):
    """Publish through broker/publish.py; what the broker refuses is the request's fault."""
    try:
        return publish_task(app, taskname, args, kwargs, options, timeout, by_name=by_name)
    except TaskRefused as exc:
        raise ApiError(str(exc)) from None


def _backend_configured(app: Celery) -> bool:
    return not isinstance(app.backend, DisabledBackend)


def _require_backend(app: Celery, what: str) -> None:
    if not _backend_configured(app):
        raise ApiError(f"no result backend configured: {what} needs one (set result_backend in "
                       "the Celery app, e.g. `celery -A proj scope`)", 503)


def _backend_call(action, what: str):
    try:
        return action()
    except ResultTimeout:
        raise
    except Exception as exc:  # noqa: BLE001 — redis, database, rpc... each its own errors
        raise ApiError(f"result backend unreachable while {what}: {type(exc).__name__}: {exc}",
                       503) from None


def _safe_result(value: Any) -> Any:
    """The result as JSON if it is JSON, else its repr (as Flower)."""
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
    return value


def _with_result(response: dict[str, Any], result) -> dict[str, Any]:
    response["result"] = _safe_result(result.result)
    if result.state == states.FAILURE:
        response["traceback"] = result.traceback
    return response


@api.post("/api/task/apply/<text:taskname>")
def task_apply(taskname: str):
    """Send a task and wait for its result (`timeout` in the body bounds the wait, seconds)."""
    services = current()
    check_task_name(services, taskname)
    args, kwargs, options = _task_body()
    wait = options.pop("timeout", None)
    if wait is not None and (isinstance(wait, bool) or not isinstance(wait, (int, float))
                             or wait <= 0):
        raise ApiError(f"Invalid option timeout={wait!r}: a positive number of seconds")
    app = celery_of(services)
    _require_backend(app, "/api/task/apply (it waits for the result)")
    result = _send(app, taskname, args, kwargs, options, False, services.settings.inspect_timeout)
    response: dict[str, Any] = {"task-id": result.id}
    try:
        _backend_call(lambda: result.get(timeout=wait, propagate=False), "waiting for the result")
    except ResultTimeout:
        response["state"] = _backend_call(lambda: result.state, "reading the state")
        return as_json(response)
    _with_result(response, result)
    response["state"] = result.state
    return as_json(response)


def _sent(result) -> Response:
    response = {"task-id": result.id}
    if _backend_configured(result.app):
        response["state"] = _backend_call(lambda: result.state, "reading the state")
    return as_json(response)


@api.post("/api/task/async-apply/<text:taskname>")
def task_async_apply(taskname: str):
    services = current()
    check_task_name(services, taskname)
    args, kwargs, options = _task_body()
    app = celery_of(services)
    return _sent(_send(app, taskname, args, kwargs, options, False,
                       services.settings.inspect_timeout))


@api.post("/api/task/send-task/<text:taskname>")
def task_send(taskname: str):
    """Send by name, no registry check (as Flower: the task's code need not be known here)."""
    services = current()
    args, kwargs, options = _task_body()
    app = celery_of(services)
    return _sent(_send(app, taskname, args, kwargs, options, True,
                       services.settings.inspect_timeout))


@api.get("/api/task/result/<text:taskid>")
def task_result(taskid: str):
    """The backend's state, and the result once ready; `timeout` waits up to that long.
    An id the backend never saw is PENDING, as in Celery and Flower."""
    services = current()
    timeout = number_arg("timeout", float, minimum=0)
    app = celery_of(services)
    _require_backend(app, "/api/task/result")
    result = app.AsyncResult(taskid)
    response = {"task-id": taskid,
                "state": _backend_call(lambda: result.state, "reading the state")}
    if timeout:
        try:
            _backend_call(lambda: result.get(timeout=timeout, propagate=False),
                          "waiting for the result")
        except ResultTimeout:  # not ready in time: its state now, no result
            response["state"] = _backend_call(lambda: result.state, "reading the state")
            return as_json(response)
        response["state"] = result.state
        _with_result(response, result)
    elif response["state"] in states.READY_STATES:
        _with_result(response, result)
    return as_json(response)


@api.post("/api/task/abort/<text:taskid>")
def task_abort(taskid: str):
    """Mark a task ABORTED in the result backend (an AbortableTask polls for it).

    Refused (400) when the history shows the task finished (abort would overwrite its stored
    result) or its type is registered here and not abortable; 503 without a result backend.
    """
    services = current()
    app = celery_of(services)
    row = services.store.task(taskid)
    if row is not None:
        if row["state"] in states.READY_STATES:
            raise ApiError(f"task '{taskid}' already finished ({row['state']}): nothing to abort")
        task = app.tasks.get(row["name"]) if row.get("name") else None
        if task is not None and not isinstance(task, AbortableTask):
            raise ApiError(f"task '{taskid}' ({row['name']}) is not abortable: its class does "
                           "not derive from celery.contrib.abortable.AbortableTask")
    _require_backend(app, "/api/task/abort")
    result = AbortableAsyncResult(taskid, app=app)
    _backend_call(result.abort, "aborting")
    return as_json({"message": f"Aborted '{taskid}'"})
