"""Page chrome: navigation, the signed-in account, sign out, light/dark mode."""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.experimental.client_state import ClientStateVar
from reflex_components_core.el.elements.base import BaseHTML
from reflex_components_core.el.elements.forms import Form

from rxapp import __version__, routes
from rxapp.components.backend import backend_url
from rxapp.components.notices_bell import notices_bell
from rxapp.components.reauth_dialog import reauth_dialog
from rxapp.components.workspace_switcher import workspace_switcher
from rxapp.state import AuthState


class NativeForm(Form):
    """A plain HTML form that really posts: Reflex's form always cancels the browser's submit."""

    @classmethod
    def create(cls, *children, **props) -> rx.Component:
        return BaseHTML.create.__func__(cls, *children, **props)  # classmethod function, our class


native_form = NativeForm.create


def nav_link(label: str, route: str, icon: str, link_id: str) -> rx.Component:
    """A nav link; a per-workspace page's link goes to it in the tab's current workspace."""
    per_workspace = route in routes.WORKSPACE_PAGES
    return rx.link(
        rx.hstack(
            rx.icon(icon, size=16), rx.text(label, size="2", weight="medium"), spacing="2", align="center"
        ),
        href=routes.in_workspace(AuthState.current_workspace, route) if per_workspace else route,
        id=link_id,
        underline="none",
        color=rx.cond(
            AuthState.router.page.path == (routes.workspace_route(route) if per_workspace else route),
            rx.color("accent", 11),
            rx.color("gray", 11),
        ),
    )


def sign_out_form() -> rx.Component:
    return native_form(
        rx.button(
            rx.icon("log-out", size=16),
            "Sign out",
            type="submit",
            variant="soft",
            color_scheme="gray",
            size="2",
            id="sign-out",
        ),
        action=backend_url(routes.API_SIGN_OUT),
        method="post",
    )


# Below 1200 px the links and the account controls fold behind a menu button (assets/responsive.css);
# one set of controls either way, so every id stays unique. Open or closed is the browser's business.
nav_open = ClientStateVar.create("nav_open", False)


def _nav_toggle() -> rx.Component:
    return rx.icon_button(
        rx.cond(nav_open.value, rx.icon("x", size=18), rx.icon("menu", size=18)),
        variant="soft",
        color_scheme="gray",
        on_click=nav_open.set_value(~nav_open.value),
        id="nav-toggle",
        aria_label="Menu",
        aria_expanded=rx.cond(nav_open.value, "true", "false"),
        aria_controls="nav-menu",
        class_name="nav-toggle",
    )


def navbar() -> rx.Component:
    return rx.el.nav(
        rx.hstack(
            rx.icon("key-round", size=22, color=rx.color("accent", 10)),
            rx.heading("Key Console", size="4"),
            spacing="2",
            align="center",
        ),
        rx.spacer(class_name="nav-toggle"),
        notices_bell(),  # outside the menu: on a phone it stays beside the menu button
        _nav_toggle(),
        rx.flex(
            rx.flex(
                nav_link("API Keys", routes.KEYS, "key", "nav-keys"),
                nav_link("Bias Profiles", routes.PROFILES, "sliders-horizontal", "nav-profiles"),
                nav_link("Activity", routes.ACTIVITY, "history", "nav-activity"),
                nav_link("Members", routes.MEMBERS, "users", "nav-members"),
                nav_link("Tokens", routes.TOKENS, "bot", "nav-tokens"),
                nav_link("Webhooks", routes.WEBHOOKS, "webhook", "nav-webhooks"),
                rx.cond(AuthState.is_admin, nav_link("Admin", routes.ADMIN, "shield", "nav-admin")),
                gap="4",
                class_name="nav-links",
            ),
            rx.spacer(),
            workspace_switcher(),
            rx.flex(
                rx.link(
                    rx.text(
                        AuthState.user_email,
                        size="2",
                        color=rx.color("gray", 11),
                        class_name="nav-email",
                        title=AuthState.user_email,
                    ),
                    href=routes.ACCOUNT,
                    id="signed-in-email",
                    underline="hover",
                ),
                rx.color_mode.button(id="color-mode", aria_label="Toggle light and dark mode"),
                sign_out_form(),
                gap="3",
                align="center",
                class_name="nav-account",
            ),
            id="nav-menu",
            class_name=rx.cond(nav_open.value, "nav-menu open", "nav-menu"),
            on_click=nav_open.set_value(False),
        ),
        aria_label="Main",
        class_name="nav-bar",
        style={"border_bottom": f"1px solid {rx.color('gray', 5)}"},
    )


def workspace_not_found() -> rx.Component:
    """What a page whose address names a workspace the person may not see shows: the same words
    for a workspace that does not exist and one they are not a member of."""
    return rx.vstack(
        rx.heading("Workspace not found", size="5"),
        rx.text("It does not exist, or you are not a member of it."),
        rx.link(
            "Back to your API keys",
            href=routes.in_workspace(AuthState.current_workspace, routes.KEYS),
            id="back-to-my-keys",
        ),
        id="workspace-not-found",
    )


def two_factor_needed() -> rx.Component:
    """What a workspace's page shows to a member without a second factor when its owners require
    two: the way to set one up, not the workspace's content."""
    return rx.vstack(
        rx.heading("Two-factor authentication required", size="5"),
        rx.text(
            "This workspace requires two-factor authentication. Set it up on your Account page "
            "(an authenticator app or a passkey), then come back.",
        ),
        rx.link("Set it up on Account", href=routes.ACCOUNT, id="two-factor-required-link"),
        id="two-factor-required",
    )


def inert_until_loaded() -> dict[str, Any]:
    """Attributes for a page's interactive region. Until the page's on_load events have run
    (Reflex's is_hydrated), it shows the tab's previous state, and a click would be queued ahead of
    the loads and undone by them (a setup begun, a dialog opened) or act on the last page's data
    (another invitation). Inert, not hidden: nothing typed is lost when a reconnect hydrates again."""
    return {
        "inert": rx.cond(rx.State.is_hydrated, False, True),
        "aria-busy": rx.cond(rx.State.is_hydrated, "false", "true"),
    }


def protected_page(content: rx.Component, workspace_gate: bool = True) -> rx.Component:
    """Renders nothing private until the server has confirmed the session. With `workspace_gate`,
    an address naming a workspace the person may not see shows `workspace_not_found` instead (a
    page with its own not-found, like a key's, passes False and reads the flag itself)."""
    content = rx.cond(AuthState.two_factor_needed, two_factor_needed(), content)
    if workspace_gate:
        content = rx.cond(AuthState.workspace_missing, workspace_not_found(), content)
    return rx.box(
        rx.cond(
            AuthState.signed_in,
            rx.fragment(
                # The first Tab stop: past the navigation straight to the page (WCAG 2.4.1).
                rx.el.a(
                    "Skip to main content", href="#main-content", id="skip-to-content", class_name="skip-link"
                ),
                navbar(),
                rx.el.main(
                    content,
                    id="main-content",
                    tab_index=-1,  # focusable by the skip link, not a Tab stop of its own
                    class_name="page-main",
                    custom_attrs=inert_until_loaded(),
                ),
                rx.el.footer(
                    rx.text(f"Key Console {__version__}", id="app-version", size="1", color_scheme="gray"),
                    text_align="center",
                    padding_y="16px",
                ),
                reauth_dialog(),  # sudo mode: opened by any page whose action needs it
            ),
            rx.center(rx.spinner(size="3"), rx.text("Loading…", margin_left="2"), height="60vh"),
        ),
        min_height="100vh",
    )


def auth_card(*children: rx.Component) -> rx.Component:
    return rx.center(
        rx.card(
            rx.vstack(
                rx.hstack(
                    rx.icon("key-round", size=28, color=rx.color("accent", 10)),
                    rx.heading("Key Console", size="6"),
                    align="center",
                    spacing="2",
                ),
                *children,
                spacing="4",
                width="100%",
            ),
            size="4",
            width="100%",
            max_width="420px",
        ),
        rx.box(
            rx.color_mode.button(id="color-mode", aria_label="Toggle light and dark mode"),
            position="fixed",
            top="12px",
            right="12px",
        ),
        min_height="100vh",
        padding="16px",
    )
