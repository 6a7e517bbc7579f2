"""The collector status as published: in order, and never from the broker's receiver."""
import threading

from celery_scope.collector.status import CollectorStatus


class SlowCache:
    """Records what was published; the first publish waits until the test lets it go."""

    def __init__(self):
        self.published, self.entered, self.release = [], threading.Event(), threading.Event()

    def put_collector_status(self, state):
        if not self.published and not self.entered.is_set():
            self.entered.set()
            assert self.release.wait(5)
        self.published.append(state)


def test_an_older_snapshot_never_lands_after_a_newer_one():
    cache = SlowCache()
    status = CollectorStatus(cache, "redis://")
    writer = threading.Thread(target=status.publish_if_due, kwargs={"force": True})
    writer.start()
    assert cache.entered.wait(5)  # the writer holds a snapshot taken before the link was up
    status.connected()
    late = threading.Thread(target=status.publish_if_due, kwargs={"force": True})
    late.start()
    cache.release.set()
    writer.join(5)
    late.join(5)
    assert [state["broker_connected"] for state in cache.published] == [False, True]


def test_the_receiver_only_asks_and_the_next_step_publishes_at_once():
    cache = SlowCache()
    cache.entered.set()  # no publish waits
    status = CollectorStatus(cache, "redis://")
    status.publish_if_due(force=True)
    status.connected()
    assert len(cache.published) == 1  # the receiver's thread touched no store
    status.publish_if_due()  # within the second: published because it was asked for
    assert cache.published[-1]["broker_connected"] is True
    status.publish_if_due()
    assert len(cache.published) == 2  # and not again until due
    status.disconnected(ConnectionError("gone"))
    status.publish_if_due()
    assert cache.published[-1]["broker_error"] == "ConnectionError: gone"
