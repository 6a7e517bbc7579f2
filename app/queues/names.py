"""Which queues the cluster uses, and which workers consume each. Pure functions.

Two sources, merged: the workers' `active_queues` replies as the Inspector cache holds them
(a worker that stopped keeps its last answer), and the Celery app's own configuration —
the default queue, `task_queues` and the queues `task_routes` send tasks to — so a queue
whose consumers are all gone, or that never had one, does not vanish from view while
messages pile up in it.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from celery.app.routes import MapRoute, prepare

from ..workers.detail import reply


def _queue_name(route: Any) -> str | None:
    """The queue a route sends to: a name, a Queue, or a mapping with a `queue` key."""
    if isinstance(route, Mapping):
        route = route.get("queue")
    name = getattr(route, "name", route)
    return name if isinstance(name, str) and name else None


def routed_queues(task_routes: Any) -> set[str]:
    """Queues named by `task_routes`, in any form Celery accepts (a dict, a list of dicts
    or of (pattern, route) pairs). Router functions cannot be enumerated and are skipped."""
    names: set[str] = set()
    for router in prepare(task_routes):
        if isinstance(router, MapRoute):
            for route in (*router.map.values(), *router.patterns.values()):
                name = _queue_name(route)
                if name is not None:
                    names.add(name)
    return names


def configured_queues(conf: Any) -> set[str]:
    """The queues a Celery app's configuration (`app.conf`) knows about."""
    names = {conf.task_default_queue} | routed_queues(conf.task_routes)
    names |= {_queue_name(queue) for queue in conf.task_queues or ()}
    return names - {None}


def consumers_by_queue(snapshots: Mapping[str, dict[str, Any]]) -> dict[str, list[str]]:
    """{queue: sorted worker names} from each worker's cached `active_queues` reply."""
    consumers: dict[str, set[str]] = {}
    for hostname, snapshot in snapshots.items():
        for queue in reply(snapshot, "active_queues", []) or []:
            name = queue.get("name") if isinstance(queue, Mapping) else None
            if isinstance(name, str) and name:
                consumers.setdefault(name, set()).add(hostname)
    return {name: sorted(workers) for name, workers in consumers.items()}


def queues_in_use(configured: Iterable[str], consumers: Mapping[str, Any]) -> list[str]:
    """Every queue either source names, sorted."""
    return sorted(set(configured) | set(consumers))


def cluster_queue_names(conf: Any, snapshots: Mapping[str, dict[str, Any]]) -> list[str]:
    """The one list of the cluster's queues, for the sampler behind /broker and for
    /api/queues/length alike; `snapshots` are the Inspector's, by hostname."""
    return queues_in_use(configured_queues(conf), consumers_by_queue(snapshots))
