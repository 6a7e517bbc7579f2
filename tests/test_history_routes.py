"""The task grid's row requests and Flower's /api/tasks, through a real celery-scope
process, on SQLite and PostgreSQL: every page, deep or sorted, is the slice of the one
sorted list it stands for, and both paths agree."""
import time

import pytest
import requests
from sqlalchemy import select

from celery_scope.store.history import HistoryStore
from celery_scope.store.merge import new_task_row
from celery_scope.store.schema import tasks
from celery_scope.tasks import queries as task_queries
from celery_scope.tasks.filters import parse_filter

pytestmark = pytest.mark.integration

T0 = time.time() - 3600  # within retention: the collector keeps these rows
NAMES = ("reports.build", "mail.send", "billing.charge")


def stored_task(number: int) -> dict:
    """Many equal names, workers, runtimes and received times: the order rests on every
    tiebreak of the sort."""
    row = new_task_row(f"task-{number:04d}")
    failed = number % 5 == 0
    row.update(name=NAMES[number % 3], worker=f"w{number % 4}@host", queue="celery",
               state="FAILURE" if failed else "SUCCESS", received=T0 + number // 6,
               started=T0 + number // 6 + 0.5, runtime=float(number % 7),
               timestamp=T0 + number // 6 + 1, args=f"({number},)", kwargs="{}")
    return row


@pytest.fixture
def history(redis_server, scope, store_url):
    store = HistoryStore(store_url)
    store.write([stored_task(number) for number in range(300)])
    dashboard = scope(redis_server.url, store=store_url)
    yield store, dashboard
    store.close()


def whole_order(store: HistoryStore, params: dict) -> list[str]:
    task_filter = parse_filter(params)
    query = task_queries.ordered(select(tasks.c.uuid).where(
        task_queries.where_clause(task_filter)), task_filter)
    with store.engine.connect() as connection:
        return [uuid for (uuid,) in connection.execute(query)]


def grid_block(url: str, start: int, end: int, sort: str) -> list[dict]:
    """The rows the task grid gets for a block request sorted by its header, as the
    browser asks for them."""
    model = [{"colId": sort.lstrip("-"), "sort": "desc" if sort.startswith("-") else "asc"}]
    body = {"output": "tasks-grid.getRowsResponse",
            "outputs": {"id": "tasks-grid", "property": "getRowsResponse"},
            "inputs": [{"id": "tasks-grid", "property": "getRowsRequest",
                        "value": {"startRow": start, "endRow": end, "sortModel": model}}],
            "state": [{"id": "tasks-filter", "property": "data", "value": {}}],
            "changedPropIds": ["tasks-grid.getRowsRequest"]}
    answer = requests.post(url + "/_dash-update-component", json=body, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()["response"]["tasks-grid"]["getRowsResponse"]["rowData"]


@pytest.mark.parametrize("sort", ["-received", "name", "-runtime", "worker", "state"])
def test_api_pages_and_grid_blocks_are_slices_of_one_order(history, sort):
    store, dashboard = history
    whole = whole_order(store, {"sort": sort})
    assert len(whole) == 300
    for offset, limit in ((0, 100), (100, 100), (250, 100), (7, 13)):
        answer = requests.get(f"{dashboard.url}/api/tasks", timeout=30, params={
            "sort_by": sort, "offset": offset, "limit": limit})
        assert answer.status_code == 200, answer.text
        assert list(answer.json()) == whole[offset:offset + limit], (offset, limit)
        rows = grid_block(dashboard.url, offset, offset + limit, sort)
        assert [row["uuid"] for row in rows] == whole[offset:offset + limit], (offset, limit)


def test_a_list_of_states_asked_one_query_each_merges_into_the_same_pages(history):
    store, dashboard = history
    whole = whole_order(store, {"state": "SUCCESS,FAILURE"})
    assert len(whole) == 300
    paged = []
    for offset in range(0, 300, 40):
        answer = requests.get(f"{dashboard.url}/api/tasks", timeout=30, params={
            "state": "SUCCESS,FAILURE", "offset": offset, "limit": 40})
        assert answer.status_code == 200, answer.text
        paged += list(answer.json())
    assert paged == whole
    failures = requests.get(f"{dashboard.url}/api/tasks", timeout=30,
                            params={"state": "FAILURE", "limit": 1000}).json()
    assert list(failures) == whole_order(store, {"state": "FAILURE"})
    assert {task["state"] for task in failures.values()} == {"FAILURE"} and len(failures) == 60
