"""Queue samples (depth and latency) in the history store, on each backend: writing, reading
raw and per bucket, pruning."""
import pytest
from sqlalchemy import inspect

from celery_scope.store.history import HistoryStore


@pytest.fixture
def store(store_url):
    instance = HistoryStore(store_url)
    yield instance
    instance.close()


def sample(queue, timestamp, messages, latency=None):
    return {"queue": queue, "timestamp": timestamp, "messages": messages,
            "latency_seconds": latency}


SAMPLES = [sample("a", 100.0, 1), sample("a", 110.0, 5), sample("a", 120.0, None),
           sample("a", 130.0, 2), sample("b", 100.0, 0), sample("b", 125.0, 9),
           sample("c", 50.0, 4)]


def test_the_table_has_its_indexes(store):
    indexes = {index["name"]: index["column_names"]
               for index in inspect(store.engine).get_indexes("queue_samples")}
    assert indexes == {"ix_queue_samples_queue_time": ["queue", "timestamp"],
                       "ix_queue_samples_time": ["timestamp"]}


def test_raw_samples_by_queue_then_time_within_the_range(store):
    store.write_queue_samples(SAMPLES)
    store.write_queue_samples([])
    assert store.queue_samples(None, 100.0, 130.0) == [
        sample("a", 100.0, 1), sample("a", 110.0, 5), sample("a", 120.0, None),
        sample("b", 100.0, 0), sample("b", 125.0, 9)]
    assert store.queue_samples(["b", "c"], 0.0) == [
        sample("b", 100.0, 0), sample("b", 125.0, 9), sample("c", 50.0, 4)]
    assert store.queue_samples([], 0.0) == []


@pytest.mark.parametrize("since, expected", [
    pytest.param(0.0, [sample("a", 100.0, 5), sample("a", 120.0, 2), sample("b", 100.0, 0),
                       sample("b", 120.0, 9), sample("c", 40.0, 4)], id="peak per 20 s"),
    pytest.param(115.0, [sample("a", 120.0, 2), sample("b", 120.0, 9)],
                 id="unknown depth ignored beside a known one"),
])
def test_bucketed_samples_take_each_buckets_peak(store, since, expected):
    store.write_queue_samples(SAMPLES)
    assert store.queue_samples(None, since, bucket_seconds=20) == expected


def test_bucketed_samples_take_each_buckets_longest_wait(store):
    store.write_queue_samples([sample("a", 100.0, 3, 4.5), sample("a", 105.0, 3, 9.25),
                               sample("a", 125.0, 0, None)])
    assert store.queue_samples(["a"], 0.0, bucket_seconds=20) == [
        sample("a", 100.0, 3, 9.25), sample("a", 120.0, 0, None)]


def test_a_bucket_with_only_unknown_depths_stays_unknown(store):
    store.write_queue_samples([sample("a", 100.0, None), sample("a", 105.0, None)])
    assert store.queue_samples(["a"], 0.0, bucket_seconds=60) == [sample("a", 60.0, None)]


def test_latest_sample_of_each_queue(store):
    store.write_queue_samples(SAMPLES)
    unknown_latency = {"latency_seconds": None, "latency_source": None, "priorities": None}
    assert store.latest_queue_samples(60.0) == [{**sample("a", 130.0, 2), **unknown_latency},
                                                {**sample("b", 125.0, 9), **unknown_latency}]


def test_prune_drops_old_queue_samples_with_the_old_tasks(store):
    store.write_queue_samples(SAMPLES)
    store.prune(received_before=110.0, batch=100)
    assert [(row["queue"], row["timestamp"]) for row in store.queue_samples(None, 0.0)] == [
        ("a", 110.0), ("a", 120.0), ("a", 130.0), ("b", 125.0)]
