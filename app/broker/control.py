"""Remote control of workers and tasks: thin functions over `app.control`, usable without Dash.

Each action refuses an unknown worker before anything is broadcast, sends to the named
worker with `reply=True` and the configured timeout (returning as soon as every addressed
worker has answered), and flattens the replies into a ControlResult: per worker ok or the
worker's error, plus the workers that did not answer in time. A broker that cannot be
reached raises BrokerUnavailable, once, instead of a traceback.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from celery import Celery

from .gate import ControlError, broker_call
from .publish import publish_task
from .purge import purge_queue

log = logging.getLogger(__name__)
READ_ONLY_MESSAGE = "celery-scope runs read-only"
POOL_RESTARTS_OFF = ("Pool restarts are off on this worker: start it with "
                     "worker_pool_restarts=True")


POOL_RESTART_WAIT = 15.0  # seconds a pool restart may take to reply (new processes started)


def disabled_title(reason: str | None) -> str | None:
    """The tooltip of an action button greyed out for `reason` (None: not greyed out)."""
    return f"Disabled: {reason}" if reason else None


class UnknownWorker(ControlError):
    def __init__(self, worker: str):
        super().__init__(f"unknown worker {worker!r}: it has never reported to this dashboard")
        self.worker = worker


class ReadOnly(ControlError):
    """celery-scope runs with `read_only`: no action may change the cluster."""

    def __init__(self):
        super().__init__(READ_ONLY_MESSAGE)


@dataclass(frozen=True)
class WorkerReply:
    ok: bool
    message: str


@dataclass(frozen=True)
class ControlResult:
    action: str
    replies: dict[str, WorkerReply] = field(default_factory=dict)
    no_reply: tuple[str, ...] = ()  # addressed workers that did not answer within the timeout
    arguments: dict[str, Any] = field(default_factory=dict)  # what was sent, for sentences

    @property
    def ok(self) -> bool:
        return bool(self.replies) and not self.no_reply and all(
            reply.ok for reply in self.replies.values())

    def summary(self) -> str:
        """One line per worker, for a page or a log."""
        lines = [f"{worker}: {'ok' if reply.ok else 'error'}: {reply.message}"
                 for worker, reply in sorted(self.replies.items())]
        lines += [f"{worker}: no reply (timed out)" for worker in self.no_reply]
        return "\n".join(lines) or f"{self.action}: no worker replied"

    def sentence(self) -> str:
        """What happened, in words a person reads (Celery's replies are terse)."""
        return describe(self)


def flatten_replies(action: str, replies: Iterable[dict[str, Any]] | None,
                    addressed: Iterable[str] = (),
                    arguments: dict[str, Any] | None = None) -> ControlResult:
    """Turn Celery's `[{hostname: {"ok": ...} | {"error": ...}}]` into a ControlResult."""
    flat: dict[str, WorkerReply] = {}
    for reply in replies or ():
        for worker, body in reply.items():
            if isinstance(body, dict) and "error" in body:
                flat[worker] = WorkerReply(False, str(body["error"]))
            elif isinstance(body, dict) and "ok" in body:
                flat[worker] = WorkerReply(True, str(body["ok"]))
            else:
                flat[worker] = WorkerReply(True, str(body))
    missing = tuple(sorted(set(addressed) - set(flat)))
    return ControlResult(action, flat, missing, dict(arguments or {}))


# -- wording: Celery's replies ("pool will grow", "tasks {'…'} flagged as revoked") as sentences

_ERROR_TEXT = re.compile(r"^\w+\((['\"])(.*)\1\)$")  # repr(ValueError('…')) from kombu
_KNOWN_ERRORS = {"Pool restarts not enabled": POOL_RESTARTS_OFF,
                 "Autoscale not enabled": "autoscaling is off on this worker: start it with "
                                          "--autoscale=max,min",
                 "unknown task": "this worker has no such task registered"}


def _plural(count: int, noun: str) -> str:
    if count == 1:
        return f"{count:,} {noun}"
    return f"{count:,} {noun}{'es' if noun.endswith('s') else 's'}"


def _names(workers: Iterable[str]) -> str:
    names = list(workers)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _seconds(value: Any) -> str:
    return "none" if value in (None, 0, "") else f"{value:g} s"


def _done(action: str, worker: str, arguments: dict[str, Any], message: str) -> str:
    count = arguments.get("n", 1)
    task, queue = arguments.get("task_name"), arguments.get("queue")
    if action == "shutdown":
        return f"Shutdown sent to {worker}: it finishes its running tasks and exits."
    if action == "pool_restart":
        return f"The pool of {worker} is restarting."
    if action in ("pool_grow", "pool_shrink"):
        verb = "grows" if action == "pool_grow" else "shrinks"
        return f"The pool of {worker} {verb} by {_plural(count, 'process')}."
    if action == "autoscale":
        return (f"{worker} now autoscales between {arguments.get('min')} and "
                f"{arguments.get('max')} processes.")
    if action == "add_consumer":
        already = message.startswith("already")
        return f"{worker} {'already consumes' if already else 'now consumes'} from {queue}."
    if action == "cancel_consumer":
        return f"{worker} no longer consumes from {queue}."
    if action == "rate_limit":
        rate = arguments.get("rate_limit")
        return (f"The rate limit of {task} on {worker} is now {rate}." if rate else
                f"The rate limit of {task} on {worker} is removed.")
    if action == "time_limit":
        return (f"The time limits of {task} on {worker} are now soft "
                f"{_seconds(arguments.get('soft'))}, hard {_seconds(arguments.get('hard'))}.")
    return f"{worker}: {message}."


def _revoked(result: ControlResult) -> str:
    """Every worker replies to a revoke; with terminate, the one running the task says so."""
    arguments = result.arguments
    ids = arguments.get("task_id")
    count = len(ids) if isinstance(ids, (list, tuple, set)) else 1
    answered = sorted(result.replies)
    if not answered:
        return "No worker answered: nothing was revoked."
    if not arguments.get("terminate"):
        return f"Revoked {_plural(count, 'task')} on {_names(answered)}."
    stopped = [worker for worker in answered if result.replies[worker].ok
               and "unknown" not in result.replies[worker].message]
    if not stopped:
        return (f"Revoked {_plural(count, 'task')} on {_names(answered)}; no worker was "
                "running it, so nothing was terminated.")
    return (f"Sent {arguments.get('signal') or 'SIGTERM'} to {_plural(count, 'task')} on "
            f"{_names(stopped)} and revoked it.")


def _refused(worker: str, message: str) -> str:
    match = _ERROR_TEXT.match(message)
    text = match.group(2) if match else message
    return f"{worker} refused: {_KNOWN_ERRORS.get(text, text)}."


def describe(result: ControlResult) -> str:
    """`result` in sentences: what each worker did, refused, or that it stayed silent."""
    if result.action == "revoke" and all(reply.ok for reply in result.replies.values()):
        sentences = [_revoked(result)]
    else:
        sentences = [_done(result.action, worker, result.arguments, reply.message) if reply.ok
                     else _refused(worker, reply.message)
                     for worker, reply in sorted(result.replies.items())]
        if not result.replies and not result.no_reply:
            sentences.append("No worker answered.")
    sentences += [f"{worker} did not answer in time." for worker in result.no_reply]
    return " ".join(sentences)


class Control:
    """Worker and task actions for one Celery app.

    `known_workers` returns the hostnames this dashboard has seen (from the store); a name
    outside it is refused before anything is sent.
    """

    def __init__(self, celery_app: Celery, known_workers: Callable[[], Iterable[str]],
                 timeout: float = 1.0):
        self.app, self.known_workers, self.timeout = celery_app, known_workers, timeout

    # -- the one gate for blocking broker calls ---------------------------------------

    def _send(self, command: str, arguments: dict[str, Any], destination: list[str] | None,
              reply: bool = True, wait: float | None = None) -> list[dict[str, Any]] | None:
        """`wait`: seconds to wait for replies when the command needs longer than the
        inspect timeout (the broadcast still returns as soon as every worker has replied)."""
        with broker_call(f"{command} to {destination or 'all workers'}"):
            with self.app.connection_for_write() as connection:
                connection.ensure_connection(max_retries=1, timeout=self.timeout)
                result = self.app.control.broadcast(
                    command, arguments, destination=destination, connection=connection,
                    reply=reply, timeout=max(self.timeout, wait or 0.0),
                    limit=len(destination) if destination and reply else None)
        return result

    def _check(self, worker: str) -> list[str]:
        if worker not in set(self.known_workers()):
            raise UnknownWorker(worker)
        return [worker]

    def _to_worker(self, action: str, worker: str, arguments: dict[str, Any],
                   wait: float | None = None) -> ControlResult:
        destination = self._check(worker)
        return flatten_replies(action, self._send(action, arguments, destination, wait=wait),
                               destination, arguments)

    # -- workers ------------------------------------------------------------------------

    def worker_shutdown(self, worker: str) -> ControlResult:
        """Celery workers do not reply to shutdown: the result says it was sent."""
        destination = self._check(worker)
        self._send("shutdown", {}, destination, reply=False)
        return ControlResult("shutdown", {worker: WorkerReply(True, "shutdown requested")})

    def worker_pool_restart(self, worker: str) -> ControlResult:
        """A worker replies once its new processes are up, which on a busy machine takes
        seconds: wait up to POOL_RESTART_WAIT for it."""
        return self._to_worker("pool_restart", worker,
                               {"modules": None, "reload": False, "reloader": None},
                               wait=POOL_RESTART_WAIT)

    def worker_pool_grow(self, worker: str, n: int = 1) -> ControlResult:
        return self._to_worker("pool_grow", worker, {"n": _positive_int("n", n)})

    def worker_pool_shrink(self, worker: str, n: int = 1) -> ControlResult:
        return self._to_worker("pool_shrink", worker, {"n": _positive_int("n", n)})

    def worker_pool_autoscale(self, worker: str, min: int, max: int) -> ControlResult:
        low, high = _positive_int("min", min, zero=True), _positive_int("max", max)
        if low > high:
            raise ControlError(f"autoscale min ({low}) must not exceed max ({high})")
        return self._to_worker("autoscale", worker, {"min": low, "max": high})

    def worker_queue_add_consumer(self, worker: str, queue: str, exchange: str | None = None,
                                  exchange_type: str | None = None,
                                  routing_key: str | None = None) -> ControlResult:
        return self._to_worker("add_consumer", worker, {
            "queue": _name("queue", queue), "exchange": exchange,
            "exchange_type": exchange_type, "routing_key": routing_key})

    def worker_queue_cancel_consumer(self, worker: str, queue: str) -> ControlResult:
        return self._to_worker("cancel_consumer", worker, {"queue": _name("queue", queue)})

    def get_active_queue_names(self) -> list[str]:
        """Names of the queues any worker consumes from, asked live."""
        replies = self._send("active_queues", {}, None) or []
        return sorted({queue["name"] for reply in replies for queues in reply.values()
                       if isinstance(queues, list) for queue in queues})

    # -- tasks ----------------------------------------------------------------------------

    def task_revoke(self, task_id: str, terminate: bool = False,
                    signal: str = "SIGTERM") -> ControlResult:
        """Broadcast to every worker: whichever holds or will receive the task drops it."""
        arguments = {"task_id": _name("task id", task_id), "terminate": bool(terminate),
                     "signal": signal}
        return flatten_replies("revoke", self._send("revoke", arguments, None),
                               arguments=arguments)

    def task_terminate(self, task_id: str, signal: str = "SIGTERM") -> ControlResult:
        return self.task_revoke(task_id, terminate=True, signal=signal)

    def task_rate_limit(self, task_name: str, rate: str,
                        workername: str | None = None) -> ControlResult:
        arguments = {"task_name": _name("task name", task_name), "rate_limit": rate}
        return self._to_some("rate_limit", workername, arguments)

    def task_time_limit(self, task_name: str, soft: float | None = None,
                        hard: float | None = None, workername: str | None = None) -> ControlResult:
        arguments = {"task_name": _name("task name", task_name), "soft": soft, "hard": hard}
        return self._to_some("time_limit", workername, arguments)

    def task_apply(self, task_name: str, args: list | tuple = (),
                   kwargs: dict[str, Any] | None = None, queue: str | None = None) -> str:
        """Send `task_name` as a new task with these arguments; return its id.

        Nothing checks that a worker knows the task (the task page asks the Inspector's
        registered lists first). `queue` routes it like the original; None uses the app's
        default routing. Arguments the serializer refuses raise ControlError, not
        BrokerUnavailable: retrying would not help.
        """
        name = _name("task name", task_name)
        if not isinstance(args, (list, tuple)):
            raise ControlError(f"args must be a list or tuple, got {type(args).__name__}")
        if kwargs is not None and not (isinstance(kwargs, dict)
                                       and all(isinstance(key, str) for key in kwargs)):
            raise ControlError("kwargs must be a mapping of argument names to values")
        options = {"queue": queue} if queue else {}
        return publish_task(self.app, name, tuple(args), dict(kwargs or {}), options,
                            self.timeout).id

    # -- queues ---------------------------------------------------------------------------

    def queue_purge(self, queue_name: str) -> int:
        """Delete every message waiting in the queue; the number removed. Callers check
        the name against the cluster's queues first (queues/names.py)."""
        return purge_queue(self.app, _name("queue", queue_name), self.timeout)

    def _to_some(self, action: str, workername: str | None,
                 arguments: dict[str, Any]) -> ControlResult:
        if workername:
            return self._to_worker(action, workername, arguments)
        return flatten_replies(action, self._send(action, arguments, None), arguments=arguments)


def _positive_int(label: str, value: Any, zero: bool = False) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ControlError(f"{label} must be a whole number, got {value!r}") from None
    if number < (0 if zero else 1):
        raise ControlError(f"{label} must be {'0 or more' if zero else 'at least 1'}, got {number}")
    return number


def _name(label: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ControlError(f"a {label} is required")
    return value.strip()
