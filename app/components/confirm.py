"""One styled confirmation dialog for every action that changes the cluster: it names the
action and each target, and nothing runs until its button is pressed.

A page makes one `ConfirmModal(prefix)` at import time and puts `.layout()` in its layout.
A callback that wants confirmation returns `modal.ask(...)` into `modal.ask_outputs()`,
putting what to run in `modal.pending`; the page's action callback listens to
`Input(modal.ok, "n_clicks")` with `State(modal.pending, "data")`."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dash import Input, Output, clientside_callback, dcc, html

MAX_NAMED = 20  # targets listed by name; the rest are counted


class ConfirmModal:
    def __init__(self, prefix: str) -> None:
        self.dialog, self.title, self.body = (f"{prefix}-confirm", f"{prefix}-confirm-title",
                                              f"{prefix}-confirm-body")
        self.ok, self.cancel, self.pending = (f"{prefix}-confirm-ok", f"{prefix}-confirm-cancel",
                                              f"{prefix}-confirm-pending")
        # Either button closes the dialog in the browser; the page runs the action on ok.
        clientside_callback(
            "function () { return true; }",
            Output(self.dialog, "hidden", allow_duplicate=True),
            Input(self.ok, "n_clicks"), Input(self.cancel, "n_clicks"),
            prevent_initial_call=True,
        )
        self._aria: dict[str, Any] = {"aria-modal": "true", "aria-labelledby": self.title}

    def layout(self) -> html.Div:
        box = html.Div([
            html.H2(id=self.title, className="modal-title"),
            html.Div(id=self.body, className="modal-body"),
            html.Div([html.Button("Cancel", id=self.cancel, className="button", n_clicks=0),
                      html.Button("Confirm", id=self.ok, className="button primary",
                                  n_clicks=0)],
                     className="modal-actions"),
        ], className="modal", role="dialog", **self._aria)
        return html.Div([box, dcc.Store(id=self.pending)], id=self.dialog, hidden=True,
                        className="modal-backdrop")

    def ask_outputs(self) -> list[Output]:
        """The outputs `ask` fills, in its order (the pending action comes last)."""
        return [Output(self.dialog, "hidden"), Output(self.title, "children"),
                Output(self.body, "children"), Output(self.ok, "children"),
                Output(self.ok, "className"), Output(self.pending, "data")]

    @staticmethod
    def ask(verb: str, targets: Sequence[str], pending: dict, *, danger: bool = False,
            detail: str | None = None, noun: str = "worker") -> tuple:
        """`verb` is the action's name ("Shut down"); targets are shown as text."""
        names = [str(target) for target in targets]
        plural = noun if len(names) == 1 else f"{noun}s"
        items = [html.Li(name, className="modal-target") for name in names[:MAX_NAMED]]
        if len(names) > MAX_NAMED:
            items.append(html.Li(f"and {len(names) - MAX_NAMED:,} more", className="muted"))
        body = [html.P(f"{verb} {len(names):,} {plural}:" if len(names) != 1
                       else f"{verb} this {noun}:"),
                html.Ul(items, className="modal-targets")]
        if detail:
            body.append(html.P(detail, className="modal-detail"))
        return (False, f"{verb}?", body, verb,
                "button danger" if danger else "button primary", pending)
