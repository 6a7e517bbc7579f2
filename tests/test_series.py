"""/explore's aggregations on a small hand-built store with known answers."""
import csv
import io
import math
from urllib.parse import parse_qs

import numpy as np
import pytest

from celery_scope.query_string import FilterError, parse_time
from celery_scope.series.build import (
    build_heatmap,
    build_series,
    finished_per_bucket,
    point_link,
    series_csv,
)
from celery_scope.series.frames import (
    OTHER,
    epoch_from_local,
    fold_labels,
    local_times,
    percentiles,
    zone,
)
from celery_scope.series.spec import SeriesSpec, auto_bucket, parse_spec
from celery_scope.series.view import (
    chart_title,
    controls_to_params,
    due,
    first_received,
    fitting_window,
    local_text,
    typed_time,
    window_controls,
)
from celery_scope.store.history import HistoryStore
from celery_scope.store.merge import new_task_row

T0 = 1_799_996_400.0  # a whole UTC hour
END = T0 + 180  # three one-minute buckets: [T0, T0+60), [T0+60, T0+120), [T0+120, T0+180)


def window(**changes):
    return SeriesSpec(range=None, since=T0, until=END, bucket=60).with_changes(**changes)


def task(number, name, received, state="SUCCESS", runtime=None, started=None, finished=None,
         worker="w1@host", queue="celery", retried=None):
    row = new_task_row(f"task-{number}")
    started = received + 1 if started is None else started
    finished = started + (runtime or 0) if finished is None else finished
    row.update(name=name, state=state, worker=worker, queue=queue, received=received,
               started=started, runtime=runtime, retried=retried,
               timestamp=finished if state in ("SUCCESS", "FAILURE", "REVOKED") else started)
    if state == "SUCCESS":
        row["succeeded"] = finished
    elif state == "FAILURE":
        row["failed"] = finished
    elif state == "REVOKED":
        row["revoked"] = finished
    return row


@pytest.fixture
def store(store_url):
    """An empty store on each backend: every query here runs on SQLite and PostgreSQL."""
    instance = HistoryStore(store_url)
    yield instance
    instance.close()


@pytest.fixture
def filled(store):
    rows = [
        # bucket 0: "a" succeeds four times (runtimes 1..4), "b" once (runtime 10)
        *(task(n, "a", T0 + 2 * n, runtime=float(n), started=T0 + 2 * n + 0.5)
          for n in (1, 2, 3, 4)),
        task(5, "b", T0 + 20, runtime=10.0, started=T0 + 21, worker="w2@host", queue="bulk"),
        # bucket 1 is empty
        # bucket 2: "a" fails once and succeeds once; "c" is still running at the end
        task(6, "a", T0 + 120, state="FAILURE", finished=T0 + 125, retried=T0 + 122),
        task(7, "a", T0 + 121, runtime=5.0),
        task(8, "c", T0 + 130, state="STARTED"),
        # outside the window: exactly at its end, and before its start (still running)
        task(9, "a", END, runtime=1.0),
        task(10, "c", T0 - 30, state="STARTED"),
    ]
    store.write(rows)
    return store


def test_auto_bucket_keeps_charts_between_about_200_and_400_points():
    assert auto_bucket(900) == 5  # 15 minutes: 180 points
    assert auto_bucket(86400) == 300  # a day: 288 points
    assert auto_bucket(7 * 86400) == 1800  # a week: 336 points
    assert auto_bucket(30 * 86400) == 7200  # 30 days: 360 points
    for span in (3600, 21600, 86400, 604800):
        assert 150 <= span / auto_bucket(span) <= 400


def test_counts_per_bucket_with_empty_buckets_as_zero_and_the_window_end_excluded(filled):
    series = build_series(filled.engine, window(metric="received"))
    assert list(series.frame.index) == [T0, T0 + 60, T0 + 120]
    assert list(series.frame["received"]) == [5, 0, 3]
    succeeded = build_series(filled.engine, window(metric="succeeded")).frame["succeeded"]
    assert list(succeeded) == [5, 0, 1]  # task 4 finishes at T0+12.5, task 5 at T0+31


def test_counts_as_rate_per_second(filled):
    rate = build_series(filled.engine, window(metric="received", unit="rate")).frame["received"]
    assert rate.tolist() == pytest.approx([5 / 60, 0, 3 / 60])


def test_counts_grouped_and_filtered(filled):
    by_name = build_series(filled.engine, window(metric="received", group="name")).frame
    assert list(by_name.columns) == ["a", "b", "c"]  # most tasks first, then by name
    assert by_name.loc[T0].tolist() == [4, 1, 0]
    assert by_name.loc[T0 + 120].tolist() == [2, 0, 1]
    only_bulk = build_series(filled.engine, window(metric="received", queues=("bulk",))).frame
    assert only_bulk["received"].tolist() == [1, 0, 0]
    retried = build_series(filled.engine, window(metric="retried")).frame["retried"]
    assert retried.tolist() == [0, 0, 1]


def test_top_groups_fold_the_rest_into_other():
    labels = fold_labels({"a": 5, "b": 4, "c": 3, "d": 1}, top=2)
    assert labels == {"a": "a", "b": "b", "c": OTHER, "d": OTHER}
    # one group left over is shown as itself, not as a one-member "other"
    assert fold_labels({"a": 5, "b": 4, "c": 3}, top=2) == {"a": "a", "b": "b", "c": "c"}
    assert fold_labels({None: 2, "x": 1}, top=5) == {None: "(none)", "x": "x"}


def test_folded_counts_add_up(store):
    rows = [task(n, name, T0 + n) for n, name in enumerate("aaaaabbbbcccd")]
    store.write(rows)
    frame = build_series(store.engine, window(metric="received", group="name", top=2)).frame
    assert list(frame.columns) == ["a", "b", OTHER]
    assert frame.loc[T0].tolist() == [5, 4, 4]


def test_runtime_percentiles_are_exact(filled):
    frame = build_series(filled.engine, window(metric="runtime")).frame
    first = frame.loc[T0]
    values = [1, 2, 3, 4, 10]
    assert first["p50"] == 3
    assert first["p95"] == pytest.approx(8.8)  # 4 + 0.8 * (10 - 4)
    assert first["p99"] == pytest.approx(np.quantile(values, 0.99))
    assert first["max"] == 10
    assert frame.loc[T0 + 60].isna().all()  # no task finished: no runtime, not zero
    assert frame.loc[T0 + 120].tolist() == [5, 5, 5, 5]


def test_grouped_percentiles_pool_the_folded_groups(store):
    rows = [task(n, "a", T0 + n, runtime=1.0) for n in range(4)]
    rows += [task(10, "b", T0 + 10, runtime=2.0), task(11, "c", T0 + 11, runtime=4.0),
             task(12, "d", T0 + 12, runtime=9.0)]
    store.write(rows)
    frame = build_series(store.engine, window(metric="runtime", group="name", top=1,
                                              stat="p50")).frame
    assert list(frame.columns) == ["a", OTHER]
    assert frame.loc[T0, "a"] == 1
    assert frame.loc[T0, OTHER] == 4  # the median of 2, 4 and 9, not a mean of medians


def test_percentiles_match_numpy_on_random_values():
    values = np.random.default_rng(7).lognormal(size=1001)
    found = percentiles(values)
    assert found["p99"] == pytest.approx(np.percentile(values, 99))
    assert found["max"] == values.max()


def test_wait_time_is_received_to_started(filled):
    frame = build_series(filled.engine, window(metric="wait")).frame
    assert frame.loc[T0, "max"] == 1  # task 5 waited 1 s; the others 0.5 s
    assert frame.loc[T0, "p50"] == 0.5


def test_failure_ratio(filled):
    frame = build_series(filled.engine, window(metric="failure_ratio")).frame
    ratio = frame["failure_ratio"]
    assert ratio[T0] == 0
    assert math.isnan(ratio[T0 + 60])
    assert ratio[T0 + 120] == 0.5


def test_in_flight_counts_tasks_received_and_not_finished(filled):
    frame = build_series(filled.engine, window(metric="in_flight")).frame
    # task 10 runs throughout; bucket 0's five tasks all finish within it (task 5 at T0+31);
    # in bucket 2 tasks 6 and 7 finish, task 8 stays
    assert frame["in_flight"].tolist() == [1, 1, 2]
    by_name = build_series(filled.engine, window(metric="in_flight", group="name")).frame
    assert by_name.loc[T0 + 120, "c"] == 2
    assert by_name.loc[T0 + 120, "a"] == 0


def test_worker_samples_sum_active_and_average_load(store):
    store.write([], samples=[
        {"hostname": "w1", "timestamp": T0 + 5, "active": 2, "processed": 0, "load1": 1.0},
        {"hostname": "w1", "timestamp": T0 + 15, "active": 4, "processed": 0, "load1": 3.0},
        {"hostname": "w2", "timestamp": T0 + 5, "active": 1, "processed": 0, "load1": 0.5},
    ])
    active = build_series(store.engine, window(metric="worker_active")).frame["worker_active"]
    assert active[T0] == 4  # w1's mean 3, plus w2's 1
    assert math.isnan(active[T0 + 60])
    load = build_series(store.engine, window(metric="worker_load", group="worker")).frame
    assert load.loc[T0].to_dict() == {"w1": 2.0, "w2": 0.5}


def test_heatmap_folds_buckets_into_the_browsers_local_hours(store):
    # 23:30 UTC is 05:00 the next day in Kolkata (+05:30) and 18:30 in New York (EST)
    moment = T0 - (T0 % 86400) + 23.5 * 3600
    store.write([task(1, "a", moment), task(2, "a", moment + 60, state="FAILURE")])
    spec = SeriesSpec(range=None, since=moment - 86400, until=moment + 86400)
    kolkata = build_heatmap(store.engine, spec, ratio=False, tz=zone("Asia/Kolkata"))
    assert kolkata.loc["a", 5] == 2 and kolkata.loc["a"].sum() == 2
    new_york = build_heatmap(store.engine, spec, ratio=True, tz=zone("America/New_York"))
    assert new_york.loc["a", 18] == 0.5


def test_times_convert_to_the_browser_zone_and_back():
    tz = zone("Europe/Paris")
    summer = 1_782_900_000.0  # 2026-07-01, UTC+2
    assert local_times([summer], tz)[0].hour == (summer % 86400 // 3600 + 2) % 24
    assert epoch_from_local(local_times([summer], tz)[0].isoformat(), tz) == summer
    assert zone("Not/AZone").key == "UTC" and zone(None).key == "UTC"


def test_spec_round_trips_through_the_url():
    spec = SeriesSpec(metric="runtime", group="worker", names=("a", "b"), range=None,
                      since=T0, until=END, bucket=60, stat="p99", top=3)
    assert parse_spec(parse_qs(spec.to_query_string())) == spec
    assert parse_spec({}) == SeriesSpec()
    assert parse_spec({"range": "7d"}).bucket_seconds() == 1800


@pytest.mark.parametrize("params, message", [
    ({"metric": "nope"}, "metric"),
    ({"group": "colour"}, "group"),
    ({"metric": "worker_load", "group": "name"}, "group"),
    ({"range": "3y"}, "range"),
    ({"since": "yesterday"}, "since"),
    ({"since": str(END), "until": str(T0)}, "since"),
    ({"bucket": "0"}, "bucket"),
    ({"range": "30d", "bucket": "1"}, "bucket"),
    ({"top": "x"}, "top"),
    ({"colour": "red"}, "unknown"),
])
def test_bad_parameters_say_which_and_why(params, message):
    with pytest.raises(FilterError, match=message):
        parse_spec(params)


def test_a_point_links_to_the_grid_filtered_to_its_bucket_and_group():
    spec = window(metric="failed", group="worker", names=("a",))
    link = point_link(spec, "w1@host", T0 + 60, 60)
    path, query = link.split("?")
    params = {key: values[0] for key, values in parse_qs(query).items()}
    assert path == "tasks"
    assert params == {"time_field": "failed", "state": "FAILURE", "name": "a",
                      "worker": "w1@host", "since": repr(T0 + 60),
                      "until": repr(math.nextafter(T0 + 120, 0))}
    # a task received in the bucket's last millisecond is in the link's window too
    assert T0 + 119.9995 <= float(params["until"]) < T0 + 120
    assert "worker" not in point_link(spec, OTHER, T0, 60)
    sampled = window(metric="worker_active", group="worker")
    assert point_link(sampled, "w1@host", T0, 60) == "workers/w1%40host"


def test_csv_has_one_row_per_bucket(filled):
    rows = list(csv.reader(io.StringIO(series_csv(build_series(filled.engine,
                                                                window(metric="runtime"))))))
    assert rows[0] == ["bucket_start_utc", "bucket_start_epoch", "bucket_seconds",
                       "p50", "p95", "p99", "max"]
    assert len(rows) == 4
    assert rows[1][0].endswith("Z") and rows[1][1] == f"{T0:.0f}" and rows[1][3] == "3"
    assert rows[2][3:] == ["", "", "", ""]


def test_queue_depth_is_each_queues_peak_and_their_sum(store):
    store.write_queue_samples([
        {"queue": "celery", "timestamp": T0 + 5, "messages": 3},
        {"queue": "celery", "timestamp": T0 + 15, "messages": 7},
        {"queue": "bulk", "timestamp": T0 + 5, "messages": 2},
        {"queue": "bulk", "timestamp": T0 + 65, "messages": None},  # the broker did not answer
    ])
    total = build_series(store.engine, window(metric="queue_depth")).frame["queue_depth"]
    assert total[T0] == 9
    assert math.isnan(total[T0 + 60]) and math.isnan(total[T0 + 120])
    by_queue = build_series(store.engine, window(metric="queue_depth", group="queue")).frame
    assert by_queue.loc[T0].to_dict() == {"celery": 7, "bulk": 2}
    assert point_link(window(metric="queue_depth"), "celery", T0, 60) == "broker"


def test_queue_latency_is_each_queues_longest_wait_and_the_worst_of_them(store):
    store.write_queue_samples([
        {"queue": "celery", "timestamp": T0 + 5, "messages": 3, "latency_seconds": 4.0},
        {"queue": "celery", "timestamp": T0 + 15, "messages": 3, "latency_seconds": 14.0},
        {"queue": "bulk", "timestamp": T0 + 5, "messages": 2, "latency_seconds": 9.5},
        {"queue": "bulk", "timestamp": T0 + 65, "messages": 0, "latency_seconds": None},
    ])
    worst = build_series(store.engine, window(metric="queue_latency")).frame["queue_latency"]
    assert worst[T0] == 14.0  # the longest wait of any queue, not a sum of waits
    assert math.isnan(worst[T0 + 60])  # an empty queue has no latency to chart
    by_queue = build_series(store.engine, window(metric="queue_latency", group="queue")).frame
    assert by_queue.loc[T0].to_dict() == {"celery": 14.0, "bulk": 9.5}
    assert point_link(window(metric="queue_latency"), "bulk", T0, 60) == "broker"


# -- the page's rules (series/view.py) -----------------------------------------------------

MINUTE, HOUR = 60, 3600


@pytest.mark.parametrize("span, expected", [
    pytest.param(None, {"range": "15m"}, id="no task yet: the shortest range"),
    pytest.param(3 * MINUTE, {"range": "", "since": str(int(T0 - 4 * MINUTE))},
                 id="3 min: from the minute before the first task"),
    pytest.param(10 * MINUTE, {"range": "15m"}, id="10 min fill 15 min"),
    pytest.param(20 * MINUTE, {"range": "", "since": str(int(T0 - 21 * MINUTE))},
                 id="20 min would fill a third of 1 h"),
    pytest.param(40 * MINUTE, {"range": "1h"}, id="40 min fill 1 h"),
    pytest.param(4 * HOUR, {"range": "6h"}, id="4 h fill 6 h"),
    pytest.param(13 * HOUR, {"range": "24h"}, id="13 h fill 24 h"),
    pytest.param(30 * 86400, {"range": "24h"}, id="a month: at most 24 h"),
])
def test_a_fresh_page_opens_on_a_window_that_fits_the_tasks(span, expected):
    first = None if span is None else T0 - span
    assert fitting_window(first, T0) == expected
    start, end = parse_spec(expected, now=T0).window(T0)
    if span is not None and span <= 86400:  # the tasks are in it and fill at least half
        assert start <= first and (end - first) >= 0.5 * (end - start)


def test_the_first_stored_task_is_read_from_the_store(store):
    assert first_received(store.engine) is None
    store.write([task(1, "a", T0 + 30), task(2, "a", T0 + 5)], [])
    assert first_received(store.engine) == T0 + 5


@pytest.mark.parametrize("changes, bucket, title", [
    ({"metric": "runtime"}, 60, "Runtime p50, p95, p99, max (s)"),
    ({"metric": "runtime", "group": "name", "stat": "p95"}, 60, "Runtime p95 (s) by task name"),
    ({"metric": "wait", "group": "worker", "stat": "max"}, 60,
     "Wait time, received to started max (s) by worker"),
    ({"metric": "received"}, 10, "Tasks received per 10 s"),
    ({"metric": "failed", "unit": "rate", "group": "queue"}, 60,
     "Tasks failed per second by queue"),
    ({"metric": "worker_load"}, 60, "Worker load average (1 min)"),
])
def test_the_chart_title_names_the_statistic_and_unit(changes, bucket, title):
    assert chart_title(window(**changes), bucket) == title


def test_times_are_typed_and_shown_in_the_browsers_zone():
    kolkata = zone("Asia/Kolkata")  # UTC+05:30
    assert local_text(T0, kolkata) == "2027-01-15 12:30:00"  # T0 is 07:00 UTC
    assert local_text(T0 + 0.25, kolkata) == "2027-01-15 12:30:00.250"
    assert typed_time(local_text(T0, kolkata), kolkata) == repr(T0)
    assert typed_time(local_text(T0 + 0.25, kolkata), kolkata) == repr(T0 + 0.25)
    assert typed_time(str(T0), kolkata) == str(T0)  # epoch seconds mean what they say
    # an explicit offset is kept as typed, and means the same instant as the wall-clock time
    assert typed_time("2027-01-15T00:00:00+00:00", kolkata) == "2027-01-15T00:00:00+00:00"
    assert parse_time("since", "2027-01-15T00:00:00+00:00") == float(
        typed_time("2027-01-15 05:30:00", kolkata))
    assert typed_time("2h", kolkata) == "2h" and typed_time(" ", kolkata) is None
    params = controls_to_params("received", None, "p95", "count", 8, [], [], [], [], "custom",
                                local_text(T0, kolkata), "", "auto", tz=kolkata)
    assert parse_spec(params).since == T0
    quick = controls_to_params("received", None, "p95", "count", 8, [], [], [], [], "1h",
                               "2027-01-15 12:30", "", "auto", tz=kolkata)
    assert "since" not in quick  # a quick range ignores the boxes


UTC_ZONE = zone("UTC")
SHOWN = {"range": "1h", "since": "", "until": "", "bucket": "auto"}


def test_the_zone_arriving_fills_the_boxes_of_a_custom_window_only():
    custom = window()
    changes = window_controls("tz", {**SHOWN, "range": "custom"}, None, None, custom,
                              UTC_ZONE, END)
    assert changes["since"] == local_text(T0, UTC_ZONE) and changes["until"] == local_text(
        END, UTC_ZONE)
    assert "since" not in window_controls(None, SHOWN, None, None, SeriesSpec(range="1h"),
                                          UTC_ZONE, END)


def test_typing_a_time_turns_the_range_custom_and_picking_one_clears_the_boxes():
    typed = window_controls("since", {**SHOWN, "since": "2027-01-15 00:00"}, None, None,
                            SeriesSpec(range="1h"), UTC_ZONE, END)
    assert typed["range"] == "custom" and typed["chosen"]["since"] == "2027-01-15 00:00"
    picked = window_controls("range", {**SHOWN, "range": "6h", "since": "x"}, None, None,
                             SeriesSpec(range="1h"), UTC_ZONE, END)
    assert picked["since"] == "" and picked["chosen"]["range"] == "6h"
    custom = window_controls("range", {**SHOWN, "range": "custom"}, None, None,
                             SeriesSpec(range="1h"), UTC_ZONE, END)
    assert custom["since"] == local_text(END - HOUR, UTC_ZONE)  # starts from what was shown


def test_a_zoom_keeps_the_chosen_window_and_a_double_click_restores_it():
    shown = SeriesSpec(range="1h")
    zoom = {"xaxis.range[0]": local_text(END - 600, UTC_ZONE),
            "xaxis.range[1]": local_text(END - 300, UTC_ZONE)}
    zoomed = window_controls("chart", SHOWN, None, zoom, shown, UTC_ZONE, END)
    assert zoomed["range"] == "custom" and zoomed["bucket"] == "auto"
    assert zoomed["chosen"] == SHOWN
    controls = {key: zoomed[key] for key in SHOWN}
    closer = {"xaxis.range[0]": local_text(END - 500, UTC_ZONE),
              "xaxis.range[1]": local_text(END - 400, UTC_ZONE)}
    again = window_controls("chart", controls, zoomed["chosen"], closer,
                            SeriesSpec(range=None, since=END - 600, until=END - 300),
                            UTC_ZONE, END)
    assert again.get("chosen") == SHOWN  # a second zoom still remembers the first choice
    back = window_controls("chart", controls, zoomed["chosen"], {"xaxis.autorange": True},
                           window(), UTC_ZONE, END)
    assert back == {"range": "1h", "since": "", "until": "", "chosen": None}
    assert window_controls("chart", SHOWN, None, {"xaxis.autorange": True}, shown, UTC_ZONE,
                           END) == {}  # nothing was zoomed: nothing to restore


def test_a_window_ending_now_is_redrawn_and_a_closed_one_is_not():
    open_ended = SeriesSpec(range=None, since=T0)
    assert due(open_ended, None, END, 30) and due(open_ended, END - 60, END, 30)
    assert not due(window(), None, END, 30)


def test_the_dashboards_throughput_equals_the_explore_counts(filled):
    """The dashboard's one-query throughput gives what /explore's succeeded and failed
    charts give over the same hour."""
    throughput = finished_per_bucket(filled.engine, "1h", 60, now=END)
    for metric, counts in (("succeeded", throughput.succeeded), ("failed", throughput.failed)):
        frame = build_series(filled.engine, SeriesSpec(metric=metric, range="1h", bucket=60),
                             now=END).frame
        assert throughput.starts == list(frame.index)
        assert counts == frame[metric].astype(int).tolist()
    assert throughput.succeeded[-3:] == [5, 0, 1] and throughput.failed[-3:] == [0, 0, 1]
