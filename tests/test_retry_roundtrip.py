"""The round-trip rule for args/kwargs texts, against Celery's own saferepr, and the job
runner's rate bound, progress and cancel over a real store."""
from __future__ import annotations

import time
from datetime import datetime
from decimal import Decimal
from uuid import UUID

import pytest
from celery.utils.saferepr import saferepr

from celery_scope.bulk import jobs
from celery_scope.bulk.roundtrip import call_of, check_repr, refusal
from celery_scope.store.history import HistoryStore


def celery_repr(value) -> str:
    """What a Celery 5 client puts in the message's argsrepr (task_repr_maxlevels = 3)."""
    return saferepr(value, 1024, maxlevels=3)


@pytest.mark.parametrize("args", [
    pytest.param((), id="none"),
    pytest.param((1, "two", 3.5, None, True), id="scalars"),
    pytest.param(([1, 2], {"k": (3,)}), id="nested twice"),
    pytest.param(("both ' and \"",), id="both quotes"),
    pytest.param(("é ü 漢字",), id="unicode"),
    pytest.param((-7, 1e-05, 10**18), id="numbers"),
])
def test_reprs_that_round_trip_are_accepted(args):
    text = celery_repr(args)
    assert refusal(text, "{}") is None
    assert call_of(text, "{}") == (tuple(args), {})


@pytest.mark.parametrize("args, words", [
    pytest.param(("x" * 5000,), "ending in '...'", id="a 5,000-character string"),
    pytest.param(({"a": {"b": {"c": {"d": 1}}}},), "cut short", id="a dict four deep"),
    pytest.param(("a\\b",), "backslash", id="a backslash"),
    pytest.param((b"raw",), "bytes", id="bytes"),
    pytest.param((datetime(2026, 1, 2),), "not a Python literal", id="a datetime"),
    pytest.param((Decimal("1.5"),), "not a Python literal", id="a decimal"),
    pytest.param((UUID(int=1),), "not a Python literal", id="a uuid"),
    pytest.param((list(range(600)),), "cut short", id="a long list"),
    pytest.param(("it's",), "backslash", id="an escaped quote"),
])
def test_reprs_that_do_not_round_trip_are_refused_with_the_reason(args, words):
    reason = refusal(celery_repr(args), "{}")
    assert reason is not None and words in reason, reason
    assert call_of(celery_repr(args), "{}") == reason


def test_missing_or_odd_texts_are_refused_never_guessed():
    assert "never recorded" in refusal(None, "{}")
    assert "never recorded" in refusal("()", None)
    assert refusal("(1, 2)", "{'k': 1}") is None
    assert "not a list" in refusal("5", "{}")
    assert "not a mapping" in refusal("()", "{1: 2}")
    assert "identical text" in refusal("(1,2)", "{}")  # not how repr spaces it
    assert "identical text" in refusal("()", "{'a': 1, 'a': 2}")  # a key given twice
    assert not check_repr("(1, 2)").reason


def test_job_sends_at_the_rate_saves_progress_and_stops_on_cancel(tmp_path):
    store = HistoryStore(f"sqlite:///{tmp_path / 'h.db'}")
    sent_at: list[float] = []

    def send(batch):
        sent_at.extend(time.monotonic() for _ in batch)
        return [{"id": item, "new_id": f"new-{item}"} for item in batch], []

    ended = []
    report = jobs.Report()
    job_id = jobs.create(store.engine, "retry", "ada", 400, 400, report)
    thread = jobs.start(store.engine, job_id, [str(n) for n in range(400)], send, 100.0, report,
                        lambda state, done: ended.append((state, done.sent_count)))
    deadline = time.monotonic() + 5
    while (jobs.read(store.engine, job_id) or {}).get("done", 0) < 50:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert jobs.request_cancel(store.engine, job_id)
    thread.join(5)
    job = jobs.read(store.engine, job_id)
    assert job["state"] == "cancelled" and ended == [("cancelled", job["sent_count"])]
    assert 50 <= job["sent_count"] < 400 and job["done"] == job["sent_count"]
    rate = (len(sent_at) - 1) / (sent_at[-1] - sent_at[0])
    assert rate < 130  # at most 100/s, a step's batch apart
    assert not jobs.request_cancel(store.engine, job_id)  # it has ended
    store.close()


def test_the_fast_path_accepts_only_what_repr_renders_back():
    """Texts the regex fast path accepts are exactly repr's; near misses go the slow way."""
    import ast
    import random

    from celery_scope.bulk.roundtrip import _fast_kind
    rng = random.Random(7)
    pieces = ["0", "7", "-12", "012", "-0", "1.5", "None", "True", "'a'", "'it\"s'", "'x...'",
              "'a\\\\b'", "'é'", "''", "'\\x01'"]
    for _ in range(3000):
        items = [rng.choice(pieces) for _ in range(rng.randint(0, 3))]
        sep = rng.choice([", ", ","])
        texts = [f"({sep.join(items)}{',' if len(items) == 1 else ''})", f"[{sep.join(items)}]",
                 "{" + sep.join(f"'{chr(97 + rng.randint(0, 2))}': {item}"
                                for item in items) + "}"]
        for text in texts:
            if _fast_kind(text):
                assert repr(ast.literal_eval(text)) == text
                assert refusal(text if text[0] != "{" else "()",
                               text if text[0] == "{" else "{}") is None
