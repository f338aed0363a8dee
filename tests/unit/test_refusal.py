"""`Refusal`: how a page handler shows a service's refusal in its form (rxapp/state.py)."""

from __future__ import annotations

import pytest

from rxapp.services.errors import ConflictError, NotFoundError, ValidationError
from rxapp.state import Refusal


class _Form:
    """Stands in for a dialog's state: the vars Reflex declares are listed in `base_vars`."""

    base_vars: dict = {"error": None, "error_field": None}  # noqa: RUF012

    def __init__(self) -> None:
        self.error = self.error_field = ""


class _Dialog:
    base_vars: dict = {"error": None}  # noqa: RUF012

    def __init__(self) -> None:
        self.error = ""


def test_a_refusal_ends_the_block_and_lands_in_the_form_with_its_code_and_field() -> None:
    form, reached = _Form(), []
    with Refusal(form) as refused:
        raise ValidationError("Enter a name.", field="name", code="NAME_EMPTY")
        reached.append(True)  # never runs
    assert not reached
    assert bool(refused) and (refused.code, refused.field, refused.message) == (
        "NAME_EMPTY",
        "name",
        "Enter a name.",
    )
    assert (form.error, form.error_field) == ("Enter a name.", "name")


def test_no_refusal_is_falsy_and_leaves_the_form_alone() -> None:
    form = _Form()
    form.error = "an earlier refusal"
    with Refusal(form) as refused:
        pass
    assert not refused and refused.code == ""
    assert form.error == "an earlier refusal"


def test_a_state_without_an_error_field_gets_the_message_only() -> None:
    dialog = _Dialog()
    with Refusal(dialog) as refused:
        raise ConflictError("Profile in use.", field="profile")
    assert refused.code == "CONFLICT" and dialog.error == "Profile in use."
    assert not hasattr(dialog, "error_field")


def test_the_message_can_go_to_another_var_or_nowhere() -> None:
    form = _Form()
    form.rename_error = ""  # type: ignore[attr-defined]
    with Refusal(form, "rename_error") as refused:
        raise NotFoundError("Workspace not found.")
    assert (form.rename_error, form.error, refused.code) == ("Workspace not found.", "", "NOT_FOUND")  # type: ignore[attr-defined]
    quiet = _Form()
    with Refusal(quiet, message_var="") as refused:
        raise ValidationError("Wrong.", field="current_password")
    assert (refused.message, refused.field) == ("Wrong.", "current_password")
    assert (quiet.error, quiet.error_field) == ("", "")


def test_anything_but_a_service_error_goes_on_up() -> None:
    form = _Form()
    with pytest.raises(RuntimeError), Refusal(form):
        raise RuntimeError("a bug")
    assert form.error == ""
