"""How many messages wait in each queue, asked of the broker.

One function serves both `/api/queues/length` and the collector's queue sampler, so the
two never disagree. Counts are messages *ready* (not yet delivered to a worker):

- virtual transports (Redis, the filesystem demo broker, ...) count with kombu's own
  channel, so the keys are exactly those kombu writes: on Redis the LLEN of the queue and
  of its priority sub-queues (`name\\x06\\x16N` per priority step) under any
  `global_keyprefix`, whatever `priority_steps` and `sep` the transport options set;
- RabbitMQ answers through its management HTTP API when `broker_api` is given (one request
  for every queue, like Flower's `--broker-api`), else by a passive `queue_declare`, which
  is exact on every AMQP broker. Queues the API does not list (not declared, or too new to
  have statistics) are asked by passive declare too.

A queue that does not exist holds 0.

`queue_heads` reads the oldest message of each queue without consuming it, for latency:
on Redis the tail (index -1: kombu pushes with LPUSH, consumers BRPOP) of every priority
list, and the task id in its headers; on RabbitMQ the management API's
`head_message_timestamp`, which exists only when publishers stamp messages (Celery does
not by default); on the filesystem demo broker the first message file in kombu's own
(sorted) order. Other transports, and RabbitMQ without the API, answer unknown.
"""
from __future__ import annotations

import base64
import json
import logging
import os
import urllib.request
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from celery import Celery
from kombu import Connection

from .gate import BrokerUnavailable

log = logging.getLogger(__name__)


def management_request(broker_api: str, vhost: str,
                       fallback_credentials: tuple[str, str] | None) -> urllib.request.Request:
    """The management API request listing a vhost's queues with their ready counts.

    `broker_api` is Flower's form, `http://user:password@host:15672/api/`; without
    credentials in it, the broker's own user and password are sent (the usual set-up).
    """
    parts = urlsplit(broker_api)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"broker_api must be an http(s) URL, got {broker_api!r}")
    credentials = ((unquote(parts.username or ""), unquote(parts.password or ""))
                   if parts.username else fallback_credentials)
    host = parts.hostname + (f":{parts.port}" if parts.port else "")
    path = parts.path.rstrip("/") + "/queues/" + quote(vhost, safe="")
    url = urlunsplit((parts.scheme, host, path,
                      "columns=name,messages_ready,head_message_timestamp", ""))
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    if credentials:
        token = base64.b64encode(":".join(credentials).encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    return request


def ready_counts(payload: Any) -> dict[str, int]:
    """{queue: messages ready} from the management API's queue list; queues without
    statistics yet are left out (a passive declare asks them)."""
    if not isinstance(payload, list):
        raise TypeError("the management API did not answer a list of queues")
    return {queue["name"]: queue["messages_ready"] for queue in payload
            if isinstance(queue, dict) and isinstance(queue.get("name"), str)
            and isinstance(queue.get("messages_ready"), int)}


def _from_management_api(broker_api: str, connection: Connection,
                         timeout: float) -> dict[str, int]:
    credentials = (connection.userid, connection.password) if connection.userid else None
    request = management_request(broker_api, connection.virtual_host or "/", credentials)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return ready_counts(json.load(response))


def _from_channel(connection: Connection, names: Sequence[str], timeout: float) -> dict[str, int]:
    connection.ensure_connection(max_retries=1, timeout=timeout)
    channel = connection.default_channel
    counts = {}
    for name in names:
        if hasattr(channel, "_size"):  # a virtual transport: no declare, no side effects
            counts[name] = int(channel._size(name))
            continue
        try:
            counts[name] = channel.queue_declare(queue=name, passive=True).message_count
        except connection.channel_errors:  # no such queue; AMQP closed the channel
            counts[name], channel = 0, connection.channel()
    return counts


def queue_lengths(app: Celery, names: Sequence[str], timeout: float,
                  broker_api: str | None = None) -> list[dict[str, Any]]:
    """[{"name": queue, "messages": ready}] in the order of `names`.

    Raises BrokerUnavailable when the broker cannot be asked; a failing management API
    only logs a warning and falls back to asking the broker itself.
    """
    with app.connection_for_read() as connection:
        counts: dict[str, int] = {}
        if broker_api and names:
            try:
                counts = _from_management_api(broker_api, connection, timeout)
            except (OSError, ValueError, TypeError) as exc:  # URLError, HTTPError: OSErrors
                log.warning("broker API %s failed (%s); asking the broker instead",
                            urlsplit(broker_api).hostname, exc)
        missing = [name for name in names if name not in counts]
        if missing:
            try:
                counts.update(_from_channel(connection, missing, timeout))
            except Exception as exc:  # noqa: BLE001 — every transport has its own error types
                raise BrokerUnavailable(
                    f"broker unreachable: {type(exc).__name__}: {exc}") from None
    return [{"name": name, "messages": int(counts[name])} for name in names]


def management_heads(payload: Any) -> dict[str, list[dict[str, Any]]]:
    """{queue: [one level]} from the management API's queue list: the head's publisher
    timestamp (epoch seconds) when it has one, else None (age unknown)."""
    heads = {}
    for queue in payload if isinstance(payload, list) else ():
        if not (isinstance(queue, dict) and isinstance(queue.get("name"), str)
                and isinstance(queue.get("messages_ready"), int)):
            continue
        stamp = queue.get("head_message_timestamp")
        heads[queue["name"]] = [{
            "priority": None, "messages": queue["messages_ready"], "task_id": None,
            "timestamp": float(stamp) if isinstance(stamp, (int, float)) else None}]
    return heads


def head_task_id(raw: bytes | str | None) -> str | None:
    """The task id of a message as kombu's Redis transport stores it (JSON, id in headers;
    the correlation id for other publishers); None when it is not such a message."""
    try:
        message = json.loads(raw) if raw else None
    except ValueError:
        return None
    if not isinstance(message, dict):
        return None
    headers, properties = message.get("headers") or {}, message.get("properties") or {}
    found = (headers.get("id") if isinstance(headers, dict) else None) or (
        properties.get("correlation_id") if isinstance(properties, dict) else None)
    return found if isinstance(found, str) and found else None


def _redis_heads(channel: Any, names: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """Every priority list's length and tail, in one pipeline. LLEN is prefixed by kombu's
    client itself; LINDEX is not among its prefixed commands, so the key is prefixed here."""
    prefix = channel.global_keyprefix or ""
    heads: dict[str, list[dict[str, Any]]] = {}
    with channel.conn_or_acquire() as client:
        if "LINDEX" in getattr(client, "PREFIXED_SIMPLE_COMMANDS", ()):
            prefix = ""
        steps = list(channel.priority_steps)
        with client.pipeline() as pipe:
            for name in names:
                for step in steps:
                    key = channel._q_for_pri(name, step)
                    pipe.llen(key)
                    pipe.lindex(prefix + key, -1)
            answers = pipe.execute()
    for index, name in enumerate(names):
        start = index * len(steps) * 2
        heads[name] = [{"priority": step, "messages": int(answers[start + 2 * at] or 0),
                        "task_id": head_task_id(answers[start + 2 * at + 1]),
                        "timestamp": None} for at, step in enumerate(steps)]
    return heads


def _filesystem_heads(channel: Any, names: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """One level per queue: its message files, the first of them in the order kombu takes
    them (sorted names; a file taken meanwhile is skipped)."""
    folder = channel.data_folder_in
    files: dict[str, list[str]] = {}
    for filename in sorted(os.listdir(folder)):
        files.setdefault(filename.partition(".")[2].removesuffix(".msg"), []).append(filename)
    heads = {}
    for name in names:
        waiting, task_id = files.get(name, []), None
        for filename in waiting:
            try:
                with open(os.path.join(folder, filename), "rb") as message:
                    task_id = head_task_id(message.read())
                break
            except OSError:  # taken by a worker since the listing
                continue
        heads[name] = [{"priority": None, "messages": len(waiting), "task_id": task_id,
                        "timestamp": None}]
    return heads


def queue_heads(app: Celery, names: Sequence[str], timeout: float,
                broker_api: str | None = None) -> dict[str, list[dict[str, Any]]]:
    """{queue: [{priority, messages, task_id, timestamp}] per priority level}; a queue left
    out is one whose oldest message this broker cannot show. Raises BrokerUnavailable."""
    with app.connection_for_read() as connection:
        kind = connection.transport.driver_type
        if kind == "amqp" and broker_api and names:
            return _management_heads(broker_api, connection, names, timeout)
        if kind not in ("redis", "filesystem"):
            return {}
        try:
            connection.ensure_connection(max_retries=1, timeout=timeout)
            if kind == "filesystem":
                return _filesystem_heads(connection.default_channel, names)
            return _redis_heads(connection.default_channel, names)
        except Exception as exc:  # noqa: BLE001 — every transport has its own error types
            raise BrokerUnavailable(
                f"broker unreachable: {type(exc).__name__}: {exc}") from None


def _management_heads(broker_api: str, connection: Connection, names: Sequence[str],
                      timeout: float) -> dict[str, list[dict[str, Any]]]:
    credentials = (connection.userid, connection.password) if connection.userid else None
    request = management_request(broker_api, connection.virtual_host or "/", credentials)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            heads = management_heads(json.load(response))
    except (OSError, ValueError) as exc:  # URLError, HTTPError: OSErrors
        log.warning("broker API %s failed (%s): queue latency unknown",
                    urlsplit(broker_api).hostname, exc)
        return {}
    return {name: heads[name] for name in names if name in heads}
