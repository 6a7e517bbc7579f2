"""The HTTP API's routes as the Flask URL map has them, for the tests that must not forget
one: the OpenAPI document's completeness and read-only mode."""
from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dash
import flask

from celery_scope import create_app
from celery_scope.config import resolve

_ARGUMENT = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
IGNORED_METHODS = {"HEAD", "OPTIONS"}
OUTSIDE_API = ("/healthcheck", "/metrics")  # app routes the API document covers too


@contextmanager
def built_app(directory: Path, **options) -> Iterator[flask.Flask]:
    """The real app's Flask server, in this process, with dash's page registry restored after
    (it is global: another app built later would otherwise see these pages twice)."""
    saved = dict(dash.page_registry)
    settings = resolve({"broker": "redis://127.0.0.1:9/0", "store":
                        f"sqlite:///{directory / 'history.db'}",
                        "cache_dir": str(directory / "cache"), **options}, environ={})
    app = create_app(settings)
    try:
        yield app.server
    finally:
        dash.page_registry.clear()
        dash.page_registry.update(saved)


def openapi_path(rule: str, prefix: str = "") -> str:
    """Flask's `/api/x/<path:name>` under the prefix as OpenAPI's `/api/x/{name}`."""
    return _ARGUMENT.sub(r"{\1}", rule.removeprefix(prefix))


def api_routes(server: flask.Flask, prefix: str = "") -> dict[str, set[str]]:
    """{OpenAPI path: methods} of every /api/... route, /healthcheck and /metrics."""
    routes: dict[str, set[str]] = {}
    for rule in server.url_map.iter_rules():
        path = openapi_path(rule.rule, prefix)
        if path.startswith("/api/") or path in OUTSIDE_API:
            routes.setdefault(path, set()).update(set(rule.methods) - IGNORED_METHODS)
    return routes
