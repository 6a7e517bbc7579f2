"""The search box's language: text → terms (pure), and terms → the tasks they find in a real
SQLite store, through the same filter the grid, the CSV export and /api/tasks use."""
import time

import pytest

from celery_scope.query_string import FilterError
from celery_scope.store.history import HistoryStore
from celery_scope.store.merge import new_task_row
from celery_scope.tasks import queries as task_queries
from celery_scope.tasks.filters import parse_filter
from celery_scope.tasks.search_terms import SearchError, SearchTerms, drop_key, parse_search

NOW = 2_000_000.0


@pytest.mark.parametrize("text, expected", [
    pytest.param("", SearchTerms(), id="empty"),
    pytest.param("  ", SearchTerms(), id="blank"),
    pytest.param("state:FAILURE name:app.tasks.charge worker:w1@host",
                 SearchTerms(states=("FAILURE",), names=("app.tasks.charge",),
                             workers=("w1@host",)), id="flower-keys"),
    pytest.param("state:failure,retry state:RETRY", SearchTerms(states=("FAILURE", "RETRY")),
                 id="states-listed-repeated-any-case"),
    pytest.param('3f2a "two words" x', SearchTerms(words=("3f2a", "two words", "x")),
                 id="free-text-and-quoted"),
    pytest.param('result:"it worked" args:42 args:\'x\'',
                 SearchTerms(results=("it worked",), args=("42", "'x'")), id="result-args"),
    pytest.param("kwargs:user_id=42 kwargs:note=\"a b\"",
                 SearchTerms(kwargs=(("user_id", "42"), ("note", "a b"))), id="kwargs"),
    pytest.param("queue:reports name:\"odd name\"",
                 SearchTerms(queues=("reports",), names=("odd name",)), id="queue-quoted-name"),
    pytest.param('"colour:red" Error:boom', SearchTerms(words=("colour:red", "Error:boom")),
                 id="colons-in-text"),
    pytest.param(r'"say \"hi\""', SearchTerms(words=('say "hi"',)), id="escaped-quote"),
])
def test_search_text_reads_as_terms(text, expected):
    assert parse_search(text) == expected


@pytest.mark.parametrize("text, message", [
    pytest.param("state:", "state: needs a value, e.g. state:FAILURE", id="empty-state"),
    pytest.param("name:a,,b", "name: needs a value", id="empty-list-item"),
    pytest.param('state:"no good"', "state: 'NO GOOD' is not a task state", id="bad-state"),
    pytest.param("colour:red", "colour: is not a search term; use state:, name:", id="unknown"),
    pytest.param("kwargs:user_id", "kwargs: write kwargs:name=value", id="kwargs-no-equals"),
    pytest.param("kwargs:=3", "kwargs: write kwargs:name=value", id="kwargs-no-name"),
    pytest.param('name:"open', 'a quote (") is not closed', id="open-quote"),
])
def test_bad_terms_say_what_is_wrong(text, message):
    with pytest.raises(SearchError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_search(text)
    with pytest.raises(FilterError, match="^search: "):
        parse_filter({"search": text})


def test_dropping_a_key_keeps_the_other_terms():
    assert drop_key('state:FAILURE "a b" name:x state:RETRY', "state") == '"a b" name:x'
    assert drop_key('broken "quote', "state") == 'broken "quote'


def row(uuid, **fields):
    base = new_task_row(uuid)
    base.update(state="SUCCESS", timestamp=NOW, name="app.tasks.charge", worker="w1@host",
                queue="celery", received=NOW - 60, args="(1,)", kwargs="{}", result="None")
    base.update(fields)
    return base


ROWS = [
    row("aaaa1111-0000", kwargs="{'user_id': 42, 'note': 'a b'}", result="'paid 42'"),
    row("aaaa2222-0000", state="FAILURE", kwargs="{'user_id': 420}", exception="Declined()",
        received=NOW - 50),
    row("bbbb3333-0000", state="FAILURE", name="app.tasks.refund", worker="w2@host",
        args="('x y', 7)", kwargs='{"user_id": "42"}', received=NOW - 40),
    row("cccc4444-0000", state="RETRY", queue=None, routing_key="reports", received=NOW - 30),
]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    instance = HistoryStore(f"sqlite:///{tmp_path_factory.mktemp('search') / 'h.db'}")
    instance.write(ROWS)
    yield instance
    instance.close()


def found(store, **params):
    task_filter = parse_filter(params, now=NOW)
    rows = task_queries.page(store.engine, task_filter, 0, 100, now=NOW)
    assert task_queries.count(store.engine, task_filter, now=NOW) == len(rows)
    return sorted(row["uuid"][:8] for row in rows)


@pytest.mark.parametrize("search, expected", [
    pytest.param("state:FAILURE", ["aaaa2222", "bbbb3333"], id="state"),
    pytest.param("state:FAILURE name:app.tasks.charge", ["aaaa2222"], id="state-and-name"),
    pytest.param("state:FAILURE,RETRY worker:w1@host", ["aaaa2222", "cccc4444"],
                 id="states-and-worker"),
    pytest.param("name:app.tasks", [], id="name-is-exact"),
    pytest.param("aaaa", ["aaaa1111", "aaaa2222"], id="id-prefix"),
    pytest.param("bbbb3333-0000", ["bbbb3333"], id="whole-id"),
    pytest.param("bbbb Declined", [], id="words-each-must-match"),
    pytest.param("aaaa Declined", ["aaaa2222"], id="words-all-must-match"),
    pytest.param("refund", ["bbbb3333"], id="word-in-name"),
    pytest.param("queue:reports", ["cccc4444"], id="queue-by-routing-key"),
    pytest.param("result:paid", ["aaaa1111"], id="result"),
    pytest.param('args:"x y"', ["bbbb3333"], id="args-quoted"),
    pytest.param("kwargs:user_id=42", ["aaaa1111", "bbbb3333"], id="kwargs-exact-value"),
    pytest.param("kwargs:note=\"a b\"", ["aaaa1111"], id="kwargs-quoted-value"),
    pytest.param("kwargs:user_id=4", [], id="kwargs-not-a-prefix"),
    pytest.param("100%", [], id="like-wildcards-are-literal"),
])
def test_terms_find_their_tasks(store, search, expected):
    assert found(store, search=search) == expected


def test_search_states_narrow_the_state_parameter(store):
    assert found(store, state="FAILURE,RETRY", search="state:RETRY") == ["cccc4444"]
    assert found(store, state="SUCCESS", search="state:FAILURE") == []


@pytest.mark.integration
def test_the_api_reads_the_same_terms(redis_server, scope):
    import json
    import urllib.error
    import urllib.parse
    import urllib.request

    dashboard = scope(redis_server.url, "--no-enable-events")
    writer = HistoryStore(dashboard.store)
    # received a minute ago, well inside the retention the collector prunes by (a time
    # years back was deleted under the test whenever the pruner ran in between)
    writer.write([{**task, "received": task["received"] - NOW + time.time() - 60}
                  for task in ROWS])
    writer.close()

    def get(search):
        url = f"{dashboard.url}/api/tasks?" + urllib.parse.urlencode({"search": search})
        with urllib.request.urlopen(url, timeout=30) as response:
            return sorted(uuid[:8] for uuid in json.loads(response.read()))

    assert get("state:FAILURE name:app.tasks.charge") == ["aaaa2222"]
    assert get("kwargs:user_id=42") == ["aaaa1111", "bbbb3333"]
    assert get("bbbb") == ["bbbb3333"]
    with pytest.raises(urllib.error.HTTPError) as raised:
        get("state:")
    assert raised.value.code == 400
    assert "search: state: needs a value" in json.loads(raised.value.read())["error"]
