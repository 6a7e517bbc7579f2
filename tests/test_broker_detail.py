"""The broker page's pure parts: grid rows, worker links, chart frames, windows, figure."""
from datetime import datetime

import pytest

from celery_scope.components.queue_chart import queue_figure
from celery_scope.queues.detail import (
    WINDOWS,
    chart_window,
    queue_rows,
    samples_frame,
    worker_links,
)
from celery_scope.series.frames import zone

NOW = 1_700_000_000.0
UNTIMED = {"no_consumer": False, "latency": None, "latency_source": None, "levels": ""}


@pytest.mark.parametrize("latest, consumers, expected", [
    pytest.param([], {}, [], id="nothing known"),
    pytest.param(
        [{"queue": "celery", "timestamp": NOW - 4, "messages": 3}], {"celery": ["w1@h"]},
        [{**UNTIMED, "queue": "celery", "messages": 3, "consumers": 1,
          "workers": "[w1@h](/scope/workers/w1%40h)", "sampled_age": 4.0}],
        id="sampled and consumed"),
    pytest.param(
        [{"queue": "orphans", "timestamp": NOW - 10, "messages": 7}], {},
        [{**UNTIMED, "queue": "orphans", "messages": 7, "consumers": 0,
          "workers": "**no online consumer: messages wait**", "sampled_age": 10.0,
          "no_consumer": True}],
        id="no consumer: still listed"),
    pytest.param(
        [], {"fresh": ["w1@h", "old@h"]},
        [{**UNTIMED, "queue": "fresh", "messages": None, "consumers": 1,
          "workers": "[w1@h](/scope/workers/w1%40h), [old@h](/scope/workers/old%40h) *(offline)*",
          "sampled_age": None}],
        id="consumed, not sampled yet; offline consumer last"),
    pytest.param(
        [{"queue": "celery", "timestamp": NOW - 2, "messages": None}], {},
        [{**UNTIMED, "queue": "celery", "messages": None, "consumers": 0, "workers": "",
          "sampled_age": 2.0}],
        id="broker could not be asked"),
])
def test_queue_rows(latest, consumers, expected):
    assert queue_rows(latest, consumers, {"w1@h"}, "/scope/", NOW) == expected


def test_rows_are_sorted_by_queue_name():
    rows = queue_rows([{"queue": "b", "timestamp": NOW, "messages": 0}], {"a": ["w1@h"]},
                      set(), "/", NOW)
    assert [row["queue"] for row in rows] == ["a", "b"]


def test_worker_links_escape_untrusted_names():
    links = worker_links(["w[1](javascript:x)@h"], {"w[1](javascript:x)@h"}, "/")
    assert links == r"[w\[1\]\(javascript:x\)@h](/workers/w%5B1%5D%28javascript%3Ax%29%40h)"


def test_samples_frame_keeps_unknown_values_and_its_columns():
    frame = samples_frame([{"queue": "a", "timestamp": 0.0, "messages": 2},
                           {"queue": "a", "timestamp": 10.0, "messages": None}])
    assert frame["messages"].isna().tolist() == [False, True]
    assert samples_frame([]).empty
    assert list(samples_frame([]).columns) == ["queue", "timestamp", "messages",
                                               "latency_seconds"]


def test_chart_window_defaults_to_the_last_hour():
    assert chart_window(None) == chart_window("1 h") == (3600, 30)
    assert chart_window("bogus") == (3600, 30)
    assert all(seconds // bucket <= 120 for seconds, bucket in WINDOWS.values())


def test_depth_figure_draws_one_line_per_queue_with_gaps_for_unknown_depths():
    frame = samples_frame([{"queue": "b", "timestamp": NOW - 20, "messages": 1},
                           {"queue": "a", "timestamp": NOW - 20, "messages": 4},
                           {"queue": "a", "timestamp": NOW - 10, "messages": None}])
    figure = queue_figure(frame, "messages", "depth", "nothing", NOW - 3600, NOW, zone("UTC"))
    assert [(trace.name, list(trace.y)) for trace in figure.data] == [("a", [4, None]),
                                                                      ("b", [1])]
    assert list(figure.layout.xaxis.range) == [datetime(2023, 11, 14, 21, 13, 20),
                                               datetime(2023, 11, 14, 22, 13, 20)]
    assert figure.layout.xaxis.title.text == "time"  # the zone is said once, in the header


def test_latency_figure_charts_the_oldest_wait_in_seconds():
    frame = samples_frame([
        {"queue": "a", "timestamp": NOW - 20, "messages": 4, "latency_seconds": 12.34567},
        {"queue": "a", "timestamp": NOW - 10, "messages": 0, "latency_seconds": None}])
    figure = queue_figure(frame, "latency_seconds", "wait", "nothing", NOW - 3600, NOW,
                          zone("UTC"))
    assert [(trace.name, list(trace.y)) for trace in figure.data] == [("a", [12.346, None])]
    assert figure.layout.yaxis.title.text == "oldest message's wait (s)"


def test_depth_figure_without_samples_says_why():
    figure = queue_figure(samples_frame([]), "messages", "depth", "No samples yet", 0, 1,
                          zone(None))
    assert not figure.data
    assert figure.layout.annotations[0].text == "No samples yet"
