"""The design system's pure parts: what the confirmation dialog says, toasts, which navbar
link is current, and the guards on tones."""
import pytest
from dash import html

from celery_scope.components.card import stat_card
from celery_scope.components.confirm import MAX_NAMED, ConfirmModal
from celery_scope.components.navbar import current_section
from celery_scope.components.pill import status_pill
from celery_scope.components.toast import toast

PAGES = ["/", "/tasks", "/explore", "/broker"]


def texts(component) -> list[str]:
    """Every string in a component tree, in order."""
    if isinstance(component, str):
        return [component]
    if isinstance(component, (list, tuple)):
        return [text for child in component for text in texts(child)]
    children = getattr(component, "children", None)
    return texts(children) if children is not None else []


def test_the_dialog_names_each_target_and_counts_the_rest():
    modal = ConfirmModal("unit")
    targets = [f"w{n}@host" for n in range(MAX_NAMED + 5)]
    hidden, title, body, verb, button_class, pending = modal.ask(
        "Shut down", targets, {"action": "shutdown"}, danger=True)
    assert hidden is False and title == "Shut down?" and verb == "Shut down"
    shown = texts(body)
    assert f"Shut down {MAX_NAMED + 5} workers:" in shown
    assert shown.count("w0@host") == 1 and f"w{MAX_NAMED - 1}@host" in shown
    assert f"w{MAX_NAMED}@host" not in shown and "and 5 more" in shown
    assert button_class == "button danger" and pending == {"action": "shutdown"}
    assert len(modal.ask_outputs()) == 6


def test_one_target_is_named_in_the_singular():
    _, _, body, _, button_class, _ = ConfirmModal.ask("Revoke", ["abc"], {}, noun="task")
    assert texts(body)[:2] == ["Revoke this task:", "abc"]
    assert button_class == "button primary"


def test_names_stay_text_in_the_dialog():
    _, _, body, _, _, _ = ConfirmModal.ask("Shut down", ["<img src=x onerror=alert(1)>"], {})
    items = body[1].children
    assert isinstance(items[0], html.Li) and items[0].children == "<img src=x onerror=alert(1)>"


def test_toasts_are_text_with_a_tone_and_a_unique_key():
    first, second = toast("Pool grew by 1 on w1"), toast(123, "error")
    assert first["text"] == "Pool grew by 1 on w1" and first["tone"] == "ok"
    assert second["text"] == "123" and second["tone"] == "error"
    assert first["key"] != second["key"]
    with pytest.raises(ValueError):
        toast("x", "warning")


@pytest.mark.parametrize("path, prefix, expected", [
    ("/", "/", "/"),
    ("/tasks", "/", "/tasks"),
    ("/tasks/0f3c-uuid", "/", "/tasks"),  # a task's page belongs to the task list
    ("/workers/w1@host", "/", "/"),  # workers are listed on the dashboard
    ("/explore/", "/", "/explore"),
    ("/scope/broker", "/scope/", "/broker"),
    ("/scope/", "/scope/", "/"),
    ("/nowhere", "/", None),
    (None, "/", "/"),
])
def test_the_current_page_is_the_section_a_path_belongs_to(path, prefix, expected):
    assert current_section(path, prefix, PAGES) == expected


def test_tones_are_checked_and_states_have_their_colour():
    assert stat_card("3", "Workers", tone="good").className == "stat-card tone-good"
    with pytest.raises(ValueError):
        stat_card("3", "Workers", tone="green")
    assert status_pill("FAILURE").className == "pill tone-bad"
    assert status_pill("something new").className == "pill tone-neutral"
    assert status_pill("late", "warn").className == "pill tone-warn"
