"""Dash's own routes read strictly: callback calls and component files.

Dash's dispatcher trusts the body of `_dash-update-component`: a missing key, a string
where a list belongs, or an output no callback has is a traceback in the log and a 500. The
guard reads the body here first: anything but the call of a registered server callback,
with its declared inputs and state in their declared order, is answered 400 before Dash
sees it. The same reading tells the guard, by position and not by a property name anyone
can repeat, which page the pages router is asked to draw.

A component file that is not one of the registered ones is a plain 404, not an exception.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import flask

# The pages router's callback, as Dash registers it (dash.dash._ID_CONTENT and friends).
ROUTER_OUTPUT = ".._pages_content.children..._pages_store.data.."
ROUTER_PATHNAME = {"id": "_pages_location", "property": "pathname"}
_WILDCARDS = (["MATCH"], ["ALL"], ["ALLSMALLER"])


class MalformedCall(ValueError):
    """A body that is not a call of a registered callback; the message says what is wrong."""


@dataclass(frozen=True)
class CallbackCall:
    """A checked call: its output key and its inputs, each where the callback declares it."""
    output: str
    inputs: list
    declared_inputs: list

    @property
    def draws_a_page(self) -> bool:
        """Whether this is the pages router's call (it draws a whole page's layout)."""
        return self.output == ROUTER_OUTPUT

    def input_value(self, declared: Mapping[str, str]) -> Any:
        """The value sent for the declared input `declared` ({"id", "property"})."""
        position = self.declared_inputs.index(dict(declared))
        return self.inputs[position].get("value")


def read_call(data: bytes, callbacks: Mapping[str, dict]) -> CallbackCall:
    """The call a `_dash-update-component` body makes; MalformedCall unless Dash can run it."""
    try:
        body = json.loads(data or b"null")
    except (ValueError, RecursionError):
        raise MalformedCall("the body is not JSON") from None
    if not isinstance(body, dict):
        raise MalformedCall("the body is not a JSON object")
    output = body.get("output")
    spec = callbacks.get(output) if isinstance(output, str) else None
    if not isinstance(output, str) or spec is None or "callback" not in spec:
        raise MalformedCall("no server callback has this output")
    for key in ("inputs", "state"):
        _check_entries(key, body.get(key, []), spec[key])
    _check_outputs(body.get("outputs", []), spec)
    changed = body.get("changedPropIds", [])
    if not isinstance(changed, list) or not all(isinstance(item, str) for item in changed):
        raise MalformedCall("changedPropIds must be a list of strings")
    return CallbackCall(output, body.get("inputs", []), spec["inputs"])


def _check_entries(key: str, sent: Any, declared: list) -> None:
    if not isinstance(sent, list) or len(sent) != len(declared):
        raise MalformedCall(f"{key} must be a list of {len(declared)} entries")
    for position, (entry, expected) in enumerate(zip(sent, declared)):
        if not _entry_matches(entry, expected):
            raise MalformedCall(f"{key}[{position}] is not {expected['id']}.{expected['property']}")


def _entry_matches(entry: Any, expected: Mapping[str, str]) -> bool:
    """Whether `entry` is the declared input: the same id and property; for a pattern id, a
    matching id or (ALL, ALLSMALLER) a list of them."""
    if expected["id"].startswith("{"):
        pattern = json.loads(expected["id"])
        entries = entry if isinstance(entry, list) else [entry]
        return all(isinstance(item, dict) and item.get("property") == expected["property"]
                   and _id_fits(item.get("id"), pattern) for item in entries)
    return (isinstance(entry, dict) and entry.get("id") == expected["id"]
            and entry.get("property") == expected["property"])


def _id_fits(sent: Any, pattern: dict) -> bool:
    if not isinstance(sent, dict) or sent.keys() != pattern.keys():
        return False
    return all(isinstance(sent[key], (str, int, float)) if value in _WILDCARDS
               else sent[key] == value for key, value in pattern.items())


def _check_outputs(outputs: Any, spec: Mapping[str, Any]) -> None:
    """As many outputs as the callback declares, each an {id, property} (or a list of them
    for a pattern output); Dash indexes into them without looking."""
    if spec.get("no_output"):
        return
    declared = spec["output"]
    if isinstance(declared, list):
        if not isinstance(outputs, list) or len(outputs) != len(declared):
            raise MalformedCall(f"outputs must be a list of {len(declared)} entries")
        parts = outputs
    else:
        parts = [outputs]
    for part in parts:
        leaves = part if isinstance(part, list) else [part]
        if not all(isinstance(leaf, dict) and isinstance(leaf.get("id"), (str, dict))
                   and isinstance(leaf.get("property"), str) for leaf in leaves):
            raise MalformedCall("each output must be an object with an id and a property")


def draws_page(call: CallbackCall, paths: tuple[str, ...]) -> bool:
    """Whether `call` is the pages router drawing one of `paths`, read from the pathname
    input at its declared position."""
    return call.draws_a_page and call.input_value(ROUTER_PATHNAME) in paths


def install(server: flask.Flask) -> None:
    """Answer a request for an unregistered component file 404, quietly."""
    from dash.exceptions import DependencyException

    @server.errorhandler(DependencyException)
    def _unknown_component_file(_error):
        return flask.Response("no such component file", status=404, mimetype="text/plain")
