"""Purging a queue: every message waiting in it is deleted, on Redis and on AMQP alike.

kombu's `queue_purge` does the transport's right thing: on Redis the LLEN and DEL of the
queue and of each of its priority sub-queues in one pipeline, on RabbitMQ `queue.purge`
(messages delivered to a worker and not yet acknowledged stay). A queue AMQP does not know
is refused rather than purged to 0; on Redis a queue with no list is empty, so 0.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from celery import Celery

from ..queues.names import cluster_queue_names
from .gate import ControlError, broker_call


class UnknownQueue(ControlError):
    def __init__(self, queue: str):
        super().__init__(f"unknown queue {queue!r}: the broker has no such queue")
        self.queue = queue


SAMPLED_SECONDS = 3600  # a queue sampled within the last hour may be purged (as /broker lists)


def purge_targets(conf: Any, snapshots: Mapping[str, dict[str, Any]],
                  sampled: Iterable[str]) -> list[str]:
    """The queues a purge may name: the cluster's (queues/names.py) and any the collector
    sampled lately, which is what /broker lists."""
    return sorted(set(cluster_queue_names(conf, snapshots)) | set(sampled))


def known_queues(app: Celery, cache: Any, store: Any, now: float) -> list[str]:
    """purge_targets from the Inspector cache's `active_queues` and the store's samples."""
    snapshots = {hostname: cache.worker_snapshot(hostname)
                 for hostname in cache.inspected_workers()}
    sampled = [row["queue"] for row in store.latest_queue_samples(now - SAMPLED_SECONDS)]
    return purge_targets(app.conf, snapshots, sampled)


def purge_queue(app: Celery, queue: str, timeout: float) -> int:
    """Delete the messages waiting in `queue`; return how many went."""
    with broker_call(f"purge of queue {queue}"):
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=timeout)
            channel = connection.channel()
            try:
                if not hasattr(channel, "_size"):  # AMQP: purge only a queue that exists
                    channel.queue_declare(queue=queue, passive=True)
                removed = channel.queue_purge(queue)
            except connection.channel_errors:
                raise UnknownQueue(queue) from None
            finally:
                _close(channel)
    return int(removed or 0)


def _close(channel) -> None:
    try:
        channel.close()
    except Exception:  # noqa: BLE001 — a channel AMQP already closed on an error
        pass
