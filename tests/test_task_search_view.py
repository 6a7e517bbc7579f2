"""The /tasks page's rules as plain functions: From/To in the browser's zone, state chips and
their counts, how often the live counts run."""
import time

import pytest

from celery_scope.tasks.filters import TaskFilter, parse_filter
from celery_scope.tasks.view import (
    active_chip,
    chosen_states,
    controls_to_params,
    counting_clock,
    counts_on_its_own,
    in_zone,
    next_count_tick,
    page_params,
    total_of,
)


@pytest.mark.parametrize("text, zone, expected", [
    pytest.param("2026-01-31 08:00", "Europe/Paris", "2026-01-31T08:00:00+01:00", id="winter"),
    pytest.param("2026-07-31T08:00", "Europe/Paris", "2026-07-31T08:00:00+02:00", id="summer"),
    pytest.param("2026-01-31T08:00", "Asia/Kolkata", "2026-01-31T08:00:00+05:30", id="kolkata"),
    pytest.param("2026-01-31T08:00Z", "Europe/Paris", "2026-01-31T08:00Z", id="utc-kept"),
    pytest.param("2026-01-31T08:00-05:00", "Europe/Paris", "2026-01-31T08:00-05:00",
                 id="offset-kept"),
    pytest.param("1767225600.5", "Europe/Paris", "1767225600.5", id="epoch-kept"),
    pytest.param("24h", "Europe/Paris", "24h", id="duration-kept"),
    pytest.param("last tuesday", "Europe/Paris", "last tuesday", id="nonsense-for-the-filter"),
    pytest.param("2026-01-31T08:00", None, "2026-01-31T08:00", id="zone-not-known-yet"),
    pytest.param("2026-01-31T08:00", "Not/AZone", "2026-01-31T08:00:00+00:00",
                 id="unknown-zone-is-utc"),
    pytest.param("  ", "Europe/Paris", None, id="empty"),
])
def test_from_and_to_read_in_the_browsers_zone(text, zone, expected):
    assert in_zone(text, zone) == expected


def test_from_and_to_apply_unless_a_quick_range_is_chosen():
    typed = dict(state=[], name=[], worker=None, queue=None, time_field="received",
                 since="2026-01-31 08:00", until="", runtime_min=None, runtime_max=None,
                 search="", zone_name="Europe/Paris")
    assert controls_to_params(quick="all", **typed) == {"since": "2026-01-31T08:00:00+01:00"}
    assert controls_to_params(quick="custom", **typed) == {"since": "2026-01-31T08:00:00+01:00"}
    assert controls_to_params(quick="1h", **typed) == {"range": "1h"}
    moment = parse_filter(controls_to_params(quick="custom", **typed)).since
    assert moment == 1769842800.0  # 07:00 UTC


def test_the_page_keeps_from_as_typed_and_leaves_the_sort_to_the_header():
    params = {"since": "2026-01-31T08:00:00+01:00", "state": "failure", "sort": "runtime"}
    assert page_params(params, parse_filter(params)) == {
        "since": "2026-01-31T08:00:00+01:00", "state": "FAILURE"}
    relative = {"since": "24h"}
    assert page_params(relative, parse_filter(relative)) == {"since": "24h"}


COUNTS = {"SUCCESS": 6, "FAILURE": 3, "RETRY": 1, "PENDING": 2}


@pytest.mark.parametrize("params, states, total, chip", [
    pytest.param({}, None, 12, "All", id="everything"),
    pytest.param({"state": "FAILURE"}, {"FAILURE"}, 3, "Failed", id="one-state"),
    pytest.param({"search": "state:RETRY x"}, {"RETRY"}, 1, "Retried", id="searched-state"),
    pytest.param({"state": "FAILURE,RETRY"}, {"FAILURE", "RETRY"}, 4, None, id="a-mix"),
    pytest.param({"state": "FAILURE,RETRY", "search": "state:RETRY"}, {"RETRY"}, 1, "Retried",
                 id="both-narrow"),
    pytest.param({"state": "SUCCESS", "search": "state:FAILURE"}, set(), 0, None,
                 id="nothing-in-common"),
])
def test_chips_and_total_follow_the_states_a_filter_lets_through(params, states, total, chip):
    task_filter = parse_filter(params)
    assert chosen_states(task_filter) == (None if states is None else frozenset(states))
    assert total_of(COUNTS, task_filter) == total
    assert active_chip(task_filter) == chip


@pytest.mark.parametrize("params, own", [
    pytest.param({}, False, id="any-state"),
    pytest.param({"state": "FAILURE"}, False, id="stored"),
    pytest.param({"state": "RECOVERED"}, True, id="derived"),
    pytest.param({"search": "state:dead"}, True, id="derived-searched"),
    pytest.param({"state": "SUCCESS,RETRYING"}, True, id="mixed"),
])
def test_a_derived_state_is_counted_by_itself(params, own):
    """RECOVERED tasks are stored as SUCCESS: the per-state counts cannot give their total."""
    assert counts_on_its_own(parse_filter(params)) is own


def test_a_broken_search_counts_as_no_state():
    assert chosen_states(TaskFilter(search='state:"open')) is None


@pytest.mark.parametrize("spent, interval, expected", [
    pytest.param(0.004, 2.0, 11, id="cheap-every-tick"),
    pytest.param(0.1, 2.0, 11, id="at-the-share"),
    pytest.param(0.25, 2.0, 13, id="dear-skips-ticks"),
    pytest.param(1.0, 1.0, 30, id="very-dear"),
])
def test_counting_keeps_to_its_share_of_the_database(spent, interval, expected):
    assert next_count_tick(10, spent, interval) == expected


def test_counting_on_sqlite_is_timed_by_this_thread_s_cpu_not_by_a_busy_machine():
    sqlite, server = counting_clock("sqlite"), counting_clock("postgresql")
    began = sqlite(), server()
    time.sleep(0.2)  # waiting costs no CPU: as a count stalled behind other processes
    assert sqlite() - began[0] < 0.05 and server() - began[1] >= 0.2
