"""Flower-compatible REST API: the paths, methods, parameters, defaults, response shapes and
status codes of Flower 2.2's `/api/...`, so that scripts written against Flower keep working.

Differences on purpose (Flower's status codes are kept wherever Flower does not crash):
- errors are JSON `{"error": "..."}` (Flower answers text/plain or HTML), and malformed
  parameters or bodies answer 400 where Flower raised a 500;
- `/api/tasks` reads the whole history from the store, newest *received* first (an indexed
  order; Flower sorts its in-memory window by the time of the last event); without `limit`
  it streams every match in constant memory; `state` takes a comma-separated list and
  `started_start`/`started_end` exist; `search` is a plain substring of args, kwargs, result
  or exception (Flower's `args:`/`kwargs:`/`result:`/`state:` prefixes are not parsed);
- task names are known from this app's registry *and* the workers' `registered` replies,
  so a dashboard started with only `--broker` can apply tasks by name; `workername` is
  optional on timeout and rate-limit (then every worker gets the limit);
- `apply` honours a `timeout` in the body (then answers the state without a result);
  `abort` refuses (400) a task the history shows finished (abort would overwrite its stored
  result) or whose class is registered here and not an AbortableTask;
- `/api/queues/length` counts messages *ready* (waiting for a worker) on every broker, the
  number a backlog alarm wants: through the RabbitMQ management API (`--broker-api`) that is
  `messages_ready`, where Flower copies the API's whole queue object, whose `messages` adds
  the unacknowledged ones being worked on; each entry is just `{"name", "messages"}`. Without
  `--broker-api`, RabbitMQ is asked by passive declare (Flower guesses the management URL
  from the broker's host); Redis counts honour `global_keyprefix` and custom priority steps.
  A failing management API falls back to the broker itself, and a broker that cannot be
  reached is a 503, where Flower lists no queues. The queues listed are those /broker
  shows: the ones workers consume and the ones the app's configuration names (its default
  queue, `task_queues`, the routes' queues), so a queue nobody consumes is seen filling up;
  Flower lists only consumed queues;
- numbers are bounded: pool grow/shrink/autoscale take at most 10,000 processes, `limit` and
  `offset` at most 2^53, times must fall in the years 1-9999, and task options must have
  their type (JSON `true` is not a priority or a countdown): each is a 400;
- path parameters take any character, line breaks included (Flower's routes, like
  Werkzeug's `path`, stop at one and answer 404 whatever the route);
- a history store that cannot be reached is a 503 `{"error": "store unreachable"}` on every
  route that reads it (Flower keeps its history in memory); a `/api/tasks` stream it cuts
  short is aborted, never closed as valid JSON;
- read-only mode (`--read-only`) refuses every POST with 403 before anything is sent, and
  the routes are described by an OpenAPI document at `/api/openapi.json`; Flower has
  neither. `/api/tasks.csv` and `/api/series` are celery-scope's own.

Guards run in a fixed order: read-only (403) → unknown target (404) → malformed parameters
(400) → act.
Broker calls go through `Control` (or, for sending tasks with `apply_async` options, through
the same kind of gate here) and answer 503 when the broker cannot be reached.
"""
from __future__ import annotations

import math
from typing import Any

import orjson
from celery import Celery
from celery.events.state import Task as EventTask
from flask import Response, request

from ..broker.control import ControlResult, UnknownWorker
from ..broker.gate import BrokerUnavailable
from ..services import Services
from ..workers.detail import cluster_registered_names
from . import api

TASK_FIELDS = EventTask._fields  # Flower answers celery's Task.as_dict(), in this order
FLOWER_TIME_FORMAT = "%Y-%m-%d %H:%M"  # received_start & co., in the server's local time
ETA_FORMAT = "%Y-%m-%d %H:%M:%S.%f"  # Flower's format for eta / expires in apply bodies
STREAM_BATCH = 500  # rows per database round trip while streaming /api/tasks
MAX_TASK_TYPES = 10_000
MAX_NUMBER = 2**53  # larger numbers overflow the database's integers and JSON's doubles
MAX_POOL_CHANGE = 10_000  # processes: grow/shrink/autoscale beyond this is a typo, not a plan
_TRUE = {"y", "yes", "t", "true", "on", "1"}
_FALSE = {"n", "no", "f", "false", "off", "0"}


class ApiError(Exception):
    """A request the API refuses; `status` is the HTTP status (Flower's where it has one)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@api.errorhandler(ApiError)
def _api_error(exc: ApiError):
    return as_json({"error": str(exc)}, exc.status)


def as_json(payload: Any, status: int = 200) -> Response:
    """JSON in the order given (Flask's jsonify sorts keys, which would scramble /api/tasks)."""
    body = orjson.dumps(payload, default=str, option=orjson.OPT_NON_STR_KEYS)
    return Response(body, status=status, mimetype="application/json")


# -- parameters, read like Flower's get_argument: query string or form body, last value wins --

def arg(name: str) -> str | None:
    values = request.values.getlist(name)
    if not values:
        return None
    text = values[-1].strip()
    return text or None


def required_arg(name: str) -> str:
    text = arg(name)
    if text is None:
        raise ApiError(f"Missing argument {name}")
    return text


def bool_arg(name: str, default: bool = False) -> bool:
    text = arg(name)
    if text is None:
        return default
    if text.lower() in _TRUE:
        return True
    if text.lower() in _FALSE:
        return False
    raise ApiError(f"Invalid argument {name}={text!r} of type 'bool' (use true or false)")


def number_arg(name: str, kind: type, default: Any = None, required: bool = False,
            minimum: float | None = None, maximum: float = MAX_NUMBER) -> Any:
    text = required_arg(name) if required else arg(name)
    if text is None:
        return default
    try:
        value = kind(text)
    except ValueError:
        raise ApiError(f"Invalid argument {name}={text!r} of type '{kind.__name__}'") from None
    if not math.isfinite(value):
        raise ApiError(f"Invalid argument {name}={text!r}: not a finite number")
    if minimum is not None and value < minimum:
        raise ApiError(f"Invalid argument {name}={text!r}: must be at least {minimum:g}")
    if value > maximum:
        raise ApiError(f"Invalid argument {name}={text!r}: must be at most {maximum:g}")
    return value


# -- the cluster, as this process knows it -----------------------------------------------

def celery_of(services: Services) -> Celery:
    if services.celery_app is None:
        raise BrokerUnavailable("no broker connection yet: the collector is still starting")
    return services.celery_app


def check_worker(services: Services, workername: str) -> None:
    if workername not in set(services.known_workers()):
        raise UnknownWorker(workername)


def cached_workers(services: Services, only: str | None = None) -> dict[str, dict[str, Any]]:
    """Flower's worker cache: {hostname: {method: reply, ..., "timestamp": epoch}}, of
    every worker inspected, or of `only` that one."""
    workers = {}
    hostnames = services.cache.inspected_workers()
    if only is not None:
        hostnames = [only] if only in hostnames else []
    for hostname in hostnames:
        snapshot = services.cache.worker_snapshot(hostname)
        info = {method: entry.get("reply") for method, entry in snapshot.items()}
        info["timestamp"] = max((entry.get("at") or 0 for entry in snapshot.values()), default=None)
        workers[hostname] = info
    return workers


def _registered_names(services: Services) -> set[str]:
    cache = services.cache
    return cluster_registered_names(cache.worker_snapshot(name)
                                    for name in cache.inspected_workers())


def check_task_name(services: Services, taskname: str) -> None:
    app = services.celery_app
    if (app is None or taskname not in app.tasks) and taskname not in _registered_names(services):
        raise ApiError(f"Unknown task '{taskname}'", 404)


def control_answer(result: ControlResult, workername: str | None, success: str | None,
                    failure: str, timeout: float) -> Response:
    """Flower's answer to a control command: 200 with a message, or 403 with the reason."""
    if result.ok:
        first = next(iter(result.replies.values()))
        return as_json({"message": success or first.message})
    reasons = [f"{worker}: {answer.message}" if workername is None else answer.message
               for worker, answer in sorted(result.replies.items()) if not answer.ok]
    reasons += [f"{worker}: no reply within {timeout:g} s" if workername is None
                else f"no reply within {timeout:g} s" for worker in result.no_reply]
    reason = "; ".join(reasons) or f"no worker replied within {timeout:g} s"
    return as_json({"error": f"{failure}: {reason}"}, 403)
