"""The Notices page: what happened to keys the person owns or created, in every workspace they are a
member of (a reminder 7 and 1 day before an end date, an expiry, a leak report), newest first,
each with a link to the key and a Dismiss button. The same notices are emailed when the console
has SMTP (and the person has not turned email off on Account); without SMTP this is where they are.
"""

from __future__ import annotations

import dataclasses

import reflex as rx

from rxapp import routes
from rxapp.components.layout import protected_page
from rxapp.components.notices_bell import NoticesBellState
from rxapp.components.page import MUTED, PHONE_TARGET, empty_state, page_header
from rxapp.components.timefmt import exact_utc, iso, local_time
from rxapp.services.notices import inbox
from rxapp.session_guard import Caller
from rxapp.state import AuthState, requires_user

KIND_ICONS = {
    "expiring": ("clock", "amber"),
    "expired": ("calendar-x", "gray"),
    "leaked": ("shield-alert", "red"),
    "unused": ("circle-pause", "amber"),
}


@dataclasses.dataclass
class NoticeRow:
    id: int = 0
    kind: str = ""
    headline: str = ""
    detail: str = ""
    workspace_name: str = ""
    key_name: str = ""
    key_link: str = ""
    leak_url: str = ""
    when: str = ""  # ISO instant, shown in the reader's zone
    when_exact: str = ""


class NoticesState(AuthState):
    rows: list[NoticeRow] = []
    loaded: bool = False

    async def _reload(self, user: Caller) -> None:
        found = await self.in_session(inbox.list_for, user.id)
        self.rows = [
            NoticeRow(
                id=notice.id,
                kind=notice.kind,
                headline=notice.headline,
                detail=notice.detail,
                workspace_name=notice.workspace_name,
                key_name=notice.key_name,
                key_link=routes.key_detail(notice.workspace_public_id, notice.key_id),
                leak_url=notice.leak_url if notice.leak_url.startswith(("https://", "http://")) else "",
                when=iso(notice.created_at),
                when_exact=exact_utc(notice.created_at),
            )
            for notice in found
        ]
        self.loaded = True
        bell = await self.get_state(NoticesBellState)
        bell.unread = len(self.rows)

    @rx.event
    @requires_user
    async def load(self, user: Caller):
        self.loaded = False
        await self._reload(user)

    @rx.event
    @requires_user
    async def dismiss(self, user: Caller, notice_id: int):
        await self.in_session(inbox.dismiss, user.id, int(notice_id))
        await self._reload(user)

    @rx.event
    @requires_user
    async def dismiss_all(self, user: Caller):
        await self.in_session(inbox.dismiss_all, user.id)
        await self._reload(user)
        return rx.toast.success("All notices dismissed.")


def _kind_icon(kind) -> rx.Component:
    def icon(name: str, color: str) -> rx.Component:
        return rx.icon(
            name, size=20, color=rx.color(color, 11), flex_shrink="0", margin_top="2px", aria_hidden="true"
        )

    return rx.match(kind, *[(k, icon(*v)) for k, v in KIND_ICONS.items()], icon("bell", "gray"))


def notice_item(row: NoticeRow) -> rx.Component:
    item_id = "notice-" + row.id.to_string()
    return rx.el.li(
        rx.card(
            rx.flex(
                _kind_icon(row.kind),
                rx.vstack(
                    rx.text(row.headline, weight="bold", size="3", id=item_id + "-headline"),
                    rx.cond(
                        row.leak_url != "",
                        rx.text(
                            "Found at ",
                            rx.link(
                                row.leak_url,
                                href=row.leak_url,
                                is_external=True,
                                rel="noopener noreferrer nofollow",
                                id=item_id + "-leak-url",
                            ),
                            size="2",
                            overflow_wrap="anywhere",
                        ),
                    ),
                    rx.text(row.detail, size="2", overflow_wrap="anywhere"),
                    rx.flex(
                        rx.text("Workspace ", rx.text.strong(row.workspace_name), size="1", color=MUTED),
                        rx.text("·", size="1", color=MUTED, aria_hidden="true"),
                        local_time(row.when, row.when_exact, font_size="var(--font-size-1)", color=MUTED),
                        spacing="2",
                        wrap="wrap",
                        align="center",
                    ),
                    spacing="1",
                    flex="1",
                    min_width="0",
                ),
                rx.flex(
                    rx.link(
                        rx.icon("key-round", size=16, aria_hidden="true"),
                        "Open key",
                        href=row.key_link,
                        id=item_id + "-open",
                        aria_label="Open key “" + row.key_name + "”",
                        size="2",
                        weight="medium",
                        display="inline-flex",
                        align_items="center",
                        gap="4px",
                        min_height=PHONE_TARGET,
                    ),
                    rx.button(
                        "Dismiss",
                        variant="outline",
                        color_scheme="gray",
                        size="2",
                        min_height=PHONE_TARGET,
                        on_click=NoticesState.dismiss(row.id),
                        id="dismiss-" + item_id,
                        aria_label="Dismiss: " + row.headline,
                    ),
                    spacing="3",
                    wrap="wrap",
                    align="center",
                    flex_shrink="0",
                ),
                spacing="3",
                direction=rx.breakpoints(initial="column", sm="row"),
                align="start",
            ),
            width="100%",
        ),
        id=item_id,
        data_kind=row.kind,
        list_style="none",
    )


def notices_content() -> rx.Component:
    state = NoticesState
    return rx.vstack(
        page_header(
            "Notices",
            "Reminders before a key's end date, expiries and leak reports for keys in workspaces "
            "you own, and keys you created.",
            rx.cond(
                state.rows.length() > 0,
                rx.button(
                    rx.icon("check-check", size=16),
                    "Dismiss all",
                    variant="soft",
                    color_scheme="gray",
                    on_click=state.dismiss_all,
                    id="dismiss-all-notices",
                ),
            ),
        ),
        rx.cond(
            state.loaded,
            rx.cond(
                state.rows.length() > 0,
                rx.el.ul(
                    rx.foreach(state.rows, notice_item),
                    id="notices-list",
                    aria_label="Notices",
                    style={"padding": 0, "margin": 0, "width": "100%", "display": "grid", "gap": "12px"},
                ),
                empty_state(
                    "bell-off",
                    "No notices",
                    "When a key nears its end date, expires or is reported leaked, it is listed here.",
                    rx.link("Email notices are set on your Account page.", href=routes.ACCOUNT, size="2"),
                    box_id="notices-empty",
                ),
            ),
            rx.center(rx.spinner(size="3"), padding="32px", width="100%"),
        ),
        spacing="4",
        width="100%",
    )


ON_LOAD = [NoticesState.load]


def notices_page() -> rx.Component:
    return protected_page(notices_content(), workspace_gate=False)
