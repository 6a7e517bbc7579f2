"""The OpenAPI document against the real app's URL map: every route documented, nothing
documented that does not exist, and the document valid OpenAPI 3.0."""
from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate

from celery_scope.api.openapi import PATHS
from celery_scope.services import current
from celery_scope.store.merge import new_worker_row

from .api_routes import IGNORED_METHODS, api_routes, built_app, openapi_path

PREFIX = "/scope"  # served under a prefix, as behind a proxy: the document's paths stay put


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with built_app(tmp_path_factory.mktemp("openapi"), url_prefix=PREFIX) as flask_app:
        yield flask_app


@pytest.fixture(scope="module")
def served(server):
    response = server.test_client().get(f"{PREFIX}/api/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    return response.get_json()


def documented(document) -> dict[str, set[str]]:
    return {path: {method.upper() for method in operations}
            for path, operations in document["paths"].items()}


def test_every_route_is_documented_and_every_documented_path_exists(server, served):
    routes = api_routes(server, PREFIX)
    assert len(routes) >= 25  # the walk does find the API
    missing = {path: methods - documented(served).get(path, set())
               for path, methods in routes.items()}
    assert {path: methods for path, methods in missing.items() if methods} == {}, \
        "routes missing from app/api/openapi.py"
    extra = {path: methods - routes.get(path, set())
             for path, methods in documented(served).items()}
    assert {path: methods for path, methods in extra.items() if methods} == {}, \
        "documented paths or methods that no route serves"


def test_operations_name_their_endpoint_and_path_parameters(server):
    """operationId is the Flask endpoint; the path parameters are the rule's arguments."""
    for rule in server.url_map.iter_rules():
        path = openapi_path(rule.rule, PREFIX)
        for method in rule.methods - IGNORED_METHODS:
            operation = PATHS.get(path, {}).get(method.lower())
            if operation is None:
                continue
            assert operation["operationId"] == rule.endpoint, path
            in_path = {parameter["name"] for parameter in operation.get("parameters", ())
                       if parameter["in"] == "path"}
            assert in_path == set(rule.arguments), path


def test_the_document_is_valid_openapi(served):
    validate(served)
    assert served["openapi"].startswith("3.0.")
    assert served["servers"] == [{"url": PREFIX}]


def test_every_post_documents_the_read_only_refusal_and_json_errors(served):
    for path, operations in served["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            if method == "post":
                assert responses["403"] == {"$ref": "#/components/responses/Forbidden"}, path
            for status, response in responses.items():
                if status not in ("200", "202"):  # 202: a bulk job started (its own shape)
                    assert response["$ref"].startswith("#/components/responses/"), path
    for response in served["components"]["responses"].values():
        assert response["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Error"}


def test_control_before_the_broker_is_known_is_the_documented_503(server):
    """While the collector starts there is no Celery app yet: a worker action is a 503
    (as documented), not a 400 blaming the request."""
    with server.app_context():
        current().store.write([], [new_worker_row("early@test")])
    response = server.test_client().post(f"{PREFIX}/api/worker/pool/grow/early@test")
    assert response.status_code == 503, response.text
    assert "still starting" in response.get_json()["error"]
    assert "503" in PATHS["/api/worker/pool/grow/{workername}"]["post"]["responses"]


def test_with_users_configured_credentials_are_the_documented_401(tmp_path):
    with built_app(tmp_path, basic_auth="admin:secret") as secured:
        client = secured.test_client()
        refused = client.get("/api/tasks")
        assert refused.status_code == 401 and refused.get_json()["error"]
        assert client.get("/api/tasks", auth=("admin", "secret")).status_code == 200
    assert all("401" in operation["responses"] for operations in PATHS.values()
               for operation in operations.values())


def test_the_reference_page_is_served_under_the_prefix_from_the_package(server):
    client = server.test_client()
    page = client.get(f"{PREFIX}/api/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    text = page.get_data(as_text=True)
    assert f'data-document="{PREFIX}/api/openapi.json"' in text
    scripts = re.findall(r'src="([^"]+)"', text)
    assert scripts and all(src.startswith(f"{PREFIX}/api/docs/") for src in scripts)
    for src in scripts:
        served = client.get(src)
        assert served.status_code == 200 and served.mimetype == "text/javascript", src
        assert "max-age=31536000" in served.headers["Cache-Control"]
        served.close()
    version = scripts[0].split("/")[-2]
    assert client.get(f"{PREFIX}/api/docs/{version}/index.html").status_code == 404
    assert client.get(f"{PREFIX}/api/docs/0.0.0/swagger-ui.css").status_code == 404


def test_the_reference_page_is_behind_the_apis_auth(tmp_path):
    with built_app(tmp_path, basic_auth="admin:secret") as secured:
        client = secured.test_client()
        assert client.get("/api/docs").status_code == 401
        assert client.get("/api/docs", auth=("admin", "secret")).status_code == 200
