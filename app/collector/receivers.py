"""Receivers: threads that do nothing but keep the broker's socket drained.

Each hands raw messages to a callback (`push`) and returns to the socket at once, so a
slow moment on the processing side never lets the broker's backlog limit cut the
subscription (Redis drops a pub/sub client past 32 MB). Decoding happens elsewhere.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import urlsplit

import redis
from celery import Celery
from celery.events import EventReceiver

log = logging.getLogger(__name__)

Push = Callable[[Any], None]
EVENT_EXCHANGE = "celeryev"
POLL_SECONDS = 0.5  # how often a receiver looks at its stop flag when the broker is quiet


class LinkStatus(Protocol):
    def connected(self) -> None: ...
    def disconnected(self, error: BaseException) -> None: ...
    def unreadable(self, error: BaseException) -> None: ...


class Backoff:
    """Reconnect delays: 0.5 s doubling to 30 s, reset once connected."""

    def __init__(self, first: float = 0.5, most: float = 30.0):
        self.first, self.most, self.current = first, most, first

    def next(self) -> float:
        delay, self.current = self.current, min(self.current * 2, self.most)
        return delay

    def reset(self) -> None:
        self.current = self.first


def redis_fast_path_possible(broker_url: str, transport_options: dict) -> bool:
    """Plain Redis brokers can be read with redis-py directly; anything fancier goes via kombu."""
    scheme = urlsplit(broker_url).scheme
    return scheme in ("redis", "rediss", "unix") and not transport_options.get("global_keyprefix")


class RedisEventReceiver:
    """Subscribes to the events exchange's pub/sub topic and pushes raw kombu envelopes."""

    def __init__(self, broker_url: str, transport_options: dict | None = None):
        options = transport_options or {}
        # RESP2: redis-py's RESP3 pub/sub handler formats a debug string for every message.
        # A 1 MiB read buffer lets one read take many messages before giving up the GIL.
        self.client = redis.Redis.from_url(broker_url, socket_keepalive=True, protocol=2,
                                           socket_read_size=1 << 20)
        db = self.client.connection_pool.connection_kwargs.get("db", 0)
        prefix = options.get("fanout_prefix", True)
        prefix = f"/{db}." if prefix is True else (prefix or "")
        self.patterns = options.get("fanout_patterns", True)
        self.topic = f"{prefix}{EVENT_EXCHANGE}" + ("/*" if self.patterns else "")

    def run(self, push: Push, stop: threading.Event, status: LinkStatus) -> None:
        backoff = Backoff()
        while not stop.is_set():
            pubsub = self.client.pubsub()
            try:
                if self.patterns:
                    pubsub.psubscribe(self.topic)
                else:
                    pubsub.subscribe(self.topic)
                while not stop.is_set():
                    message = pubsub.get_message(timeout=POLL_SECONDS)
                    if message is None:
                        continue
                    if message["type"] in ("message", "pmessage"):
                        push(message["data"])
                    elif message["type"] in ("subscribe", "psubscribe"):
                        status.connected()  # Redis confirmed: from now on nothing is missed
                        backoff.reset()
            except Exception as exc:  # noqa: BLE001 — RedisError, OSError or anything unforeseen: reconnect
                status.disconnected(exc)
                stop.wait(backoff.next())
            finally:
                pubsub.close()
        self.client.close()


class _ForwardingReceiver(EventReceiver):
    """Celery's EventReceiver, handing each decoded message body over untouched."""

    def __init__(self, *args, push: Push, stop: threading.Event, **kwargs):
        super().__init__(*args, **kwargs)
        self._push, self._stop = push, stop

    def _receive(self, body, message, list=list, isinstance=isinstance):
        self._push(body)

    @property
    def should_stop(self) -> bool:
        return self._stop.is_set()

    @should_stop.setter
    def should_stop(self, value: bool) -> None:
        pass  # the shared stop event decides


class KombuEventReceiver:
    """Any transport kombu supports (filesystem, AMQP, SQS...), through celery's EventReceiver."""

    def __init__(self, celery_app: Celery, node_id: str):
        self.app, self.node_id = celery_app, node_id

    def run(self, push: Push, stop: threading.Event, status: LinkStatus) -> None:
        backoff = Backoff()
        while not stop.is_set():
            connection = self.app.connection_for_read()
            try:
                connection.ensure_connection(max_retries=1)
                receiver = _ForwardingReceiver(
                    connection, app=self.app, node_id=self.node_id, handlers={},
                    push=push, stop=stop,
                )
                status.connected()
                backoff.reset()
                for _ in receiver.consume(safety_interval=POLL_SECONDS, wakeup=True):
                    pass
            except ValueError as exc:  # a message the transport itself cannot parse
                status.unreadable(exc)
            except Exception as exc:  # noqa: BLE001 — connection, channel or transport error: reconnect
                status.disconnected(exc)
                stop.wait(backoff.next())
            finally:
                connection.release()
