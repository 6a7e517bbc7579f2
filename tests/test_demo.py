"""`celery-scope` with no broker: the built-in demo cluster, end to end, and its clean exit."""
import json
import os
import signal
import time
import urllib.error
import urllib.request

import psutil
import pytest
from celery import states

from celery_scope.collector.demo import DISCARDED, TERMINATED, WORKER_NAMES, settle
from celery_scope.collector.demo_tasks import make_demo_app
from celery_scope.store.history import HistoryStore
from celery_scope.store.merge import new_task_row, new_worker_row
from celery_scope.workers.liveness import is_online

from .helpers import Scope, wait_for

pytestmark = pytest.mark.integration

CTRL_C_SECONDS = 3.0  # the most Ctrl-C may take, on a 2-core machine


def pool_pids(worker: psutil.Process) -> set[int]:
    return {child.pid for child in worker.children()}


def post(scope: Scope, path: str) -> tuple[int, dict]:
    request = urllib.request.Request(scope.url + path, data=b"", method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def task_states(store: HistoryStore) -> dict[str, int]:
    with store.engine.connect() as connection:
        return dict(connection.exec_driver_sql(
            "SELECT state, count(*) FROM tasks GROUP BY state").all())


@pytest.mark.serial  # measures Ctrl-C against the 3 s promise: alone, as a user runs it
def test_demo_cluster_lives_restarts_a_pool_and_stops_at_ctrl_c(tmp_path):
    temp = tmp_path / "tmp"
    temp.mkdir()
    demo = Scope(tmp_path, None, env={"TMPDIR": str(temp)})
    demo.start()
    survivors, worker_pids = [], []
    try:
        store = HistoryStore(demo.store)
        workers = wait_for(store.workers, lambda rows: len(rows) == 2, 30, "two demo workers")
        assert {row["hostname"].split("@")[0] for row in workers} == set(WORKER_NAMES)
        seen = wait_for(lambda: task_states(store),
                        lambda found: found.get("SUCCESS", 0) >= 5 and "FAILURE" in found,
                        60, "successes and failures from the demo generator")
        assert sum(seen.values()) >= 6
        status = demo.status()
        assert status["broker_connected"] and status["broker"] == "the built-in demo cluster"
        assert status["malformed"] == 0
        assert "<title>celery-scope</title>" in demo.get("/")
        entries = {entry["name"]: entry for entry in json.loads(demo.get("/api/beat"))["entries"]}
        assert entries["refresh report"]["schedule_text"] == "every 15 seconds"
        assert entries["minutely sum"]["task"] == "demo.add"  # the demo's own celery beat
        assert f"history kept in {tmp_path / 'history.db'}" in demo.log()

        # "Restart pool" on a demo worker: answered, and its pool processes are replaced
        hostname = workers[0]["hostname"]
        worker = next(child for child in psutil.Process(demo.process.pid).children(recursive=True)
                      if f"{hostname.split('@')[0]}@" in " ".join(child.cmdline())
                      and child.ppid() == demo.process.pid)
        before = pool_pids(worker)
        code, answer = post(demo, f"/api/worker/pool/restart/{hostname}")
        assert code == 200, answer
        assert answer["message"] == f"Restarting '{hostname}' worker's pool"
        wait_for(lambda: pool_pids(worker), lambda pids: len(pids) == 2 and not pids & before,
                 30, "new pool processes after the restart")

        # tasks that cannot finish before Ctrl-C ends: one on each process of each worker
        (state_dir,) = list(temp.glob("celery-scope-demo-*"))
        sender = make_demo_app(state_dir)
        slow_ids = {sender.send_task("demo.slow", args=(30.0,)).id for _ in range(4)}
        sender.close()

        def slow_states():
            return {row["state"] for row in map(store.task, slow_ids) if row}
        wait_for(slow_states, lambda found: states.STARTED in found, 60, "a slow task started")
        worker_pids = [child.pid for child in
                       psutil.Process(demo.process.pid).children(recursive=True)]
        assert len(worker_pids) >= 6  # two workers and their pool processes

        started = time.monotonic()
        os.killpg(demo.process.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
        code = demo.process.wait(timeout=30)
        took = time.monotonic() - started
        print(f"Ctrl-C to exit: {took:.2f} s")
    except Exception:
        print(demo.log())
        raise
    finally:
        demo.stop()
        for pid in worker_pids:  # the test leaves nothing running, pass or fail
            try:
                if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                    survivors.append(pid)
                    psutil.Process(pid).kill()
            except psutil.NoSuchProcess:
                pass
    log = demo.log()
    assert code == 0, log
    assert took < CTRL_C_SECONDS, log
    assert not survivors
    assert not state_dir.exists()
    assert log.index("Stopping the demo workers…") < log.index("Stopped.")

    ended = task_states(store)
    assert set(ended) <= {states.SUCCESS, states.FAILURE, states.REVOKED}, ended
    slow = [store.task(task_id) for task_id in slow_ids]
    assert all(row["state"] == states.REVOKED for row in slow if row)
    assert {row["exception"] for row in slow if row and row["started"]} == {TERMINATED}
    assert {row["exception"] for row in slow if row and not row["started"]} <= {DISCARDED}
    assert {row["status"] for row in store.workers()} == {"offline"}
    store.close()


def test_settle_records_how_unfinished_demo_tasks_ended(tmp_path):
    store = HistoryStore(f"sqlite:///{tmp_path / 'demo.db'}")
    rows = []
    for uuid, name, state, worker in [
            ("running", "demo.slow", states.STARTED, "demo-alpha@h"),
            ("waiting", "demo.add", states.RECEIVED, "demo-beta@h"),
            ("sent", "demo.add", states.PENDING, None),
            ("retrying", "demo.flaky", states.RETRY, "demo-beta@h"),
            ("done", "demo.add", states.SUCCESS, "demo-alpha@h"),
            ("theirs", "proj.task", states.STARTED, "w1@h")]:
        row = new_task_row(uuid)
        row.update(name=name, state=state, worker=worker, timestamp=1.0, received=1.0)
        rows.append(row)
    worker = new_worker_row("demo-alpha@h")
    store.write(rows, [{**worker, "first_seen": 1.0, "last_heartbeat": 1.0}])

    assert settle(store, now=5.0) == 4
    found = {uuid: store.task(uuid) for uuid in
             ("running", "waiting", "sent", "retrying", "done", "theirs")}
    assert {uuid: row["state"] for uuid, row in found.items()} == {
        "running": "REVOKED", "waiting": "REVOKED", "sent": "REVOKED", "retrying": "REVOKED",
        "done": "SUCCESS", "theirs": "STARTED"}
    assert found["running"]["exception"] == TERMINATED and found["running"]["revoked"] == 5.0
    assert {found[uuid]["exception"] for uuid in ("waiting", "sent", "retrying")} == {DISCARDED}
    assert [row["status"] for row in store.workers()] == ["offline"]
    assert settle(store, now=6.0) == 0  # nothing left to settle
    store.close()


def test_the_demo_runs_from_a_project_whose_celery_module_is_called_app(tmp_path):
    """A user's app.py in the current folder must not replace celery-scope's own code in
    the demo workers (they once died there, behind a green banner)."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "app.py").write_text("from celery import Celery\n\napp = Celery('proj')\n")
    demo = Scope(tmp_path, None, env={"TMPDIR": str(tmp_path)}, cwd=project)
    demo.start()
    try:
        store = HistoryStore(demo.store)
        now = time.time()
        workers = wait_for(store.workers, lambda rows: len(
            [row for row in rows if is_online(row, time.time())]) == 2, 60,
            "two online demo workers")
        assert {row["hostname"].split("@")[0] for row in workers} == set(WORKER_NAMES)
        assert all(row["last_heartbeat"] >= now - 60 for row in workers)
        assert not demo.status().get("demo_error")
        store.close()
    finally:
        demo.stop(signum=signal.SIGINT)
