"""The one broker gate: a broker nobody answers on is one typed error, for the Inspector
as for control commands, so a page's Refresh shows a message instead of failing."""
import tempfile

import pytest
from celery import Celery

from celery_scope.broker.control import Control
from celery_scope.broker.gate import BrokerUnavailable, ControlError
from celery_scope.collector.inspector import Inspector
from celery_scope.store.cache import SnapshotCache

from .helpers import free_port


@pytest.fixture
def dead_broker_app():
    app = Celery("dead", broker=f"redis://127.0.0.1:{free_port()}/0", set_as_current=False)
    app.conf.broker_connection_retry = False
    yield app
    app.close()


def test_an_inspector_round_with_the_broker_down_is_broker_unavailable(dead_broker_app):
    cache = SnapshotCache(tempfile.mkdtemp())
    try:
        with pytest.raises(BrokerUnavailable, match="broker unreachable: OperationalError"):
            Inspector(dead_broker_app, cache, 0.5).refresh(expected=["w@host"])
    finally:
        cache.close()
    assert issubclass(BrokerUnavailable, ControlError)  # what the pages' actions catch


def test_a_control_command_with_the_broker_down_is_broker_unavailable(dead_broker_app):
    control = Control(dead_broker_app, known_workers=lambda: ["w@host"], timeout=0.5)
    with pytest.raises(BrokerUnavailable, match="broker unreachable"):
        control.worker_pool_grow("w@host", n=1)
