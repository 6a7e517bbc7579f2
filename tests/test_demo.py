"""`celery-scope` with no broker: the built-in demo cluster, end to end, and its clean exit."""
import signal

import psutil
import pytest

from app.store.history import HistoryStore

from .helpers import Scope, wait_for

pytestmark = pytest.mark.integration


def test_demo_cluster_shows_live_data_and_cleans_up(tmp_path):
    temp = tmp_path / "tmp"
    temp.mkdir()
    demo = Scope(tmp_path, None, env={"TMPDIR": str(temp)})
    demo.start()
    try:
        store = HistoryStore(demo.store)
        workers = wait_for(store.workers, lambda rows: len(rows) == 2, 30, "two demo workers")
        assert {row["hostname"].split("@")[0] for row in workers} == {"demo-alpha", "demo-beta"}

        def states():
            with store.engine.connect() as connection:
                return dict(connection.exec_driver_sql(
                    "SELECT state, count(*) FROM tasks GROUP BY state").all())
        seen = wait_for(states, lambda found: found.get("SUCCESS", 0) >= 5 and "FAILURE" in found,
                        60, "successes and failures from the demo generator")
        assert sum(seen.values()) >= 6
        status = demo.status()
        assert status["broker_connected"] and status["broker"] == "the built-in demo cluster"
        assert status["malformed"] == 0
        assert "<title>celery-scope</title>" in demo.get("/")
        (state_dir,) = list(temp.glob("celery-scope-demo-*"))
        children = psutil.Process(demo.process.pid).children(recursive=True)
        worker_pids = [child.pid for child in children]
        store.close()
    except Exception:
        print(demo.log())
        raise
    finally:
        # what Ctrl-C sends; the workers' grace period plus the collector's joins can take
        # over 15 s on a loaded machine
        code = demo.stop(signum=signal.SIGINT, timeout=40)
    # worker processes live in sessions of their own: make sure none outlived the demo
    survivors = []
    for pid in worker_pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                survivors.append(pid)
                psutil.Process(pid).kill()  # the test leaves nothing running, pass or fail
        except psutil.NoSuchProcess:
            pass
    assert code == 0, demo.log()
    assert not state_dir.exists()
    assert not survivors
    assert "demo: stopped workers" in demo.log()
