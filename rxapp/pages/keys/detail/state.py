"""The key page's state: one key's facts, its traffic by outcome (24 h / 7 d / 30 d), its roll
chain with the rotation assistant, and its audit trail.

The chart reads the hourly usage rows the write-behind flush keeps (at most a second late), and
the page refreshes itself, so calls just made (and an edit saved in its dialog) appear within two
seconds.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import reflex as rx
from sqlmodel import Session

from rxapp.components.timefmt import BROWSER_ZONE_SCRIPT, browser_zone, exact_utc, iso, relative
from rxapp.models import ApiKeyPublic, utc_now
from rxapp.pages.keys.detail import limit_use
from rxapp.pages.keys.detail.program import KeyProgramState
from rxapp.services import audit, identities, key_policies, leaks, rolling, usage
from rxapp.services import keys as key_service
from rxapp.services.audit_text import linked_detail
from rxapp.services.errors import NotFoundError
from rxapp.services.keys.idle import IdleNotice
from rxapp.session_guard import Caller
from rxapp.state import AuthState, requires_user

WINDOW_LABELS = {"24h": "24 hours", "7d": "7 days", "30d": "30 days"}
OUTCOME_COLOURS = {"valid": "#30a46c", "inactive": "#8b8d98", "expired": "#e5484d", "rate_limited": "#f76b15"}
REFRESH_MILLISECONDS = 1500


@dataclasses.dataclass
class EventRow:
    """One line of the key's audit trail, worded as the Activity page words it. A roll's detail
    names the other key: `detail` + that key (a link) + `detail_after`."""

    when: str = ""  # ISO instant, shown in the reader's zone
    actor: str = ""
    action: str = ""
    detail: str = ""
    when_exact: str = ""  # the same instant in UTC (hover title)
    linked_key: str = ""
    detail_after: str = ""


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
    row_id: int = 0
    shared: limit_use.Shared | None = None  # the identity's row id and shared limits
    leak: leaks.LeakNotice | None = None  # the latest leak report of the key
    idle: IdleNotice | None = None  # the key policy's unused rule: warned or disabled


class KeyDetailState(KeyProgramState, AuthState):
    found: bool = True
    key_id: str = ""
    name: str = ""
    masked: str = ""
    status: str = ""
    profile: str = ""
    rate_limit: str = ""
    roll_refusal: str = ""  # why Roll is disabled ("" when the key can be rolled)
    created: str = ""  # ISO instants: the browser shows them in the reader's zone
    created_exact: str = ""
    expires: str = ""
    expires_exact: str = ""
    last_used: str = ""
    last_used_exact: str = ""
    updated: str = ""
    updated_exact: str = ""
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
    leak_action: str = ""  # the latest leak report: what was done ("" when none)
    leak_url: str = ""  # where the secret was found (a link only when https)
    leak_at: str = ""
    leak_at_exact: str = ""
    idle_state: str = ""  # "warning" (disabled on idle_on if still unused) | "disabled" | ""
    idle_on: str = ""  # ISO instant (shown in the reader's zone)
    idle_on_exact: str = ""
    idle_days: int = 0  # the rule's N

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
                row_id,
                identities.shared_limits(session, user.access, key.identity) if key.identity else None,
                leaks.latest_for_key(session, user.access, key_id),
                key_policies.idle_notices(session, user.access, [key_id]).get(key_id),
            )

        detail = await self.in_session(work)
        key = detail.key
        self.found = True
        self.name, self.masked, self.status = key.name, key.masked, key.status
        self.profile = key.bias_profile_name or "None"
        limit = key.rate_limit_per_minute
        left = await limit_use.minute_left(detail.row_id, limit)
        self.rate_limit = f"{limit:,} calls per minute · {left}" if limit else "None"
        self.show_program(key, now)
        rows = await limit_use.limit_rows(key, detail.row_id, detail.shared)
        if rows != self.limit_rows:
            self.limit_rows = rows
        self.limits_note = limit_use.counted_where() if rows else ""
        self.roll_refusal = rolling.roll_refusal(key.status)
        self.updated, self.updated_exact = iso(key.updated_at), exact_utc(key.updated_at)
        self.created, self.created_exact = iso(key.created_at), exact_utc(key.created_at)
        self.expires, self.expires_exact = iso(key.expires_at), exact_utc(key.expires_at) or "No end date"
        self.last_used = relative(key.last_used_at, now)
        self.last_used_exact = exact_utc(key.last_used_at) or "Never used"
        zone = key_service.reader_zone(self.time_zone, self.zone_offset)
        chart = usage.chart_points(detail.series, window, now, zone)
        if chart != self.chart:
            self.chart = chart
        self.totals = detail.totals
        leak = detail.leak
        self.leak_action, self.leak_url = (leak.action, leak.url) if leak else ("", "")
        self.leak_at, self.leak_at_exact = (
            (iso(leak.reported_at), exact_utc(leak.reported_at)) if leak else ("", "")
        )
        notice = detail.idle
        self.idle_state, self.idle_days = (notice.state, notice.after_days) if notice else ("", 0)
        self.idle_on, self.idle_on_exact = (iso(notice.when), exact_utc(notice.when)) if notice else ("", "")
        self.rolled_from = detail.links.rolled_from or ""
        self.rolled_to = detail.links.rolled_to or ""
        rotation = detail.rotation
        said, at, after = assistant_text(rotation, now) if rotation else ("", None, "")
        self.assistant, self.assistant_after = said, after
        self.assistant_at, self.assistant_at_exact = iso(at), exact_utc(at)
        self.assistant_state = rotation.state if rotation else ""
        self.assistant_old_key = rotation.old_key_id if rotation else ""
        events = []
        for event in detail.events:
            worded = linked_detail(event.detail, event.occurrences)
            events.append(
                EventRow(
                    iso(event.created_at),
                    event.actor,
                    event.action,
                    worded.before,
                    exact_utc(event.created_at),
                    worded.key_id,
                    worded.after,
                )
            )
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
            try:
                await self._reload(user)
            except NotFoundError:  # deleted meanwhile (here or elsewhere): say so, no error toast
                self.found = False

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
