"""Flower's worker routes: the workers as the Inspector last saw them, and their remote control."""
from __future__ import annotations

import time

from ..broker.gate import ControlError
from ..services import current
from ..workers.liveness import is_online, online_workers
from . import api
from .flower import (
    MAX_POOL_CHANGE,
    ApiError,
    arg,
    as_json,
    bool_arg,
    cached_workers,
    check_worker,
    control_answer,
    number_arg,
    required_arg,
)


@api.get("/api/workers")
def list_workers():
    """Inspector data per worker, from the cache (refresh=1 asks the workers first)."""
    services = current()
    refresh, status = bool_arg("refresh"), bool_arg("status")
    workername = arg("workername")
    if status:
        now = time.time()
        return as_json({row["hostname"]: is_online(row, now) for row in services.store.workers()})
    if workername and workername not in set(services.known_workers()) | set(
            services.cache.inspected_workers()):
        raise ApiError(f"Unknown worker '{workername}'", 404)
    if refresh:
        try:
            expected = () if workername else online_workers(services.store.workers(),
                                                            time.time())
            services.inspector.refresh(workername, expected=expected)
        except ControlError as exc:
            raise ApiError(f"Failed to update workers: {exc}", 503) from None
        except Exception as exc:  # noqa: BLE001 — every transport has its own error types
            raise ApiError(f"Failed to update workers: {type(exc).__name__}: {exc}", 503) from None
    workers = cached_workers(services, only=workername)
    if workername:
        if workername not in workers:
            raise ApiError(f"Unknown worker '{workername}'", 404)
        return as_json({workername: workers[workername]})
    return as_json(workers)


@api.post("/api/worker/shutdown/<text:workername>")
def worker_shutdown(workername: str):
    services = current()
    check_worker(services, workername)
    services.control().worker_shutdown(workername)
    return as_json({"message": "Shutting down!"})


@api.post("/api/worker/pool/restart/<text:workername>")
def worker_pool_restart(workername: str):
    services = current()
    check_worker(services, workername)
    control = services.control()
    return control_answer(control.worker_pool_restart(workername), workername,
                           f"Restarting '{workername}' worker's pool",
                           f"Failed to restart the '{workername}' pool", control.timeout)


@api.post("/api/worker/pool/grow/<text:workername>")
def worker_pool_grow(workername: str):
    services = current()
    check_worker(services, workername)
    n = number_arg("n", int, default=1, minimum=1, maximum=MAX_POOL_CHANGE)
    control = services.control()
    return control_answer(control.worker_pool_grow(workername, n=n), workername,
                           f"Growing '{workername}' worker's pool by {n}",
                           f"Failed to grow '{workername}' worker's pool", control.timeout)


@api.post("/api/worker/pool/shrink/<text:workername>")
def worker_pool_shrink(workername: str):
    services = current()
    check_worker(services, workername)
    n = number_arg("n", int, default=1, minimum=1, maximum=MAX_POOL_CHANGE)
    control = services.control()
    return control_answer(control.worker_pool_shrink(workername, n=n), workername,
                           f"Shrinking '{workername}' worker's pool by {n}",
                           f"Failed to shrink '{workername}' worker's pool", control.timeout)


@api.post("/api/worker/pool/autoscale/<text:workername>")
def worker_pool_autoscale(workername: str):
    services = current()
    check_worker(services, workername)
    low = number_arg("min", int, required=True, minimum=0, maximum=MAX_POOL_CHANGE)
    high = number_arg("max", int, required=True, minimum=1, maximum=MAX_POOL_CHANGE)
    control = services.control()
    return control_answer(control.worker_pool_autoscale(workername, min=low, max=high),
                           workername, f"Autoscaling '{workername}' worker (min={low}, max={high})",
                           f"Failed to autoscale '{workername}' worker", control.timeout)


@api.post("/api/worker/queue/add-consumer/<text:workername>")
def worker_queue_add_consumer(workername: str):
    services = current()
    check_worker(services, workername)
    queue = required_arg("queue")
    control = services.control()
    return control_answer(control.worker_queue_add_consumer(workername, queue), workername, None,
                           f"Failed to add '{queue}' consumer to '{workername}' worker",
                           control.timeout)


@api.post("/api/worker/queue/cancel-consumer/<text:workername>")
def worker_queue_cancel_consumer(workername: str):
    services = current()
    check_worker(services, workername)
    queue = required_arg("queue")
    control = services.control()
    return control_answer(control.worker_queue_cancel_consumer(workername, queue), workername,
                           None, f"Failed to cancel '{queue}' consumer from '{workername}' worker",
                           control.timeout)
