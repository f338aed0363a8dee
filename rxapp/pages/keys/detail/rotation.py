"""The leak notice, the unused-key notice, the roll chain (rolled from / rolled to) and the rotation
assistant with Expire now."""

from __future__ import annotations

import reflex as rx

from rxapp import routes
from rxapp.components.dialogs import confirm_delete_dialog
from rxapp.components.timefmt import local_time
from rxapp.pages.keys.detail.state import KeyDetailState
from rxapp.services import rolling
from rxapp.state import AuthState

_LEAK_SAID = {
    "disable": "Leaked: this key was turned INACTIVE because a secret scanner found it in public",
    "roll": "Leaked: this key was rolled because a secret scanner found it in public",
    "notify": "Leaked: a secret scanner found this key in public",
}


def leak_notice() -> rx.Component:
    """The latest leak report of the key (services/leaks.py): what was done, when, and where."""
    state = KeyDetailState
    return rx.cond(
        state.leak_action != "",
        rx.callout.root(
            rx.callout.icon(rx.icon("triangle-alert")),
            rx.callout.text(
                rx.match(state.leak_action, *_LEAK_SAID.items(), _LEAK_SAID["notify"]),
                " (reported ",
                local_time(state.leak_at, state.leak_at_exact),
                "). Found at: ",
                rx.cond(
                    state.leak_url.startswith("https://"),
                    rx.link(
                        state.leak_url,
                        href=state.leak_url,
                        is_external=True,
                        underline="always",
                        id="key-leaked-url",
                    ),
                    rx.text.span(state.leak_url, id="key-leaked-url"),
                ),
            ),
            color_scheme="red",
            high_contrast=True,
            id="key-leaked",
            width="100%",
        ),
    )


def idle_notice() -> rx.Component:
    """The workspace key policy's unused rule (services/keys/idle.py): the warning, or why the key
    was turned INACTIVE."""
    state = KeyDetailState
    return rx.cond(
        state.idle_state != "",
        rx.callout.root(
            rx.callout.icon(rx.icon("clock")),
            rx.callout.text(
                rx.cond(
                    state.idle_state == "warning",
                    rx.text.span("Unused: this key will be disabled on "),
                    rx.text.span("Disabled for being unused: this key was turned INACTIVE on "),
                ),
                local_time(state.idle_on, state.idle_on_exact),
                rx.cond(
                    state.idle_state == "warning",
                    rx.text.span(
                        " if still unused (workspace policy: keys unused for ",
                        state.idle_days,
                        " days). A successful call with it cancels this.",
                    ),
                    rx.text.span(
                        " (workspace policy: keys unused for ",
                        state.idle_days,
                        " days). Turn it back on with Edit if it is still needed.",
                    ),
                ),
            ),
            color_scheme="amber",
            high_contrast=True,
            id="key-idle",
            width="100%",
        ),
    )


def rotation() -> rx.Component:
    state = KeyDetailState
    return rx.vstack(
        leak_notice(),
        idle_notice(),
        rx.cond(
            state.rolled_from != "",
            rx.text(
                "Rolled from ",
                rx.link(
                    state.rolled_from,
                    href=routes.key_detail(AuthState.current_workspace, state.rolled_from),
                    underline="always",
                ),
                id="rolled-from",
            ),
        ),
        rx.cond(
            state.rolled_to != "",
            rx.text(
                "Rolled to ",
                rx.link(
                    state.rolled_to,
                    href=routes.key_detail(AuthState.current_workspace, state.rolled_to),
                    underline="always",
                ),
                id="rolled-to",
            ),
        ),
        rx.cond(
            state.assistant != "",
            rx.callout.root(
                rx.callout.icon(rx.icon("refresh-cw")),
                rx.callout.text(
                    state.assistant,
                    rx.cond(
                        state.assistant_at != "",
                        local_time(state.assistant_at, state.assistant_at_exact, time_format="HH:mm"),
                    ),
                    state.assistant_after,
                ),
                rx.callout.text(
                    f"Safe to expire means: no call on the old key for {rolling.QUIET_PERIOD_LABEL}"
                    " after the new key's first use. Last Used reaches the console within seconds.",
                    size="1",
                    id="rotation-quiet-rule",
                ),
                rx.cond(
                    (state.assistant_state == "safe_to_expire") & AuthState.can_write,
                    rx.button(
                        "Expire now",
                        color_scheme="red",
                        variant="soft",
                        on_click=state.set_expire_confirm(True),
                        id="expire-now",
                        margin_top="2",
                    ),
                ),
                color_scheme=rx.cond(state.assistant_state == "safe_to_expire", "green", "blue"),
                high_contrast=True,  # blue/green text on its own tint falls short of WCAG AA (axe)
                id="rotation-assistant",
                width="100%",
            ),
        ),
        width="100%",
    )


def expire_dialog() -> rx.Component:
    state = KeyDetailState
    return confirm_delete_dialog(
        title="Expire the old key now?",
        description=rx.text(
            rx.text.strong(state.assistant_old_key),
            " answers EXPIRED from its next call on. Anything still using it stops working."
            " This cannot be undone.",
        ),
        on_confirm=state.expire_old_key,
        open=state.expire_confirm,
        on_open_change=state.set_expire_confirm,
        confirm_id="expire-now-confirm",
        cancel_id="expire-now-cancel",
        confirm_label="Expire now",
        id="expire-now-dialog",
    )
