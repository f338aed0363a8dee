"""The keys table's state: one page of rows (search, filters, sort, paging), refreshed every few
seconds, plus the profile choices the filter and the dialogs offer.

The dialogs (create, edit, delete) reload it through `reload_table` after a change.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import reflex as rx
from sqlmodel import Session

from rxapp import routes
from rxapp.components.page import page_number, page_size_choice
from rxapp.components.timefmt import exact_utc, iso, relative
from rxapp.models import ApiKeyPublic, BiasProfilePublic, KeyPage, utc_now
from rxapp.services import key_policies, rolling, usage
from rxapp.services import keys as key_service
from rxapp.services import profiles as profile_service
from rxapp.services.access import Access
from rxapp.services.keys.idle import IdleNotice
from rxapp.session_guard import Caller
from rxapp.state import AuthState, requires_user

SEARCH_MAX_LENGTH = key_service.SEARCH_MAX_LENGTH


@dataclasses.dataclass
class KeyRow:
    key_id: str = ""
    name: str = ""
    masked: str = ""
    status: str = ""
    last_used: str = ""
    last_used_exact: str = ""
    profile: str = ""
    expires_at: str = ""  # ISO instant: the browser shows it in the reader's zone
    expires_exact: str = ""  # the same instant in UTC, for the hover title
    expiring_soon: bool = False
    unused: bool = False
    calls_7d: int = 0
    rolling_note: str = ""  # "rolling: old key expires in 23 hours" / "rolled from key_…"
    rolling_exact: str = ""  # when the old key stops, in UTC (the note's hover title)
    idle_on: str = ""  # the key policy's unused rule: disabled on this instant if still unused (ISO)
    idle_on_exact: str = ""


@dataclasses.dataclass
class ProfileOption:
    value: str = ""
    label: str = ""


def _rolling_note(key: ApiKeyPublic, links: rolling.RollLinks | None, now: dt.datetime) -> str:
    if links is None:
        return ""
    if links.rolled_to and key.status != "EXPIRED" and key.expires_at:
        return f"rolling: old key expires {relative(key.expires_at, now)}"
    if links.rolled_from:
        return f"rolled from {links.rolled_from}"
    return ""


def key_row(
    key: ApiKeyPublic,
    now: dt.datetime,
    calls_7d: int = 0,
    links: rolling.RollLinks | None = None,
    idle_on: dt.datetime | None = None,
) -> KeyRow:
    """What a table row shows; the flags' thresholds are service rules."""
    return KeyRow(
        idle_on=iso(idle_on),
        idle_on_exact=exact_utc(idle_on),
        calls_7d=calls_7d,
        rolling_note=_rolling_note(key, links, now),
        rolling_exact=exact_utc(key.expires_at) if links and links.rolled_to else "",
        key_id=key.key_id,
        name=key.name,
        masked=key.masked,
        status=key.status,
        last_used=relative(key.last_used_at, now),
        last_used_exact=exact_utc(key.last_used_at) or "Never used",
        profile=key.bias_profile_name or "None",
        expires_at=iso(key.expires_at),
        expires_exact=exact_utc(key.expires_at) or "No end date",
        expiring_soon=key_service.is_expiring_soon(key, now),
        unused=key_service.is_unused(key, now),
    )


def _warned_until(notice: IdleNotice | None) -> dt.datetime | None:
    return notice.when if notice is not None and notice.state == "warning" else None


@dataclasses.dataclass(frozen=True)
class _Loaded:
    page: KeyPage
    any_key: bool
    profiles: list[BiasProfilePublic] | None
    calls: dict[str, int]
    links: dict[str, rolling.RollLinks]
    idle: dict[str, IdleNotice]


class KeysTableState(AuthState):
    rows: list[KeyRow] = []
    total: int = 0
    has_any_key: bool = True
    page: int = 1
    page_count: int = 1
    page_size: int = key_service.PAGE_SIZE_DEFAULT
    search: str = ""
    # A whole secret pasted into the search: only the key it resolved to is kept ("" for none).
    found_by_secret: bool = False
    secret_key_id: str = ""
    status_filter: str = key_service.ALL_STATUSES
    profile_filter: str = key_service.ProfileScope.ALL.value
    identity_filter: str = ""  # an identity's external id (exact)
    sort: str = "created"
    descending: bool = True
    profile_options: list[ProfileOption] = []

    def _query(self) -> key_service.KeyQuery:
        return key_service.KeyQuery(
            search=self.search,
            key_id=self.secret_key_id if self.found_by_secret else None,
            status=key_service.parse_status_filter(self.status_filter),
            bias_profile=key_service.parse_profile_filter(self.profile_filter),
            identity=self.identity_filter,
            sort=key_service.parse_sort(self.sort),
            descending=self.descending,
            page=self.page,
            page_size=self.page_size,
        )

    async def reload(self, access: Access, with_profiles: bool = False) -> None:
        query = self._query()

        def work(session: Session) -> _Loaded:
            result = key_service.list_keys(session, access, query)
            any_key = result.total > 0 or key_service.count_keys(session, access) > 0
            profiles = profile_service.list_profiles(session, access) if with_profiles else None
            ids = [key.key_id for key in result.rows]
            since = utc_now() - usage.WINDOWS["7d"]
            calls = usage.calls_by_key_id(session, access, ids, since)
            links = rolling.page_links(session, access, ids)
            return _Loaded(
                result, any_key, profiles, calls, links, key_policies.idle_notices(session, access, ids)
            )

        loaded = await self.in_session(work)
        now = utc_now()
        rows = [
            key_row(
                key,
                now,
                loaded.calls.get(key.key_id, 0),
                loaded.links.get(key.key_id),
                _warned_until(loaded.idle.get(key.key_id)),
            )
            for key in loaded.page.rows
        ]
        if rows != self.rows:  # no update sent when nothing changed (the table refreshes every 3 s)
            self.rows = rows
        self.total = loaded.page.total
        self.page = loaded.page.page
        self.page_count = max((loaded.page.total + loaded.page.page_size - 1) // loaded.page.page_size, 1)
        self.has_any_key = loaded.any_key
        if loaded.profiles is not None:
            options = [ProfileOption(value=str(p.id), label=p.name) for p in loaded.profiles]
            if options != self.profile_options:
                self.profile_options = options

    @rx.event
    @requires_user
    async def load(self, user: Caller):
        await self.reload(user.access, with_profiles=True)

    @rx.event
    @requires_user
    async def refresh(self, user: Caller, _tick: str = ""):
        """Called every few seconds by the page: Last Used and status change without a reload."""
        await self.reload(user.access)

    @rx.event
    @requires_user
    async def set_search(self, user: Caller, value: str):
        """A whole secret pasted here is digested by the service and then dropped: the field shows
        the key ID it resolved to (or is emptied), so the secret is in no state, URL or page."""
        text = value[:SEARCH_MAX_LENGTH]
        match = await self.in_session(key_service.find_by_secret, user.access, text)
        if match is None:
            self.found_by_secret, self.secret_key_id, self.search = False, "", text
        else:
            shown = match.key_id or ""
            if shown == self.search:  # unchanged, the browser's field would keep the secret
                self.search = " "
                yield
            self.found_by_secret, self.secret_key_id, self.search = True, shown, shown
        await self._first_page(user)

    @rx.event
    @requires_user
    async def set_status_filter(self, user: Caller, value: str):
        self.status_filter = value if value in key_service.STATUS_CHOICES else key_service.ALL_STATUSES
        await self._first_page(user)

    @rx.event
    @requires_user
    async def set_profile_filter(self, user: Caller, value: str):
        self.profile_filter = str(key_service.parse_profile_filter(value))
        await self._first_page(user)

    @rx.event
    @requires_user
    async def set_identity_filter(self, user: Caller, value: str):
        self.identity_filter = value[: key_service.SEARCH_MAX_LENGTH]
        await self._first_page(user)

    @rx.event
    @requires_user
    async def set_sort(self, user: Caller, value: str):
        self.sort = key_service.parse_sort(value)
        self.descending = self.sort != "name"
        await self._first_page(user)

    @rx.event
    @requires_user
    async def toggle_direction(self, user: Caller):
        self.descending = not self.descending
        await self._first_page(user)

    @rx.event
    @requires_user
    async def go_to_page(self, user: Caller, page: int | str):
        """Previous/Next, or a page number typed into "Go to page" (clamped to the last page)."""
        self.page = min(page_number(page), self.page_count)
        await self.reload(user.access)

    @rx.event
    @requires_user
    async def set_page_size(self, user: Caller, value: str):
        self.page_size = page_size_choice(value, key_service.PAGE_SIZE_DEFAULT)
        await self._first_page(user)

    async def _first_page(self, user: Caller) -> None:
        self.page = 1
        await self.reload(user.access)


async def reload_table(state: AuthState, user: Caller, with_profiles: bool = False) -> None:
    """For the dialogs: bring the table (and, when asked, the profile choices) up to date."""
    table = await state.get_state(KeysTableState)
    await table.reload(user.access, with_profiles=with_profiles)


def profile_select(value: rx.Var, on_change: rx.EventHandler, select_id: str) -> rx.Component:
    """The Bias Profile picker of the create and edit dialogs ("No profile" first). A user with no
    profiles yet is told where to make one."""
    hint = rx.cond(
        KeysTableState.profile_options.length() == 0,
        rx.text(
            "No Bias Profiles yet. ",
            rx.link(
                "Create one on the Profiles page",
                href=routes.in_workspace(AuthState.current_workspace, routes.PROFILES),
                id=f"{select_id}-hint-link",
                underline="always",
            ),
            ".",
            size="1",
            color=rx.color("gray", 11),
            id=f"{select_id}-hint",
        ),
    )
    return rx.fragment(_profile_picker(value, on_change, select_id), hint)


def _profile_picker(value: rx.Var, on_change: rx.EventHandler, select_id: str) -> rx.Component:
    return rx.select.root(
        rx.select.trigger(id=select_id, width="100%"),
        rx.select.content(
            rx.select.item("No profile", value=key_service.ProfileScope.NONE.value),
            rx.foreach(
                KeysTableState.profile_options,
                lambda option: rx.select.item(option.label, value=option.value),
            ),
        ),
        value=value,
        on_change=on_change,
    )
