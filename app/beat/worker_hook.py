"""The opt-in worker hook: tells celery-scope which periodic task sent each task.

No Celery event names the schedule entry a task came from (django-celery-beat's
`periodic_task_name` header stays in the message), so without help celery-scope matches
runs to entries by task name, arguments and time. Named in the worker's configuration —

    imports = ["celery_scope.beat.worker_hook"]
    (or on the command line: celery -A proj worker -E -I celery_scope.beat.worker_hook)

— this module sends, as each task message is received, one small extra event
(`task-scope-headers`) with the task's id and the headers celery-scope reads: the entry's
name (`periodic_task_name`) and the canvas headers `group` and `group_index`. Messages
without any of them send nothing. It goes through the worker's own event dispatcher, so it
is buffered, sent and ordered with the worker's task events, and only while events are on.
"""
from __future__ import annotations

from typing import Any

from celery.signals import task_received

EVENT = "task-scope-headers"
HEADERS = ("periodic_task_name", "group", "group_index")


def header_fields(headers: Any) -> dict[str, Any]:
    """The headers this hook forwards, those present and not None."""
    if not isinstance(headers, dict):
        return {}
    return {name: headers[name] for name in HEADERS if headers.get(name) is not None}


def _headers(request: Any) -> Any:
    """A task's headers as the worker received them (protocol 2: the message's headers;
    protocol 1 kept them in the body, which Celery copied into the request)."""
    message = getattr(request, "message", None)
    headers = getattr(message, "headers", None)
    if isinstance(headers, dict) and headers:
        return headers
    return getattr(request, "request_dict", None)


@task_received.connect(weak=False, dispatch_uid="celery_scope.beat.worker_hook")
def send_headers(sender: Any = None, request: Any = None, **_: Any) -> None:
    """Celery calls this in the worker's consumer (`sender`) for each task it receives."""
    dispatcher = getattr(sender, "event_dispatcher", None)
    if request is None or dispatcher is None or not dispatcher.enabled:
        return
    fields = header_fields(_headers(request))
    if fields:
        dispatcher.send(EVENT, uuid=request.id, **fields)
