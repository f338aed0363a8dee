"""One key: its facts, its traffic by outcome (24 h / 7 d / 30 d), its roll chain with the rotation
assistant, and its audit trail. Reached from the key's name in the table (`/keys/<key_id>`).

The chart reads the hourly usage rows the write-behind flush keeps (at most a second late), and
the page refreshes itself, so calls just made appear within two seconds.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import reflex as rx
from sqlmodel import Session

from rxapp import routes
from rxapp.components.badges import status_badge
from rxapp.components.dialogs import confirm_delete_dialog
from rxapp.components.layout import protected_page
from rxapp.components.timefmt import (
    BROWSER_ZONE_SCRIPT,
    browser_zone,
    exact_utc,
    iso,
    local_time,
    relative,
    with_utc_title,
)
from rxapp.models import ApiKeyPublic, utc_now
from rxapp.pages.keys.create import CreateKeyState, create_dialog
from rxapp.pages.keys.roll import RollKeyState, roll_dialog
from rxapp.services import audit, rolling, usage
from rxapp.services import keys as key_service
from rxapp.services.errors import NotFoundError
from rxapp.session_guard import Caller
from rxapp.state import AuthState, requires_user

WINDOW_LABELS = {"24h": "24 hours", "7d": "7 days", "30d": "30 days"}
OUTCOME_COLOURS = {"valid": "#30a46c", "inactive": "#8b8d98", "expired": "#e5484d", "rate_limited": "#f76b15"}
REFRESH_MILLISECONDS = 1500


@dataclasses.dataclass
class EventRow:
    when: str = ""  # ISO instant, shown in the reader's zone
    actor: str = ""
    action: str = ""
    detail: str = ""
    when_exact: str = ""  # the same instant in UTC (hover title)


def assistant_text(status: rolling.RotationStatus, now: dt.datetime) -> tuple[str, dt.datetime | None, str]:
    """What the assistant says: text, then an instant the browser shows in local time (if any),
    then the rest of the sentence. Every verdict but "new_unused" names the quiet period."""
    quiet = rolling.QUIET_PERIOD_LABEL
    if status.state == "new_unused":
        return f"The new key {status.new_key_id} has not been used yet.", None, ""
    old_last = status.old_last_used_at
    last = f"Old key last called {relative(old_last, now)}" if old_last else "No call on the old key yet"
    wait = f"; safe once it has been quiet for {quiet} after the new key's first use (from "
    if status.state == "both_in_use":
        return (
            f"Both keys are in use: something still calls the old key. {last}{wait}",
            status.safe_from,
            ", if no call comes).",
        )
    if status.state == "settling":
        return f"{last}{wait}", status.safe_from, ")."
    silent = f" for {relative(old_last, now).removesuffix(' ago')}" if old_last else ""
    return (
        f"No call on the old key{silent} (at least {quiet}, counted from the new key's first use at ",
        status.new_first_used_at,
        "): safe to expire now.",
    )


@dataclasses.dataclass(frozen=True)
class _Detail:
    key: ApiKeyPublic
    series: list[usage.UsagePoint]
    totals: dict[str, int]
    links: rolling.RollLinks
    rotation: rolling.RotationStatus | None
    events: list


class KeyDetailState(AuthState):
    found: bool = True
    key_id: str = ""
    name: str = ""
    masked: str = ""
    status: str = ""
    profile: str = ""
    created: str = ""  # ISO instants: the browser shows them in the reader's zone
    created_exact: str = ""
    expires: str = ""
    expires_exact: str = ""
    last_used: str = ""
    last_used_exact: str = ""
    window: str = "24h"
    time_zone: str = ""  # the browser's zone, for the chart's local hours and days
    zone_offset: int = 0
    chart: list[dict] = []
    totals: dict[str, int] = {}
    rolled_from: str = ""
    rolled_to: str = ""
    assistant: str = ""
    assistant_at: str = ""  # an instant inside the sentence (ISO, shown in local time)
    assistant_at_exact: str = ""
    assistant_after: str = ""
    assistant_state: str = ""
    assistant_old_key: str = ""
    expire_confirm: bool = False  # the "Expire now" confirmation dialog is open
    events: list[EventRow] = []

    def _key_from_url(self) -> str:
        return self.router.url.path.rstrip("/").rsplit("/", 1)[-1][:40]

    async def _reload(self, user: Caller) -> None:
        key_id, window, now = self.key_id, self.window, utc_now()
        since = now - usage.WINDOWS[window]

        def work(session: Session) -> _Detail:
            key = key_service.get_key(session, user.access, key_id)
            row_id = key_service.key_row_id(session, user.access, key_id)
            links = rolling.links(session, user.access, key_id)
            # the assistant speaks about the old key of a rotation: this one, or its predecessor
            rotation = rolling.rotation_status(session, user.access, key_id, now)
            if rotation is None and links.rolled_from:
                rotation = rolling.rotation_status(session, user.access, links.rolled_from, now)
            events, _ = audit.list_events(session, user.access, target_id=key_id, page_size=20)
            return _Detail(
                key,
                usage.usage_series(session, row_id, since),
                usage.usage_totals(session, [row_id], since).get(row_id, dict.fromkeys(usage.OUTCOMES, 0)),
                links,
                rotation,
                events,
            )

        detail = await self.in_session(work)
        key = detail.key
        self.found = True
        self.name, self.masked, self.status = key.name, key.masked, key.status
        self.profile = key.bias_profile_name or "None"
        self.created, self.created_exact = iso(key.created_at), exact_utc(key.created_at)
        self.expires, self.expires_exact = iso(key.expires_at), exact_utc(key.expires_at) or "No end date"
        self.last_used = relative(key.last_used_at, now)
        self.last_used_exact = exact_utc(key.last_used_at) or "Never used"
        zone = key_service.reader_zone(self.time_zone, self.zone_offset)
        chart = usage.chart_points(detail.series, window, now, zone)
        if chart != self.chart:
            self.chart = chart
        self.totals = detail.totals
        self.rolled_from = detail.links.rolled_from or ""
        self.rolled_to = detail.links.rolled_to or ""
        rotation = detail.rotation
        said, at, after = assistant_text(rotation, now) if rotation else ("", None, "")
        self.assistant, self.assistant_after = said, after
        self.assistant_at, self.assistant_at_exact = iso(at), exact_utc(at)
        self.assistant_state = rotation.state if rotation else ""
        self.assistant_old_key = rotation.old_key_id if rotation else ""
        events = [
            EventRow(
                iso(event.created_at), event.actor, event.action, event.detail, exact_utc(event.created_at)
            )
            for event in detail.events
        ]
        if events != self.events:
            self.events = events

    @rx.event
    @requires_user
    async def load(self, user: Caller):
        self.reset()
        self.key_id = self._key_from_url()
        if self.workspace_missing:  # a workspace not theirs (or none): the same "not found"
            self.found = False
            return None
        try:
            await self._reload(user)
        except NotFoundError:
            self.found = False
            return None
        return rx.call_script(BROWSER_ZONE_SCRIPT, callback=KeyDetailState.set_browser_zone)

    @rx.event
    @requires_user
    async def set_browser_zone(self, user: Caller, values: list):
        """The browser's zone arrived: redraw the chart in its hours and days."""
        self.time_zone, self.zone_offset, _ = browser_zone(values)
        if self.found and self.key_id:
            await self._reload(user)

    @rx.event
    @requires_user
    async def refresh(self, user: Caller, _tick: str = ""):
        if self.found and self.key_id:
            await self._reload(user)

    @rx.event
    @requires_user
    async def set_window(self, user: Caller, value: str | list[str]):
        chosen = value[0] if isinstance(value, list) and value else value
        self.window = chosen if isinstance(chosen, str) and chosen in WINDOW_LABELS else "24h"
        await self._reload(user)

    @rx.event
    def set_expire_confirm(self, is_open: bool):
        self.expire_confirm = is_open

    @rx.event
    @requires_user
    async def expire_old_key(self, user: Caller):
        """Confirmed in the dialog; the service checks the role again."""
        self.expire_confirm = False
        old = self.assistant_old_key
        if not old:
            return None
        await self.in_session(
            rolling.expire_now, user.access, user.email, old, client_address=self.client_address()
        )
        await self._reload(user)
        return rx.toast.success(f"{old} is expired: it answers EXPIRED from the next call on")


def _fact(label: str, value: rx.Component | rx.Var | str, fact_id: str) -> rx.Component:
    return rx.vstack(
        rx.text(label, size="1", color=rx.color("gray", 11)),  # gray-10 fails WCAG AA contrast
        rx.box(value, id=fact_id),
        spacing="1",
        min_width="9rem",
    )


def _facts() -> rx.Component:
    state = KeyDetailState
    return rx.flex(
        _fact("API Key", rx.code(state.masked), "detail-masked"),
        _fact("Status", status_badge(state.status), "detail-status"),
        _fact("Bias Profile", rx.text(state.profile), "detail-profile"),
        _fact("Created", local_time(state.created, state.created_exact), "detail-created"),
        _fact("Expires", local_time(state.expires, state.expires_exact), "detail-expires"),
        _fact("Last Used", with_utc_title(state.last_used, state.last_used_exact), "detail-last-used"),
        wrap="wrap",
        gap="5",
    )


def _usage() -> rx.Component:
    state = KeyDetailState
    bars = [
        rx.recharts.bar(data_key=outcome, stack_id="calls", fill=colour, name=outcome.replace("_", " "))
        for outcome, colour in OUTCOME_COLOURS.items()
    ]
    return rx.vstack(
        rx.hstack(
            rx.heading("Calls", size="4"),
            rx.spacer(),
            rx.segmented_control.root(
                *[rx.segmented_control.item(label, value=value) for value, label in WINDOW_LABELS.items()],
                value=state.window,
                on_change=state.set_window,
                id="usage-window",
            ),
            width="100%",
            align="center",
        ),
        rx.hstack(
            *[
                rx.badge(
                    outcome.replace("_", " ").capitalize() + ": ",
                    state.totals[outcome].to_string(),
                    variant="soft",
                    id=f"usage-total-{outcome}",
                )
                for outcome in OUTCOME_COLOURS
            ],
            wrap="wrap",
        ),
        rx.recharts.bar_chart(
            *bars,
            rx.recharts.x_axis(data_key="label"),
            rx.recharts.y_axis(allow_decimals=False),
            rx.recharts.tooltip(),
            rx.recharts.legend(),
            data=state.chart,
            width="100%",
            height=260,
        ),
        width="100%",
        id="usage-chart",
    )


def _rotation() -> rx.Component:
    state = KeyDetailState
    return rx.vstack(
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
                id="rotation-assistant",
                width="100%",
            ),
        ),
        width="100%",
    )


def _expire_dialog() -> rx.Component:
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


def _events() -> rx.Component:
    return rx.vstack(
        rx.heading("Activity", size="4"),
        rx.table.root(
            rx.table.header(
                rx.table.row(*[rx.table.column_header_cell(h) for h in ("Time", "Actor", "Action", "Detail")])
            ),
            rx.table.body(
                rx.foreach(
                    KeyDetailState.events,
                    lambda event: rx.table.row(
                        rx.table.cell(local_time(event.when, event.when_exact, white_space="nowrap")),
                        rx.table.cell(event.actor),
                        rx.table.cell(rx.code(event.action, variant="ghost")),
                        rx.table.cell(rx.text(event.detail, size="1")),
                    ),
                )
            ),
            width="100%",
            id="key-events",
        ),
        width="100%",
        overflow_x="auto",
    )


def _keys_href() -> rx.Var:
    return routes.in_workspace(AuthState.current_workspace, routes.KEYS)


def key_detail_content() -> rx.Component:
    state = KeyDetailState
    return rx.cond(
        state.found,
        rx.vstack(
            rx.link("← API Keys", href=_keys_href(), size="2", id="back-to-keys"),
            rx.hstack(
                rx.heading(state.name, size="6", id="detail-name", word_break="break-all"),
                rx.code(state.key_id, variant="ghost"),
                rx.spacer(),
                rx.cond(
                    AuthState.can_write,
                    rx.button(
                        rx.icon("rotate-cw", size=16),
                        "Roll key",
                        on_click=RollKeyState.start(state.key_id),
                        id="detail-roll",
                        disabled=state.status == "EXPIRED",
                    ),
                ),
                width="100%",
                align="center",
                wrap="wrap",
            ),
            _facts(),
            _rotation(),
            _usage(),
            _events(),
            roll_dialog(),
            create_dialog(),
            _expire_dialog(),
            rx.moment(interval=REFRESH_MILLISECONDS, on_change=state.refresh, display="none"),
            spacing="5",
            width="100%",
        ),
        rx.vstack(
            rx.heading("API key not found", size="5"),
            rx.text("It was deleted, or it is not yours."),
            rx.link("Back to API Keys", href=_keys_href(), id="back-to-keys"),
            id="key-not-found",
        ),
    )


def key_detail_page() -> rx.Component:
    return protected_page(key_detail_content(), workspace_gate=False)


ON_LOAD = [CreateKeyState.forget_reveal, KeyDetailState.load]
