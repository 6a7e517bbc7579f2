"""The one gate for blocking broker calls: control commands and Inspector calls alike.

Each is timed and logged, and whatever error its transport raises for a broker it cannot
reach (kombu's OperationalError, redis-py's, amqp's, a socket's) becomes one typed error,
BrokerUnavailable, that pages show as the broker banner's message and the API as a 503.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)


class ControlError(Exception):
    """An action that could not be attempted; the message is meant for the user."""


class BrokerUnavailable(ControlError):
    """The broker could not be reached to send the command."""


@contextmanager
def broker_call(what: str) -> Iterator[None]:
    """Around one blocking call to the broker: `what` names it in the log."""
    started = time.monotonic()
    try:
        yield
    except ControlError:
        raise
    except Exception as exc:  # noqa: BLE001 — every transport has its own error types
        log.warning("%s failed: %s", what, exc)
        raise BrokerUnavailable(f"broker unreachable: {type(exc).__name__}: {exc}") from None
    log.info("%s took %.0f ms", what, (time.monotonic() - started) * 1000)
