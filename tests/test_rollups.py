"""The five-minute rollups: kept equal to the rows by every write, replay and prune, and
/explore's long-window charts read from them match the ones read from the rows (counts
exactly, percentiles within 1%), on both stores."""
import random

import numpy as np
import pytest

from celery_scope.collector.events import EventCollector
from celery_scope.collector.status import CollectorStatus
from celery_scope.series import rollup_queries
from celery_scope.series.build import build_heatmap, build_series
from celery_scope.series.frames import zone
from celery_scope.series.spec import SeriesSpec
from celery_scope.store import rollups
from celery_scope.store.cache import SnapshotCache
from celery_scope.store.history import HistoryStore
from celery_scope.store.merge import apply_task_event, new_task_row
from celery_scope.store.rollups import PERIOD, SPANS
from celery_scope.store.schema import store_marks, task_rollups, worker_sample_rollups
from celery_scope.store.sketch import Sketch, pooled_quantiles

from .helpers import message, task

T0 = 1_800_000_000.0  # a whole period
SPAN = 6 * 3600.0
NAMES = ("app.send", "app.build", "app.score")
WORKERS = ("w1@a", "w2@a", "w3@b")
QUEUES = ("celery", "bulk", None)


@pytest.fixture
def store(store_url):
    instance = HistoryStore(store_url)
    yield instance
    instance.close()


def lifecycle(rng: random.Random, number: int) -> list[dict]:
    """One task's events, as a worker and a client send them."""
    uuid, sent = f"task-{number}", T0 + rng.random() * SPAN
    name, worker = rng.choice(NAMES), rng.choice(WORKERS)
    events = [{"type": "task-sent", "uuid": uuid, "timestamp": sent, "name": name,
               "queue": rng.choice(QUEUES), "hostname": "client@c"},
              {"type": "task-received", "uuid": uuid, "timestamp": sent + 0.2, "name": name,
               "hostname": worker}]
    started = sent + 0.2 + rng.expovariate(1.0)
    events.append({"type": "task-started", "uuid": uuid, "timestamp": started,
                   "hostname": worker})
    ending = rng.random()
    runtime = rng.lognormvariate(-1.0, 1.0)
    if ending < 0.15:
        events.append({"type": "task-retried", "uuid": uuid, "timestamp": started + runtime,
                       "exception": "Retry()", "hostname": worker})
        started += runtime + 1
        events.append({"type": "task-started", "uuid": uuid, "timestamp": started,
                       "hostname": worker})
    if ending < 0.7:
        events.append({"type": "task-succeeded", "uuid": uuid, "timestamp": started + runtime,
                       "runtime": runtime, "hostname": worker})
    elif ending < 0.85:
        events.append({"type": "task-failed", "uuid": uuid, "timestamp": started + runtime,
                       "exception": "ValueError('x')", "hostname": worker})
    elif ending < 0.9:
        events.append({"type": "task-revoked", "uuid": uuid, "timestamp": started + 0.1})
    return events  # else: still running


def ingest(store: HistoryStore, events: list[dict], batch: int) -> None:
    """Fold events into rows batch by batch, as the collector's writer does."""
    for first in range(0, len(events), batch):
        chunk = events[first:first + batch]
        rows = store.load_tasks(list({event["uuid"] for event in chunk}))
        stored = {uuid: dict(row) for uuid, row in rows.items()}
        for event in chunk:
            row = rows.setdefault(event["uuid"], new_task_row(event["uuid"]))
            apply_task_event(row, event)
        store.write(list(rows.values()), stored=stored)


def history(store: HistoryStore, tasks: int = 600, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    events = [event for number in range(tasks) for event in lifecycle(rng, number)]
    rng.shuffle(events)  # out of order, a task's events in different batches
    ingest(store, events, batch=97)
    return events


def stored_rollups(store: HistoryStore) -> dict:
    with store.engine.connect() as connection:
        rows = connection.execute(task_rollups.select()).all()
    return {(row.measure, row.dimension, row.span, row.member, row.period):
            (row.tasks, None if row.histogram is None else bytes(row.histogram)) for row in rows}


def rebuilt(store: HistoryStore) -> dict:
    rollups.rebuild(store.engine)
    return stored_rollups(store)


def without_rollups(store: HistoryStore) -> None:
    """Make the store look like one made before the rollups: charts read the rows."""
    with store.engine.begin() as connection:
        connection.execute(store_marks.delete())


def test_writes_replays_and_prunes_keep_the_rollups_equal_to_the_rows(store):
    events = history(store)
    kept = stored_rollups(store)
    assert kept, "the writes kept no rollup"
    assert {key[0] for key in kept} >= {"received", "SUCCESS", "FAILURE", "REVOKED", "retried",
                                        "departed", "runtime", "wait"}
    ingest(store, events[::3], batch=50)  # a replay (a spool, a standby's ring)
    assert stored_rollups(store) == kept
    assert rebuilt(store) == kept
    deleted = store.prune(T0 + SPAN / 2, 10_000)
    assert deleted > 0
    after_prune = stored_rollups(store)
    assert after_prune != kept
    assert rebuilt(store) == after_prune


def test_a_new_store_is_ready_and_an_older_one_is_rebuilt_once(store):
    assert rollups.ready(store.engine)
    history(store, tasks=100)
    kept = stored_rollups(store)
    without_rollups(store)
    with store.engine.begin() as connection:
        connection.execute(task_rollups.delete())
    assert not store.rollups_ready()
    assert store.rebuild_rollups() == 100
    assert store.rollups_ready()
    assert stored_rollups(store) == kept


# A window that starts and ends inside periods, so both edges are read from the rows.
RAGGED = {"range": None, "since": T0 + 137.5, "until": T0 + SPAN - 61.25}


@pytest.mark.parametrize("changes", [
    {"metric": "received"}, {"metric": "succeeded", "group": "name"},
    {"metric": "failed", "group": "worker"}, {"metric": "retried"},
    {"metric": "revoked", "group": "queue"}, {"metric": "failure_ratio", "group": "name"},
    {"metric": "in_flight"}, {"metric": "in_flight", "group": "worker"},
    # hours into the history: those in flight at the start come from the aggregates too
    {"metric": "in_flight", "since": T0 + 3 * 3600 + 137.5},
    {"metric": "in_flight", "group": "queue", "since": T0 + 2 * 3600 + 1800},
    {"metric": "received", "queues": ("bulk",)},
    {"metric": "succeeded", "group": "worker", "workers": ("w1@a", "w3@b")},
    {"metric": "received", "unit": "rate", "bucket": 900},
], ids=str)
def test_long_window_counts_from_the_rollups_equal_the_rows(store, changes):
    history(store)
    spec = SeriesSpec(**RAGGED, bucket=1800).with_changes(**changes)
    start, end = spec.window()
    assert rollup_queries.plan(store.engine, spec, start, end, spec.bucket_seconds()) is not None
    from_rollups = build_series(store.engine, spec).frame
    without_rollups(store)
    from_rows = build_series(store.engine, spec).frame
    assert from_rows.to_numpy().sum() > 0, "the window holds no task"
    np.testing.assert_array_equal(from_rollups.to_numpy(), from_rows.to_numpy())
    assert list(from_rollups.columns) == list(from_rows.columns)


@pytest.mark.parametrize("changes", [
    {"metric": "runtime"}, {"metric": "wait"}, {"metric": "runtime", "group": "name"},
    {"metric": "wait", "group": "queue", "stat": "p99"},
    {"metric": "runtime", "group": "worker", "stat": "max", "top": 1},
], ids=str)
def test_long_window_percentiles_from_the_rollups_are_within_one_percent(store, changes):
    history(store, tasks=1500)
    spec = SeriesSpec(**RAGGED, bucket=3600).with_changes(**changes)
    from_rollups = build_series(store.engine, spec).frame
    without_rollups(store)
    from_rows = build_series(store.engine, spec).frame
    assert list(from_rollups.columns) == list(from_rows.columns)
    exact, approximate = from_rows.to_numpy(), from_rollups.to_numpy()
    assert np.isfinite(exact).sum() > 10
    np.testing.assert_array_equal(np.isnan(exact), np.isnan(approximate))
    np.testing.assert_allclose(approximate, exact, rtol=0.0101, atol=1e-6)


def test_the_heatmap_reads_the_rollups_too(store):
    history(store)
    spec = SeriesSpec(**RAGGED)
    from_rollups = build_heatmap(store.engine, spec, ratio=True, tz=zone("Europe/Paris"))
    without_rollups(store)
    from_rows = build_heatmap(store.engine, spec, ratio=True, tz=zone("Europe/Paris"))
    assert from_rows.notna().to_numpy().sum() > 0
    np.testing.assert_array_equal(from_rollups.to_numpy(), from_rows.to_numpy())


def test_short_buckets_and_state_filters_read_the_rows(store):
    """Where the rollups cannot answer, the chart is the exact one from the rows."""
    history(store)
    for spec in (SeriesSpec(**RAGGED, bucket=60, metric="runtime"),
                 SeriesSpec(**RAGGED, bucket=1800, metric="received", states=("FAILURE",)),
                 SeriesSpec(**RAGGED, bucket=1800, metric="received", group="name",
                            workers=("w1@a",))):
        with_mark = build_series(store.engine, spec).frame
        without_rollups(store)
        np.testing.assert_array_equal(with_mark.to_numpy(),
                                      build_series(store.engine, spec).frame.to_numpy())
        rollups.rebuild(store.engine)


def test_a_sketch_reads_quantiles_within_one_percent():
    rng = np.random.default_rng(3)
    values = rng.lognormal(-1.5, 1.2, 50_000)
    wanted = [0.5, 0.95, 0.99, 1.0]
    halves = Sketch.merged([Sketch.from_values(values[:17]), Sketch.from_values(values[17:])])
    assert len(halves) == len(values)
    np.testing.assert_allclose(halves.quantiles(wanted), np.quantile(values, wanted),
                               rtol=0.01)
    blob = np.concatenate([halves.bins, halves.counts]).astype("<i4").tobytes()
    np.testing.assert_array_equal(Sketch.from_blob(blob).quantiles(wanted),
                                  halves.quantiles(wanted))


def test_zero_and_negative_waits_count_as_zero():
    sketch = Sketch.from_values(np.array([-0.5, 0.0, 2.0, 2.0]))
    assert sketch.quantiles([0.0, 0.25])[0] == 0.0
    assert sketch.quantiles([1.0])[0] == pytest.approx(2.0, rel=0.01)


def test_each_span_divides_every_automatic_bucket_from_its_length_up():
    from celery_scope.series.spec import BUCKETS
    for span in SPANS:
        assert all(bucket % span == 0 for bucket in BUCKETS if bucket >= span)
    assert min(SPANS) == PERIOD


def test_a_window_is_covered_by_long_periods_then_short_ones_then_edges():
    start, end = T0 + 137.5, T0 + 4 * 3600 + 61.25
    found = rollup_queries.cover(start, end, 1800)
    assert [(segment.span, segment.first * segment.span, segment.last * segment.span)
            for segment in found.segments] == [(300, T0 + 300, T0 + 1800),
                                               (1800, T0 + 1800, T0 + 4 * 3600)]
    assert found.edges == ((start, T0 + 300), (T0 + 4 * 3600, end))
    assert rollup_queries.cover(start, end, 600).segments[0].span == 300
    assert rollup_queries.cover(T0 + 10, T0 + 200, 300) is None
    assert rollup_queries.cover(start, end, 60) is None


def sample_history(store: HistoryStore, seed: int = 5) -> None:
    """Three workers sampled every 10 s for the span, some samples without a load."""
    rng = random.Random(seed)
    samples = [{"hostname": worker, "timestamp": T0 + step * 10 + rng.random(),
                "active": rng.randint(0, 8), "processed": step,
                "load1": None if rng.random() < 0.1 else rng.uniform(0, 4)}
               for step in range(int(SPAN / 10)) for worker in WORKERS]
    for first in range(0, len(samples), 500):
        store.write([], [], samples[first:first + 500])


def stored_sample_sums(store: HistoryStore) -> dict:
    with store.engine.connect() as connection:
        rows = connection.execute(worker_sample_rollups.select()).all()
    return {(row.period, row.hostname): (row.active_samples, row.load1_samples,
                                         row.active_sum, row.load1_sum) for row in rows}


def assert_same_sums(found: dict, expected: dict) -> None:
    assert found.keys() == expected.keys()
    for key, (active, loads, active_sum, load_sum) in expected.items():
        assert found[key][:2] == (active, loads)
        assert found[key][2:] == pytest.approx((active_sum, load_sum), rel=1e-9)


@pytest.mark.parametrize("changes", [
    {"metric": "worker_active"}, {"metric": "worker_load"},
    {"metric": "worker_active", "group": "worker"},
    {"metric": "worker_load", "group": "worker", "workers": ("w2@a",)},
], ids=str)
def test_long_window_worker_charts_from_the_sums_equal_the_samples(store, changes):
    sample_history(store)
    spec = SeriesSpec(**RAGGED, bucket=1800).with_changes(**changes)
    start, end = spec.window()
    assert rollup_queries.sample_cover(store.engine, start, end, 1800) is not None
    from_sums = build_series(store.engine, spec).frame
    without_rollups(store)
    from_samples = build_series(store.engine, spec).frame
    assert list(from_sums.columns) == list(from_samples.columns)
    exact = from_samples.to_numpy(dtype=float)  # PostgreSQL's avg() is a numeric
    assert np.isfinite(exact).sum() > 10
    np.testing.assert_allclose(from_sums.to_numpy(dtype=float), exact, rtol=1e-9)


def test_pruning_samples_keeps_their_sums_equal_to_the_samples(store):
    sample_history(store)
    kept = stored_sample_sums(store)
    rollups.rebuild(store.engine)
    assert_same_sums(stored_sample_sums(store), kept)
    store.prune(T0 + SPAN / 3 + 7.5, 1000)  # a cut inside a period
    after = stored_sample_sums(store)
    assert len(after) < len(kept)
    rollups.rebuild(store.engine)
    assert_same_sums(stored_sample_sums(store), after)


def test_pooled_quantiles_equal_each_merged_pools():
    rng = np.random.default_rng(11)
    pools = [[Sketch.from_values(rng.lognormal(mean, 1.0, size)) for size in sizes]
             for mean, sizes in ((-2.0, (5, 40)), (0.5, (1,)), (1.0, (300, 7, 2)))]
    pools.append([Sketch.from_values(np.array([0.0, -1.0, 0.25]))])
    wanted = [0.5, 0.95, 0.99, 1.0]
    together = pooled_quantiles(pools, wanted)
    for pool, found in zip(pools, together):
        np.testing.assert_allclose(found, Sketch.merged(pool).quantiles(wanted), rtol=1e-12)


def test_the_collector_builds_the_rollups_of_an_older_store_before_it_writes(store, tmp_path):
    history(store, tasks=50)
    kept = stored_rollups(store)
    without_rollups(store)
    with store.engine.begin() as connection:
        connection.execute(task_rollups.delete())
    cache = SnapshotCache(str(tmp_path / "cache"))
    try:
        collector = EventCollector(None, store, CollectorStatus(cache, "test://"))
        collector.ingest([message(task("task-received", "task-new", T0 + 10, name="app.send"))])
    finally:
        cache.close()
    assert store.rollups_ready()
    rebuilt_now = stored_rollups(store)
    assert rebuilt(store) == rebuilt_now  # the event went in after the rebuild, once
    received = sum(count for (measure, dimension, span, _member, _period), (count, _) in
                   rebuilt_now.items() if (measure, dimension, span) == ("received", "", PERIOD))
    assert received == 51  # the 50 stored tasks, and the one the collector wrote
    assert {key for key in kept if key[0] == "runtime"} <= rebuilt_now.keys()
