"""The one-time reveal of a secret: a new or rolled API key, a management token, an invitation link.

The secret never sits in a state var (state is persisted and hydrated): it is a client-side value
(`one_time_value`) the server pushes once, right after the secret is committed, and pushes empty
again when the reveal closes. A reload, a reconnect or a new tab never brings it back. What the
reveal shows: a warning, the secret in a read-only field with Copy, the caller's details (the id,
a note), and Done. Copying, by the button or by selecting the text and pressing Ctrl+C, can be
tracked (`CopyTracked`), so a dialog can ask before discarding a secret nobody copied.
"""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.experimental.client_state import ClientStateVar
from reflex_base.event import EventHandler, no_args_event_spec
from reflex_components_radix.themes.components.text_field import TextFieldRoot

from rxapp.components.forms import LABEL_STYLE


def one_time_value(name: str) -> ClientStateVar:
    """The browser-only holder of one kind of secret; `name` must be unique in the app."""
    return ClientStateVar.create(name, "")


class CopyTracked(rx.State, mixin=True):
    """`copied` and `mark_copied` for a reveal's own substate (each keeps its own flag)."""

    copied: bool = False

    @rx.event
    def mark_copied(self):
        self.copied = True


class _SecretField(TextFieldRoot):
    """The read-only field: selecting its text and copying it (Ctrl+C) fires `on_copy`."""

    on_copy: EventHandler[no_args_event_spec]  # type: ignore[type-arg,valid-type]  # Reflex's event-trigger syntax


def _warning(headline: str, advice: str, warning_id: str) -> rx.Component:
    lines = [rx.text(headline, weight="bold", size="2")]
    if advice:
        lines.append(rx.text(advice, size="2"))
    return rx.callout.root(  # root + icon, not rx.callout(): its text is a <p>, which cannot hold blocks
        rx.callout.icon(rx.icon("shield-alert")),
        rx.vstack(*lines, spacing="1"),
        color_scheme="amber",
        high_contrast=True,  # amber-11 text on amber-3 falls short of WCAG AA (axe)
        **({"id": warning_id} if warning_id else {}),
    )


def _copy_button(
    secret: ClientStateVar, copy_id: str, copy_label: str, copied_toast: str, copied: Any, on_copied: Any
) -> rx.Component:
    icon = rx.icon("copy", size=18)
    if copied is not None:
        icon = rx.cond(copied, rx.icon("check", size=18), icon)
    actions = [rx.set_clipboard(secret.value)]
    if on_copied is not None:
        actions.append(on_copied)
    actions.append(rx.toast.success(copied_toast))
    return rx.tooltip(
        rx.icon_button(icon, size="3", id=copy_id, auto_focus=True, aria_label=copy_label, on_click=actions),
        content="Copy",
    )


def secret_reveal(
    secret: ClientStateVar,
    *details: rx.Component,
    warning: str,
    label: str,
    field_id: str,
    copy_id: str,
    copy_label: str,
    copied_toast: str,
    done_id: str,
    on_done: Any,
    advice: str = "",
    warning_id: str = "",
    copied: Any = None,
    on_copied: Any = None,
) -> rx.Component:
    """Warning (`warning` in bold, then `advice`), the labelled read-only field `field_id` holding
    `secret`, the Copy button `copy_id` (focused first), `details`, and Done (`done_id`, runs
    `on_done`). With `copied` (a state var) the Copy icon turns into a check; `on_copied` runs
    on every copy, by the button or Ctrl+C in the field."""
    field_props: dict[str, Any] = {"on_copy": on_copied} if on_copied is not None else {}
    return rx.vstack(
        _warning(warning, advice, warning_id),
        rx.el.label(label, html_for=field_id, **LABEL_STYLE),
        rx.hstack(
            _SecretField.create(
                value=secret.value,
                read_only=True,
                id=field_id,
                width="100%",
                font_family="monospace",
                size="3",
                **field_props,
            ),
            _copy_button(secret, copy_id, copy_label, copied_toast, copied, on_copied),
            width="100%",
        ),
        *details,
        rx.hstack(rx.button("Done", on_click=on_done, id=done_id), justify="end", width="100%"),
        spacing="3",
        width="100%",
    )


def discard_confirmation(what: str, *, open: Any, on_open_change: Any, on_discard: Any) -> rx.Component:
    """ "Close without copying?": asked when Done (or Escape, or the overlay) would discard a secret
    nobody copied. Go back (focused; Escape too) keeps the reveal, Close anyway (`on_discard`)
    drops it for good. `what` names the secret ("API key")."""
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Close without copying?"),
            rx.alert_dialog.description(
                f"You have not copied this {what}. Once you close this dialog it cannot be shown again."
            ),
            rx.hstack(
                rx.alert_dialog.cancel(  # focused when the alert opens; Escape is the same as Go back
                    rx.button("Go back", variant="soft", color_scheme="gray", id="discard-cancel"),
                ),
                rx.button(
                    "Close anyway",
                    color_scheme="red",
                    high_contrast=True,
                    on_click=on_discard,
                    id="discard-confirm",
                ),
                justify="end",
                spacing="3",
                margin_top="4",
            ),
        ),
        open=open,
        on_open_change=on_open_change,
    )
