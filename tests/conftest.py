import shutil

import pytest
from playwright.sync_api import sync_playwright

from .helpers import (
    RABBITMQ_BIN,
    RabbitServer,
    RedisServer,
    Scope,
    start_worker,
    stop_process,
    wait_until,
)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "browser" in item.keywords and not shutil.which("chromium"):
            item.add_marker(pytest.mark.skip(reason="Debian chromium is not installed"))


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
def workers(redis_server, tmp_path):
    """Start real `celery worker -E` processes by name; all stopped at teardown."""
    started = []

    def start(*names, **options):
        for name in names:
            started.append(start_worker(redis_server.url, name, tmp_path, **options))
        return started

    yield start
    for process in started:
        stop_process(process)


@pytest.fixture
def scope(tmp_path):
    """Start `celery-scope` processes (each with its own port, store, cache); stopped at
    teardown."""
    started = []

    def start(broker, *extra, directory=None, **options):
        instance = Scope(directory or tmp_path, broker, *extra, **options).start()
        started.append(instance)
        if broker:  # events published before the subscription is confirmed are not seen
            try:
                wait_until(lambda: instance.status().get("broker_connected"), 20,
                           "the collector's confirmed subscription")
            except AssertionError as missing:  # say what the process was doing meanwhile
                raise AssertionError(f"{missing}; status {instance.status()}; log ends:\n"
                                     f"{instance.log()[-3000:]}") from None
        return instance

    yield start
    for instance in started:
        instance.stop()


@pytest.fixture
def cluster_app(redis_server):
    """A client Celery app for sending tasks to the test workers."""
    from celery import Celery
    app = Celery("client", broker=redis_server.url, set_as_current=False)
    app.conf.task_send_sent_event = True
    app.conf.result_backend = redis_server.url
    yield app
    app.close()


CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run"]


@pytest.fixture
def page():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                             args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        tab = context.new_page()
        tab.problems = []
        tab.on("console",
               lambda message: message.type == "error" and tab.problems.append(message.text))
        tab.on("pageerror", lambda error: tab.problems.append(str(error)))
        yield tab
        browser.close()


@pytest.fixture(scope="module")
def rabbitmq(tmp_path_factory):
    """A private RabbitMQ node for the module's tests; skipped where it is not installed."""
    if not (RABBITMQ_BIN / "rabbitmq-server").exists():
        pytest.skip("Debian rabbitmq-server is not installed")
    server = RabbitServer(tmp_path_factory.mktemp("rabbitmq"))
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres():
    """One private PostgreSQL server for the session; each test asks it for a database."""
    from .helpers import POSTGRES_BIN, PostgresServer
    if not (POSTGRES_BIN / "initdb").exists():
        pytest.fail("Debian postgresql is not installed (tests/run installs it)")
    server = PostgresServer().start()
    yield server
    server.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    """A fresh, empty store URL on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'history.db'}"
    server = request.getfixturevalue("postgres")
    return server.create_database(f"t{abs(hash(request.node.nodeid)) % 10**12}")
