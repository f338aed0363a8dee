"""Key policy, a section of Workspace settings on the Members page (owners only): maximum and
default lifetime, a required Bias Profile, disabling unused keys; and the existing keys that break
the policy, each a link to its page. The service (services/key_policies.py) checks the role and
the values; a refusal shows next to its field. Saving changes no key.
"""

from __future__ import annotations

import dataclasses

import reflex as rx

from rxapp import routes
from rxapp.components.forms import focus_element, invalid_if, labelled_field
from rxapp.services import key_policies
from rxapp.services.keys import idle
from rxapp.session_guard import Caller
from rxapp.state import AuthState, Refusal, requires_user

_CONTROLS = {
    "max_lifetime_days": "policy-max-lifetime",
    "default_lifetime_days": "policy-default-lifetime",
    "disable_unused_after_days": "policy-disable-unused",
}


@dataclasses.dataclass
class ViolationRow:
    key_id: str = ""
    name: str = ""
    problems: str = ""  # "no end date (max lifetime 90 days ...); no Bias Profile"


def _text(days: int | None) -> str:
    return str(days) if days else ""


class KeyPolicyState(AuthState):
    max_lifetime: str = ""  # as typed: blank for no rule
    default_lifetime: str = ""
    require_profile: bool = False
    disable_unused: str = ""
    error: str = ""
    error_field: str = ""
    violations: list[ViolationRow] = []
    violations_total: int = 0
    saving: bool = False

    def _show(self, found: key_policies.PolicyView) -> None:
        policy = found.policy
        self.max_lifetime = _text(policy.max_lifetime_days)
        self.default_lifetime = _text(policy.default_lifetime_days)
        self.require_profile = policy.require_bias_profile
        self.disable_unused = _text(policy.disable_unused_after_days)
        self.violations = [
            ViolationRow(v.key_id, v.name, "; ".join(p.message for p in v.problems)) for v in found.violations
        ]
        self.violations_total = found.violations_total

    @rx.event
    @requires_user
    async def load(self, user: Caller):
        self.error = self.error_field = ""
        if user.access.can_manage:  # the section is the owners'
            self._show(await self.in_session(key_policies.view, user.access))

    def _typed(self, field: str, value: str, before: str) -> str:
        """A change of the refused field clears the refusal; the same value again (a debounced
        input's late notice, after Save) does not."""
        value = value[:12]
        if self.error_field == field and value != before:
            self.error = self.error_field = ""
        return value

    @rx.event
    def set_max_lifetime(self, value: str):
        self.max_lifetime = self._typed("max_lifetime_days", value, self.max_lifetime)

    @rx.event
    def set_default_lifetime(self, value: str):
        self.default_lifetime = self._typed("default_lifetime_days", value, self.default_lifetime)

    @rx.event
    def set_disable_unused(self, value: str):
        self.disable_unused = self._typed("disable_unused_after_days", value, self.disable_unused)

    @rx.event
    def set_require_profile(self, value: bool | int):
        self.require_profile = bool(value)

    @rx.event
    @requires_user
    async def save(self, user: Caller):
        """Owners only (the service checks); the answer lists the keys that break the new policy."""
        self.saving = True
        try:
            with Refusal(self) as refused:
                values = key_policies.PolicyValues(
                    key_policies.parse_days(self.max_lifetime, "max_lifetime_days"),
                    key_policies.parse_days(self.default_lifetime, "default_lifetime_days"),
                    self.require_profile,
                    key_policies.parse_days(self.disable_unused, "disable_unused_after_days"),
                )
                found = await self.in_session(
                    key_policies.set_policy,
                    user.access,
                    user.access.email,
                    values,
                    client_address=self.client_address(),
                )
        finally:
            self.saving = False
        if refused:
            control = _CONTROLS.get(refused.field)
            return focus_element(control) if control else None
        self.error = self.error_field = ""
        self._show(found)
        total = found.violations_total
        said = {0: "no existing key breaks it", 1: "1 existing key breaks it"}.get(
            total, f"{total} existing keys break it"
        )
        return rx.toast.success(f"Key policy saved; {said} (listed below, not changed).")


def _days_field(label: str, hint: str, value, on_change, control_id: str, field: str) -> rx.Component:
    state = KeyPolicyState
    return labelled_field(
        label,
        rx.vstack(
            rx.input(
                value=value,
                on_change=on_change,
                id=control_id,
                input_mode="numeric",
                placeholder="None",
                max_width="160px",
                aria_invalid=invalid_if(state.error_field, field),
                aria_describedby=control_id + "-hint",
            ),
            rx.text(hint, size="1", color=rx.color("gray", 11), id=control_id + "-hint"),
            spacing="1",
            width="100%",
        ),
        html_for=control_id,
        error=state.error,
        error_field=state.error_field,
        field=field,
    )


def _violation(row: ViolationRow) -> rx.Component:
    return rx.el.li(
        rx.link(
            row.name, href=routes.key_detail(AuthState.current_workspace, row.key_id), underline="always"
        ),
        rx.text.span(" (", rx.code(row.key_id, variant="ghost"), "): ", row.problems),
        id="policy-violation-" + row.key_id,
        font_size="var(--font-size-2)",
    )


def _violations() -> rx.Component:
    state = KeyPolicyState
    shown = state.violations.length()
    return rx.box(
        rx.cond(
            state.violations_total > 0,
            rx.vstack(
                rx.text(
                    "Existing keys that break this policy (they are not changed; edit, roll or delete them):",
                    size="2",
                    weight="medium",
                ),
                rx.el.ul(rx.foreach(state.violations, _violation), padding_left="1.2em", margin="0"),
                rx.cond(
                    state.violations_total > shown,
                    rx.text("… and ", state.violations_total - shown, " more.", size="2"),
                ),
                spacing="1",
                width="100%",
            ),
            rx.text("No existing key breaks this policy.", size="2", color=rx.color("gray", 11)),
        ),
        id="policy-violations",
        width="100%",
    )


def key_policy_settings() -> rx.Component:
    """Owners see and change the policy (placed inside the owners-only Workspace settings)."""
    state = KeyPolicyState
    return rx.vstack(
        rx.heading("Key policy", size="3", as_="h3"),
        rx.text(
            "Rules for this workspace's keys, applied when keys are created, edited or rolled "
            "(console, API and CLI). Existing keys are not changed.",
            size="2",
        ),
        _days_field(
            "Maximum lifetime (days)",
            "Empty for none. A later end date is refused.",
            state.max_lifetime,
            state.set_max_lifetime,
            "policy-max-lifetime",
            "max_lifetime_days",
        ),
        _days_field(
            "Default lifetime (days)",
            "What a key created without an end date gets (at most the maximum).",
            state.default_lifetime,
            state.set_default_lifetime,
            "policy-default-lifetime",
            "default_lifetime_days",
        ),
        rx.checkbox(
            "Every key needs a Bias Profile",
            checked=state.require_profile,
            on_change=state.set_require_profile,
            id="policy-require-profile",
            size="2",
        ),
        _days_field(
            "Disable keys unused for (days)",
            f"At least {idle.MIN_DAYS}. Each key is flagged {idle.WARNING.days} days before (its page, the "
            f"Keys list, webhook key.unused_warning); nothing is disabled within {idle.GRACE.days} days of "
            "switching this on.",
            state.disable_unused,
            state.set_disable_unused,
            "policy-disable-unused",
            "disable_unused_after_days",
        ),
        rx.cond(
            (state.error != "") & (state.error_field == ""),
            rx.text(state.error, color=rx.color("red", 11), size="2", role="alert", id="policy-error"),
        ),
        rx.button("Save key policy", on_click=state.save, loading=state.saving, id="policy-save"),
        _violations(),
        spacing="3",
        width="100%",
        id="key-policy",
    )
