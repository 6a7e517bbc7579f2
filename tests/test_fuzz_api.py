"""Property-based fuzz of the HTTP API from its own OpenAPI document (schemathesis): valid
and invalid parameters and bodies against a real `celery -A cluster_tasks scope` with a real
worker on a real redis-server. No answer may be a 5xx other than 503 (broker or backend
unreachable, as documented), and every status, content type and JSON body must be the one
the document promises.

The dashboard runs with its actions enabled, so the fuzz reaches the validation of every
POST route, and the worker shutdown route is left out so the worker lives through it. The
other actions cannot harm the worker: the fuzz invents worker and task names, which the
routes refuse (404) before anything is sent, and the tasks `send-task` sends by an invented
name are discarded by the worker as unregistered. To keep the run short, waits the client
chooses (`timeout`) are capped and workers get 0.1 s to reply (revoke waits that long).
The examples are derandomized, so a run in CI repeats the last one; raise `max_examples` (or
drop `derandomize`) locally to dig further.
"""
from __future__ import annotations

import sys

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from .helpers import RedisServer, Scope, start_worker, stop_process, wait_until

pytestmark = pytest.mark.integration

WORKER = "fuzz@test"
MAX_WAIT = 0.2  # seconds: the longest `timeout` a fuzzed request may ask the server to wait


@pytest.fixture(scope="module")
def scope(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    worker = start_worker(server.url, WORKER, tmp_path_factory.mktemp("worker"))
    instance = Scope(tmp_path_factory.mktemp("scope"), None, "--inspect-timeout", "0.1",
                     command=(sys.executable, "-m", "celery", "-A", "cluster_tasks", "scope"),
                     env={"SCOPE_TEST_BROKER": server.url})
    try:
        instance.start()
        yield instance
    finally:
        instance.stop()
        stop_process(worker)
        server.stop()


@pytest.fixture(scope="module")
def api_schema(scope):
    return schemathesis.openapi.from_url(scope.url + "/api/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


def no_server_error_but_503(ctx, response, case):
    """5xx is a bug, except 503: the broker or backend cannot be reached (documented)."""
    if response.status_code >= 500 and response.status_code != 503:
        raise AssertionError(f"{response.status_code} from {case.method} {case.formatted_path}"
                             f": {response.text[:500]}")


CHECKS = [no_server_error_but_503, status_code_conformance, content_type_conformance,
          response_schema_conformance]


@schema.exclude(operation_id="api.worker_shutdown").parametrize()
@settings(max_examples=10, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_the_api_holds_to_its_document(case, scope):
    query = case.query or {}
    if isinstance(query.get("timeout"), (int, float)) and query["timeout"] > MAX_WAIT:
        query["timeout"] = MAX_WAIT
    case.call_and_validate(base_url=scope.url, checks=CHECKS, timeout=30)


def test_the_worker_lived_through_it(scope):
    """Runs after the fuzz: the excluded shutdown route and the invented names kept the
    worker alive (its heartbeats still mark it online)."""
    wait_until(lambda: requests.get(scope.url + "/api/workers", params={"status": 1},
                                    timeout=10).json().get(WORKER), 20, "the worker online")
