"""Which queues the cluster uses: the app's configuration merged with the workers' replies."""
import pytest
from celery import Celery
from kombu import Queue

from celery_scope.queues.names import (
    configured_queues,
    consumers_by_queue,
    queues_in_use,
    routed_queues,
)


def conf(**settings):
    app = Celery("conf", set_as_current=False)
    app.conf.update(settings)
    return app.conf


@pytest.mark.parametrize("routes, expected", [
    pytest.param(None, set(), id="none"),
    pytest.param({"a.task": {"queue": "alpha"}, "b.*": {"queue": "beta"}}, {"alpha", "beta"},
                 id="dict of options, glob pattern"),
    pytest.param({"a.task": "alpha"}, {"alpha"}, id="dict of queue names"),
    pytest.param({"a.task": {"queue": Queue("alpha")}}, {"alpha"}, id="a Queue object"),
    pytest.param({"a.task": {"exchange": "x", "routing_key": "k"}}, set(), id="no queue named"),
    pytest.param([{"a.task": {"queue": "alpha"}}, {"b.task": {"queue": "beta"}}],
                 {"alpha", "beta"}, id="list of dicts"),
    pytest.param(([("a.*", {"queue": "alpha"}), ("b.task", "beta")],), {"alpha", "beta"},
                 id="tuple of (pattern, route) lists"),
    pytest.param([lambda name, args, kwargs, options, task=None, **kw: {"queue": "hidden"},
                  {"b.task": {"queue": "beta"}}], {"beta"}, id="router functions skipped"),
])
def test_routed_queues(routes, expected):
    assert routed_queues(routes) == expected


def test_configured_queues_merge_default_task_queues_and_routes():
    settings = conf(task_default_queue="main", task_queues=[Queue("main"), Queue("mail")],
                    task_routes={"send.*": {"queue": "outbox"}})
    assert configured_queues(settings) == {"main", "mail", "outbox"}
    assert configured_queues(conf()) == {"celery"}


def snapshot(*queues, at=1.0):
    return {"active_queues": {"reply": [{"name": name, "routing_key": name} for name in queues],
                              "at": at}}


@pytest.mark.parametrize("snapshots, expected", [
    pytest.param({}, {}, id="nothing inspected"),
    pytest.param({"w1@h": snapshot("celery"), "w2@h": snapshot("celery", "mail")},
                 {"celery": ["w1@h", "w2@h"], "mail": ["w2@h"]}, id="shared and own queues"),
    pytest.param({"w1@h": {"stats": {"reply": {}, "at": 1.0}}}, {}, id="never answered"),
    pytest.param({"w1@h": {"active_queues": {"reply": None, "at": 1.0}}}, {}, id="null reply"),
    pytest.param({"w1@h": {"active_queues": {"reply": ["junk", {"name": ""}, {}], "at": 1.0}}},
                 {}, id="malformed entries skipped"),
])
def test_consumers_by_queue(snapshots, expected):
    assert consumers_by_queue(snapshots) == expected


def test_a_queue_without_consumers_stays_in_use():
    consumers = consumers_by_queue({"w1@h": snapshot("celery", "extra")})
    assert queues_in_use({"celery", "orphans"}, consumers) == ["celery", "extra", "orphans"]
