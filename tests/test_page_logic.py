"""The pages' logic as plain functions: controls to parameters, zooms, redraws, grid sorts."""
from zoneinfo import ZoneInfo

from celery_scope.components.grid_defaults import DEFAULT_COL_DEF
from celery_scope.components.summary import make_summary_cards
from celery_scope.components.worker_table import COLUMN_DEFS, make_worker_grid
from celery_scope.series.spec import SeriesSpec
from celery_scope.series.view import controls_to_params as explore_params
from celery_scope.series.view import due, zoomed_window
from celery_scope.tasks.view import controls_to_params as task_params
from celery_scope.tasks.view import grid_request_filter

UTC = ZoneInfo("UTC")


def test_task_controls_leave_defaults_and_empty_values_out():
    params = task_params(["FAILURE", "RETRY"], ["a.b"], None, "", "received", "1h", "x", "y",
                         None, 2.5, "boom")
    assert params == {"state": "FAILURE,RETRY", "name": "a.b", "range": "1h",
                      "runtime_max": "2.5", "search": "boom"}
    custom = task_params([], [], "w1", "q", "started", "custom", "2026-01-01", "", None, None, "")
    assert custom == {"worker": "w1", "queue": "q", "time_field": "started",
                      "since": "2026-01-01"}


def test_the_grid_s_header_sort_applies_over_the_stored_filter():
    request = {"sortModel": [{"colId": "runtime", "sort": "desc"}]}
    assert grid_request_filter({"state": "SUCCESS"}, request).sort == "-runtime"
    assert grid_request_filter({"sort": "name"}, {}).sort == "name"


def test_a_zoom_narrows_the_window_and_anything_as_wide_is_none():
    spec = SeriesSpec(range=None, since=0.0, until=3600.0)
    zoom = {"xaxis.range[0]": "1970-01-01 00:10:00", "xaxis.range[1]": "1970-01-01 00:20:00"}
    assert zoomed_window(zoom, UTC, spec) == (600.0, 1200.0)
    assert zoomed_window({"xaxis.autorange": True}, UTC, spec) is None
    whole = {"xaxis.range": ["1970-01-01 00:00:00", "1970-01-01 01:00:00"]}
    assert zoomed_window(whole, UTC, spec) is None


def test_only_a_sliding_window_is_redrawn_and_only_when_due():
    sliding, fixed = SeriesSpec(range="1h"), SeriesSpec(range=None, since=0.0, until=10.0)
    assert due(sliding, None, 100.0, 30.0) and due(sliding, 60.0, 100.0, 30.0)
    assert not due(sliding, 80.0, 100.0, 30.0)
    assert not due(fixed, None, 100.0, 30.0)


def test_explore_controls_become_the_page_s_query():
    params = explore_params("failure_ratio", "name", None, None, 5, ["a"], [], [], [], "24h",
                            None, None, "auto")
    assert params["metric"] == "failure_ratio" and params["group"] == "name"
    assert params["range"] == "24h" and "since" not in params


def _leaves(columns):
    for column in columns:
        yield from _leaves(column["children"]) if "children" in column else [column]


def test_the_worker_grid_fits_1400_px_with_whole_headers():
    """1400 px less the page's and the card's padding leave 1316 px for the grid."""
    leaves = list(_leaves(COLUMN_DEFS))
    selection = make_worker_grid("g", "/").dashGridOptions["selectionColumnDef"]["width"]
    assert selection + sum(column["minWidth"] for column in leaves) <= 1316
    assert all(column.items() >= DEFAULT_COL_DEF.items() for column in leaves)  # headers wrap
    assert [c["field"] for c in leaves if "load" in c["field"]] == ["load"]  # one load column


def test_the_summary_colours_trouble_only_when_there_is_some():
    quiet = {card.id: card.className for card in make_summary_cards({"workers_online": 2})}
    assert quiet["summary-workers_online"] == "stat-card tone-good"
    assert quiet["summary-workers_offline"] == quiet["summary-failed_recent"] == (
        "stat-card tone-muted")
    loud = {card.id: card.className for card in make_summary_cards(
        {"workers_offline": 1, "failed_recent": 1_234})}
    assert loud["summary-workers_offline"] == "stat-card tone-warn"
    assert loud["summary-failed_recent"] == "stat-card tone-bad"
    assert make_summary_cards({"failed_recent": 1_234})[-1].children[0].children == "1,234"
