"""The API Keys page: table, search/filter/sort/pages, create (one-time reveal), edit, delete, help."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import reflex as rx
from reflex.experimental.client_state import ClientStateVar

from rxapp.components.clipped import clipped_text
from rxapp.components.layout import protected_page
from rxapp.components.row_actions import edit_delete_buttons
from rxapp.components.timefmt import exact_utc, relative, short_date
from rxapp.models import ApiKeyPublic, KeyStatus, utc_now
from rxapp.services import keys as key_service
from rxapp.services import profiles as profile_service
from rxapp.services.errors import ServiceError
from rxapp.state import AuthState

EXPIRY_CHOICES = {
    "never": "Never",
    "7": "7 days",
    "30": "30 days",
    "60": "60 days",
    "90": "90 days",
    "custom": "Custom date",
}
SORT_CHOICES = {"created": "Created", "name": "Name", "last_used": "Last used", "expires": "Expires"}
STATUS_CHOICES = {"all": "All statuses", "ACTIVE": "Active", "INACTIVE": "Inactive", "EXPIRED": "Expired"}
EXPIRING_SOON = dt.timedelta(days=7)
UNUSED_FOR = dt.timedelta(days=90)
REFRESH_MILLISECONDS = 3000
# The one-time reveal lives only in the browser: the server pushes it once, never stores it in a
# state var (state is persisted and hydrated), and it is gone on close, reload or a new tab.
revealed_secret = ClientStateVar.create("revealed_secret", "")


@dataclasses.dataclass
class KeyRow:
    key_id: str = ""
    name: str = ""
    masked: str = ""
    status: str = ""
    last_used: str = ""
    last_used_exact: str = ""
    profile: str = ""
    expires: str = ""
    expires_exact: str = ""
    expiring_soon: bool = False
    unused: bool = False


@dataclasses.dataclass
class ProfileOption:
    value: str = ""
    label: str = ""


def _row(key: ApiKeyPublic, now: dt.datetime) -> KeyRow:
    expired = key.status == KeyStatus.EXPIRED
    last_activity = key.last_used_at or key.created_at
    return KeyRow(
        key_id=key.key_id,
        name=key.name,
        masked=key.masked,
        status=key.status,
        last_used=relative(key.last_used_at, now),
        last_used_exact=exact_utc(key.last_used_at) or "Never used",
        profile=key.bias_profile_name or "None",
        expires=short_date(key.expires_at),
        expires_exact=relative(key.expires_at, now, never="No end date"),
        expiring_soon=bool(key.expires_at and not expired and key.expires_at - now <= EXPIRING_SOON),
        unused=not expired and now - last_activity >= UNUSED_FOR,
    )


def _parse_date(value: str) -> dt.datetime | None:
    """A date field means midnight UTC at the start of that day."""
    try:
        return dt.datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=dt.UTC)
    except ValueError:
        return None


class KeysState(AuthState):
    rows: list[KeyRow] = []
    total: int = 0
    has_any_key: bool = True
    page: int = 1
    page_count: int = 1
    search: str = ""
    status_filter: str = "all"
    profile_filter: str = "all"
    sort: str = "created"
    descending: bool = True
    profile_options: list[ProfileOption] = []

    # create dialog
    create_open: bool = False
    create_name: str = ""
    create_profile: str = "none"
    create_expiry: str = "never"
    create_custom_date: str = ""
    create_error: str = ""
    create_error_field: str = ""
    creating: bool = False
    # the one-time reveal (the secret itself is client-side only: see `revealed_secret`)
    revealed_key_id: str = ""
    copied: bool = False
    confirm_discard_open: bool = False

    # edit dialog
    edit_open: bool = False
    edit_key_id: str = ""
    edit_name: str = ""
    edit_profile: str = "none"
    edit_status: str = "ACTIVE"
    edit_expired: bool = False
    edit_end_date: str = ""
    edit_error: str = ""
    edit_error_field: str = ""
    _edit_version: int = 0
    _edit_original_end: str = ""

    # delete dialog
    delete_open: bool = False
    delete_key_id: str = ""
    delete_key_name: str = ""

    # ------------------------------------------------------------ loading

    def _query(self) -> key_service.KeyQuery:
        profile: int | None = None
        if self.profile_filter == "none":
            profile = 0
        elif self.profile_filter.isdigit():
            profile = int(self.profile_filter)
        return key_service.KeyQuery(
            search=self.search,
            status="" if self.status_filter == "all" else self.status_filter,  # type: ignore[arg-type]
            bias_profile_id=profile,
            sort=self.sort,  # type: ignore[arg-type]
            descending=self.descending,
            page=self.page,
        )

    async def _reload(self, user_id: int, with_profiles: bool = False) -> None:
        def work(session):
            result = key_service.list_keys(session, user_id, self._query())
            any_key = result.total > 0 or key_service.count_keys(session, user_id) > 0
            profiles = profile_service.list_profiles(session, user_id) if with_profiles else None
            return result, any_key, profiles

        result, any_key, profiles = await self.in_session(work)
        now = utc_now()
        rows = [_row(key, now) for key in result.rows]
        if rows != self.rows:
            self.rows = rows
        self.total = result.total
        self.page = result.page
        self.page_count = max((result.total + result.page_size - 1) // result.page_size, 1)
        self.has_any_key = any_key
        if profiles is not None:
            options = [ProfileOption(value=str(p.id), label=p.name) for p in profiles]
            if options != self.profile_options:
                self.profile_options = options

    @rx.event
    async def load(self):
        user = await self.current_user()
        if user is None:
            return rx.redirect("/sign-in")
        # A reload or a new tab never brings a reveal back.
        self._close_create()
        await self._reload(user.id, with_profiles=True)

    @rx.event
    async def refresh(self, _tick: str = ""):
        """Called every few seconds by the page: Last Used and status change without a reload."""
        user = await self.current_user()
        if user is None:
            return rx.redirect("/sign-in")
        await self._reload(user.id)

    async def _filters_changed(self):
        self.page = 1
        user = await self.current_user()
        if user is None:
            return rx.redirect("/sign-in")
        await self._reload(user.id)

    @rx.event
    async def set_search(self, value: str):
        self.search = value[:100]
        return await self._filters_changed()

    @rx.event
    async def set_status_filter(self, value: str):
        self.status_filter = value if value in STATUS_CHOICES else "all"
        return await self._filters_changed()

    @rx.event
    async def set_profile_filter(self, value: str):
        self.profile_filter = value if value in ("all", "none") or value.isdigit() else "all"
        return await self._filters_changed()

    @rx.event
    async def set_sort(self, value: str):
        self.sort = value if value in SORT_CHOICES else "created"
        self.descending = value != "name"
        return await self._filters_changed()

    @rx.event
    async def toggle_direction(self):
        self.descending = not self.descending
        return await self._filters_changed()

    @rx.event
    async def go_to_page(self, page: int):
        self.page = max(1, min(int(page), self.page_count))
        user = await self.current_user()
        if user is None:
            return rx.redirect("/sign-in")
        await self._reload(user.id)

    # ------------------------------------------------------------ create

    @rx.event
    async def open_create(self):
        user = await self.current_user()
        if user is None:
            return rx.redirect("/sign-in")
        self._clear_reveal()
        self.create_name = ""
        self.create_profile = "none"
        self.create_expiry = "never"
        self.create_custom_date = ""
        self.create_error = ""
        self.create_error_field = ""
        await self._reload(user.id, with_profiles=True)
        self.create_open = True

    def _clear_reveal(self) -> None:
        self.revealed_key_id = ""
        self.copied = False
        self.confirm_discard_open = False

    @rx.event
    def set_create_name(self, value: str):
        self.create_name = value[:200]
        if self.create_error_field == "name":
            self.create_error = ""
            self.create_error_field = ""

    @rx.event
    def set_create_profile(self, value: str):
        self.create_profile = value

    @rx.event
    def set_create_expiry(self, value: str):
        self.create_expiry = value if value in EXPIRY_CHOICES else "never"

    @rx.event
    def set_create_custom_date(self, value: str):
        self.create_custom_date = value

    def _create_end_date(self, now: dt.datetime) -> dt.datetime | None:
        if self.create_expiry == "never":
            return None
        if self.create_expiry == "custom":
            end = _parse_date(self.create_custom_date)
            if end is None:
                raise ServiceError("Choose the end date.", field="expires_at")
            return end
        return now + dt.timedelta(days=int(self.create_expiry))

    @rx.event
    async def submit_create(self):
        if self.creating or self.revealed_key_id:
            return
        user = await self.current_user()
        if user is None:
            yield rx.redirect("/sign-in")
            return
        profile_id = int(self.create_profile) if self.create_profile.isdigit() else None
        self.creating = True
        try:
            expires_at = self._create_end_date(utc_now())
            created = await self.in_session(
                key_service.create_key,
                user.id,
                user.email,
                self.create_name,
                bias_profile_id=profile_id,
                expires_at=expires_at,
                client_address=self.client_address(),
            )
        except ServiceError as error:
            self.create_error = error.message
            self.create_error_field = error.field
            return
        finally:
            self.creating = False
        # Committed above; only now does the secret reach the browser, once, as a client-side
        # value. `created` is dropped when this handler returns: the server keeps no copy.
        self.revealed_key_id = created.key.key_id
        self.copied = False
        self.create_error = ""
        yield revealed_secret.push(created.secret)  # show it now; refresh the table afterwards
        del created
        await self._reload(user.id)

    @rx.event
    def mark_copied(self):
        self.copied = True

    @rx.event
    def request_close_create(self):
        if self.revealed_key_id and not self.copied:
            self.confirm_discard_open = True
            return
        self._close_create()
        return revealed_secret.push("")

    @rx.event
    def create_open_changed(self, is_open: bool):
        if not is_open:
            return KeysState.request_close_create

    @rx.event
    def keep_reveal_open(self):
        self.confirm_discard_open = False

    @rx.event
    def discard_reveal(self):
        self._close_create()
        return revealed_secret.push("")

    def _close_create(self) -> None:
        self._clear_reveal()
        self.create_open = False

    # ------------------------------------------------------------ edit

    @rx.event
    async def open_edit(self, key_id: str):
        user = await self.current_user()
        if user is None:
            return rx.redirect("/sign-in")
        try:
            key = await self.in_session(key_service.get_key, user.id, key_id)
        except ServiceError as error:
            return rx.toast.error(error.message)
        await self._reload(user.id, with_profiles=True)
        self.edit_key_id = key.key_id
        self.edit_name = key.name
        self.edit_profile = str(key.bias_profile_id) if key.bias_profile_id else "none"
        self.edit_expired = key.status == KeyStatus.EXPIRED
        self.edit_status = key.status
        self.edit_end_date = key.expires_at.strftime("%Y-%m-%d") if key.expires_at else ""
        self._edit_original_end = self.edit_end_date
        self._edit_version = key.version
        self.edit_error = ""
        self.edit_error_field = ""
        self.edit_open = True

    @rx.event
    def set_edit_name(self, value: str):
        self.edit_name = value[:200]
        if self.edit_error_field == "name":
            self.edit_error = ""
            self.edit_error_field = ""

    @rx.event
    def set_edit_profile(self, value: str):
        self.edit_profile = value

    @rx.event
    def set_edit_status(self, value: str):
        if value in (KeyStatus.ACTIVE, KeyStatus.INACTIVE):
            self.edit_status = value

    @rx.event
    def set_edit_end_date(self, value: str):
        self.edit_end_date = value

    @rx.event
    def clear_edit_end_date(self):
        self.edit_end_date = ""

    @rx.event
    def set_edit_open(self, is_open: bool):
        self.edit_open = is_open

    @rx.event
    async def submit_edit(self):
        user = await self.current_user()
        if user is None:
            return rx.redirect("/sign-in")
        changes: dict[str, Any] = {
            "name": self.edit_name,
            "bias_profile_id": int(self.edit_profile) if self.edit_profile.isdigit() else None,
        }
        if not self.edit_expired:
            changes["status"] = self.edit_status
            if self.edit_end_date != self._edit_original_end:
                if self.edit_end_date:
                    end = _parse_date(self.edit_end_date)
                    if end is None:
                        self.edit_error, self.edit_error_field = "Enter a valid end date.", "expires_at"
                        return
                    changes["expires_at"] = end
                else:
                    changes["expires_at"] = None
        try:
            updated = await self.in_session(
                key_service.update_key,
                user.id,
                user.email,
                self.edit_key_id,
                key_service.parse_changes(changes),
                expected_version=self._edit_version,
                client_address=self.client_address(),
            )
        except ServiceError as error:
            self.edit_error = error.message
            self.edit_error_field = error.field
            return
        self.edit_open = False
        await self._reload(user.id)
        return rx.toast.success(f"Saved {updated.name}")

    # ------------------------------------------------------------ delete

    @rx.event
    async def open_delete(self, key_id: str):
        user = await self.current_user()
        if user is None:
            return rx.redirect("/sign-in")
        try:
            key = await self.in_session(key_service.get_key, user.id, key_id)
        except ServiceError as error:
            return rx.toast.error(error.message)
        self.delete_key_id = key.key_id
        self.delete_key_name = key.name
        self.delete_open = True

    @rx.event
    def set_delete_open(self, is_open: bool):
        self.delete_open = is_open

    @rx.event
    async def confirm_delete(self):
        user = await self.current_user()
        if user is None:
            return rx.redirect("/sign-in")
        name = self.delete_key_name
        try:
            await self.in_session(
                key_service.delete_key,
                user.id,
                user.email,
                self.delete_key_id,
                client_address=self.client_address(),
            )
        except ServiceError as error:
            self.delete_open = False
            return rx.toast.error(error.message)
        self.delete_open = False
        await self._reload(user.id)
        return rx.toast.success(f"Deleted {name}")


# ---------------------------------------------------------------- components


def status_badge(status) -> rx.Component:
    return rx.badge(
        status,
        color_scheme=rx.match(status, ("ACTIVE", "green"), ("INACTIVE", "gray"), ("EXPIRED", "red"), "gray"),
        variant="soft",
        size="2",
    )


def key_row(row: KeyRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.code(row.key_id, variant="ghost", size="2")),
        rx.table.cell(clipped_text(row.name, weight="medium"), id="name-" + row.key_id),
        rx.table.cell(rx.code(row.masked, size="2"), id="masked-" + row.key_id),
        rx.table.cell(status_badge(row.status), id="status-" + row.key_id),
        rx.table.cell(
            rx.tooltip(rx.text(row.last_used, size="2"), content=row.last_used_exact),
            rx.cond(
                row.unused,
                rx.badge(
                    "Unused 90+ days", color_scheme="amber", variant="outline", size="1", margin_left="1"
                ),
            ),
            id="last-used-" + row.key_id,
        ),
        rx.table.cell(row.profile, id="profile-" + row.key_id),
        rx.table.cell(
            rx.tooltip(rx.text(row.expires, size="2"), content=row.expires_exact),
            rx.cond(
                row.expiring_soon, rx.badge("Expires soon", color_scheme="orange", size="1", margin_left="1")
            ),
            id="expires-" + row.key_id,
        ),
        rx.table.cell(
            edit_delete_buttons(
                row.name,
                "edit-" + row.key_id,
                "delete-" + row.key_id,
                KeysState.open_edit(row.key_id),
                KeysState.open_delete(row.key_id),
            )
        ),
        id="row-" + row.key_id,
    )


def _choices(choices: dict[str, str]) -> list[rx.Component]:
    return [rx.select.item(label, value=value) for value, label in choices.items()]


def profile_select(value, on_change, select_id: str, first_label: str) -> rx.Component:
    return rx.select.root(
        rx.select.trigger(id=select_id, width="100%"),
        rx.select.content(
            rx.select.item(first_label, value="none"),
            rx.foreach(
                KeysState.profile_options, lambda option: rx.select.item(option.label, value=option.value)
            ),
        ),
        value=value,
        on_change=on_change,
    )


def field_error(message, show) -> rx.Component:
    return rx.cond(show, rx.text(message, color=rx.color("red", 11), size="1", role="alert"))


def create_dialog() -> rx.Component:
    form = rx.vstack(
        rx.dialog.description("Give the key a name that says which application will use it."),
        rx.vstack(
            rx.el.label("Name", html_for="create-name", font_size="14px", font_weight="500"),
            rx.input(
                value=KeysState.create_name,
                on_change=KeysState.set_create_name,
                id="create-name",
                placeholder="e.g. checkout-service production",
                max_length=100,
                width="100%",
                auto_focus=True,
            ),
            field_error(KeysState.create_error, KeysState.create_error_field == "name"),
            spacing="1",
            width="100%",
        ),
        rx.vstack(
            rx.el.label(
                "Bias Profile (optional)", html_for="create-profile", font_size="14px", font_weight="500"
            ),
            profile_select(
                KeysState.create_profile, KeysState.set_create_profile, "create-profile", "No profile"
            ),
            spacing="1",
            width="100%",
        ),
        rx.vstack(
            rx.el.label("Expires", html_for="create-expiry", font_size="14px", font_weight="500"),
            rx.select.root(
                rx.select.trigger(id="create-expiry", width="100%"),
                rx.select.content(*_choices(EXPIRY_CHOICES)),
                value=KeysState.create_expiry,
                on_change=KeysState.set_create_expiry,
            ),
            rx.cond(
                KeysState.create_expiry == "custom",
                rx.input(
                    type="date",
                    value=KeysState.create_custom_date,
                    on_change=KeysState.set_create_custom_date,
                    id="create-custom-date",
                    aria_label="Custom end date",
                    width="100%",
                ),
            ),
            field_error(KeysState.create_error, KeysState.create_error_field == "expires_at"),
            spacing="1",
            width="100%",
        ),
        field_error(
            KeysState.create_error,
            (KeysState.create_error != "")
            & (KeysState.create_error_field != "name")
            & (KeysState.create_error_field != "expires_at"),
        ),
        rx.hstack(
            rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray", id="create-cancel")),
            rx.button(
                "Create API Key",
                on_click=KeysState.submit_create,
                loading=KeysState.creating,
                id="create-submit",
            ),
            justify="end",
            width="100%",
            spacing="3",
        ),
        spacing="4",
    )
    reveal = rx.vstack(
        rx.callout.root(  # root + icon, not rx.callout(): its text is a <p>, which cannot hold blocks
            rx.callout.icon(rx.icon("shield-alert")),
            rx.vstack(
                rx.text("Store it securely. This key will not be shown again.", weight="bold", size="2"),
                rx.text(
                    "Copy the API key value by clicking on the Copy Icon, then put it in a secure "
                    "environment variable or secret store. If you lose it, create a new key.",
                    size="2",
                ),
                spacing="1",
            ),
            color_scheme="amber",
            id="reveal-warning",
        ),
        rx.el.label("Your new API key", html_for="new-key-secret", font_size="14px", font_weight="500"),
        rx.hstack(
            rx.input(
                value=revealed_secret.value,
                read_only=True,
                id="new-key-secret",
                width="100%",
                font_family="monospace",
                size="3",
            ),
            rx.tooltip(
                rx.icon_button(
                    rx.icon("copy", size=18),
                    size="3",
                    id="copy-new-key",
                    aria_label="Copy API key",
                    on_click=[
                        rx.set_clipboard(revealed_secret.value),
                        KeysState.mark_copied,
                        rx.toast.success("API key copied to the clipboard"),
                    ],
                ),
                content="Copy",
            ),
            width="100%",
        ),
        rx.text("Key ID: ", rx.code(KeysState.revealed_key_id), size="2"),
        rx.hstack(
            rx.button("Done", on_click=KeysState.request_close_create, id="create-done"),
            justify="end",
            width="100%",
        ),
        rx.alert_dialog.root(
            rx.alert_dialog.content(
                rx.alert_dialog.title("Close without copying?"),
                rx.alert_dialog.description(
                    "You have not copied this API key. Once you close this dialog it cannot be shown again."
                ),
                rx.hstack(
                    rx.button(
                        "Go back",
                        variant="soft",
                        color_scheme="gray",
                        on_click=KeysState.keep_reveal_open,
                        id="discard-cancel",
                    ),
                    rx.button(
                        "Close anyway",
                        color_scheme="red",
                        on_click=KeysState.discard_reveal,
                        id="discard-confirm",
                    ),
                    justify="end",
                    spacing="3",
                    margin_top="4",
                ),
            ),
            open=KeysState.confirm_discard_open,
        ),
        spacing="3",
        width="100%",
    )
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(
                rx.cond(KeysState.revealed_key_id != "", "API key created", "Create New API Key")
            ),
            rx.cond(KeysState.revealed_key_id != "", reveal, form),
            max_width="520px",
            id="create-dialog",
        ),
        open=KeysState.create_open,
        on_open_change=KeysState.create_open_changed,
    )


def edit_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Update API Key"),
            rx.dialog.description(rx.text("Key ID: ", rx.code(KeysState.edit_key_id))),
            rx.vstack(
                rx.vstack(
                    rx.el.label("Name", html_for="edit-name", font_size="14px", font_weight="500"),
                    rx.input(
                        value=KeysState.edit_name,
                        on_change=KeysState.set_edit_name,
                        id="edit-name",
                        max_length=100,
                        width="100%",
                    ),
                    field_error(KeysState.edit_error, KeysState.edit_error_field == "name"),
                    spacing="1",
                    width="100%",
                ),
                rx.vstack(
                    rx.el.label("Bias Profile", html_for="edit-profile", font_size="14px", font_weight="500"),
                    profile_select(
                        KeysState.edit_profile, KeysState.set_edit_profile, "edit-profile", "No profile"
                    ),
                    field_error(KeysState.edit_error, KeysState.edit_error_field == "bias_profile_id"),
                    spacing="1",
                    width="100%",
                ),
                rx.vstack(
                    rx.el.label("Status", html_for="edit-status", font_size="14px", font_weight="500"),
                    rx.cond(
                        KeysState.edit_expired,
                        rx.vstack(
                            status_badge("EXPIRED"),
                            rx.text(
                                "This key reached its end date. An expired key cannot be reactivated; "
                                "create a new key instead.",
                                size="2",
                                color=rx.color("gray", 11),
                                id="edit-expired-reason",
                            ),
                        ),
                        rx.select.root(
                            rx.select.trigger(id="edit-status", width="100%"),
                            rx.select.content(
                                rx.select.item("ACTIVE", value="ACTIVE"),
                                rx.select.item("INACTIVE", value="INACTIVE"),
                            ),
                            value=KeysState.edit_status,
                            on_change=KeysState.set_edit_status,
                        ),
                    ),
                    field_error(KeysState.edit_error, KeysState.edit_error_field == "status"),
                    spacing="1",
                    width="100%",
                ),
                rx.cond(
                    ~KeysState.edit_expired,
                    rx.vstack(
                        rx.el.label(
                            "End date (UTC, empty for never)",
                            html_for="edit-end-date",
                            font_size="14px",
                            font_weight="500",
                        ),
                        rx.hstack(
                            rx.input(
                                type="date",
                                value=KeysState.edit_end_date,
                                on_change=KeysState.set_edit_end_date,
                                id="edit-end-date",
                                width="100%",
                            ),
                            rx.button(
                                "Never",
                                variant="soft",
                                color_scheme="gray",
                                on_click=KeysState.clear_edit_end_date,
                                id="edit-end-never",
                            ),
                            width="100%",
                        ),
                        field_error(KeysState.edit_error, KeysState.edit_error_field == "expires_at"),
                        spacing="1",
                        width="100%",
                    ),
                ),
                field_error(
                    KeysState.edit_error,
                    (KeysState.edit_error != "")
                    & (KeysState.edit_error_field != "name")
                    & (KeysState.edit_error_field != "expires_at")
                    & (KeysState.edit_error_field != "status")
                    & (KeysState.edit_error_field != "bias_profile_id"),
                ),
                rx.hstack(
                    rx.dialog.close(
                        rx.button("Cancel", variant="soft", color_scheme="gray", id="edit-cancel")
                    ),
                    rx.button("Save", on_click=KeysState.submit_edit, id="edit-save"),
                    justify="end",
                    width="100%",
                    spacing="3",
                ),
                spacing="4",
                margin_top="3",
            ),
            max_width="520px",
            id="edit-dialog",
        ),
        open=KeysState.edit_open,
        on_open_change=KeysState.set_edit_open,
    )


def delete_dialog() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Delete API key?"),
            rx.alert_dialog.description(
                rx.text(
                    "You are about to delete ",
                    rx.text.strong(KeysState.delete_key_name),
                    " (",
                    rx.code(KeysState.delete_key_id),
                    ").",
                ),
            ),
            rx.callout.root(
                rx.callout.icon(rx.icon("triangle-alert")),
                rx.vstack(
                    rx.text("Warning", weight="bold", size="2"),
                    rx.el.ul(
                        rx.el.li("Deletion is permanent and cannot be undone"),
                        rx.el.li("All services using this key will stop working immediately"),
                        rx.el.li("Make sure to update any applications using the deleted key"),
                        padding_left="1.2em",
                    ),
                    spacing="1",
                    font_size="14px",
                ),
                color_scheme="red",
                margin_top="3",
                id="delete-warning",
            ),
            rx.hstack(
                rx.alert_dialog.cancel(
                    rx.button("Cancel", variant="soft", color_scheme="gray", id="delete-cancel")
                ),
                rx.button(
                    "Delete", color_scheme="red", on_click=KeysState.confirm_delete, id="confirm-delete"
                ),
                justify="end",
                spacing="3",
                margin_top="4",
            ),
            max_width="480px",
        ),
        open=KeysState.delete_open,
        on_open_change=KeysState.set_delete_open,
    )


def help_dialog() -> rx.Component:
    def practice(title: str, *items: str) -> rx.Component:
        return rx.vstack(
            rx.text(title, weight="bold"),
            rx.el.ul(*[rx.el.li(item) for item in items], padding_left="1.2em"),
            spacing="1",
        )

    return rx.dialog.root(
        rx.dialog.trigger(
            rx.button(
                rx.icon("circle-help", size=16), "Help", variant="soft", color_scheme="gray", id="open-help"
            )
        ),
        rx.dialog.content(
            rx.dialog.title("API Key Status and Best Practices"),
            rx.heading("API Key Status", size="3", margin_top="2"),
            rx.text("Your API keys can have the following statuses:", size="2"),
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        rx.table.column_header_cell("Status"), rx.table.column_header_cell("Description")
                    )
                ),
                rx.table.body(
                    rx.table.row(
                        rx.table.cell(status_badge("ACTIVE")),
                        rx.table.cell("Key is working and can make API calls"),
                    ),
                    rx.table.row(
                        rx.table.cell(status_badge("INACTIVE")), rx.table.cell("Key is temporarily disabled")
                    ),
                    rx.table.row(
                        rx.table.cell(status_badge("EXPIRED")), rx.table.cell("Key has reached its end date")
                    ),
                ),
                size="1",
                id="help-status-table",
            ),
            rx.heading("Best Practices", size="3", margin_top="4"),
            rx.vstack(
                practice(
                    "1. Regular Rotation",
                    "Rotate keys periodically for security",
                    "Create new keys before deleting old ones",
                    "Update applications with new keys gradually",
                ),
                practice(
                    "2. Access Control",
                    "Use different keys for different applications",
                    "Assign appropriate Bias Profiles to each key",
                    "Monitor “Last Used” timestamps regularly",
                ),
                practice(
                    "3. Security",
                    "Never share API keys publicly",
                    "Store keys in secure environment variables",
                    "Delete unused or compromised keys immediately",
                ),
                spacing="3",
                margin_top="2",
            ),
            rx.hstack(rx.dialog.close(rx.button("Close", id="help-close")), justify="end", margin_top="4"),
            max_width="600px",
            id="help-dialog",
        ),
    )


def toolbar() -> rx.Component:
    return rx.hstack(
        rx.input(
            rx.input.slot(rx.icon("search", size=16)),
            placeholder="Search by name or key ID",
            value=KeysState.search,
            on_change=KeysState.set_search.debounce(300),
            id="search-keys",
            aria_label="Search keys",
            width="280px",
            max_length=100,
        ),
        rx.select.root(
            rx.select.trigger(id="status-filter", aria_label="Filter by status"),
            rx.select.content(*_choices(STATUS_CHOICES)),
            value=KeysState.status_filter,
            on_change=KeysState.set_status_filter,
        ),
        rx.select.root(
            rx.select.trigger(id="profile-filter", aria_label="Filter by Bias Profile"),
            rx.select.content(
                rx.select.item("All profiles", value="all"),
                rx.select.item("No profile", value="none"),
                rx.foreach(
                    KeysState.profile_options, lambda option: rx.select.item(option.label, value=option.value)
                ),
            ),
            value=KeysState.profile_filter,
            on_change=KeysState.set_profile_filter,
        ),
        rx.spacer(),
        rx.text("Sort by", size="2", color=rx.color("gray", 11)),
        rx.select.root(
            rx.select.trigger(id="sort-keys", aria_label="Sort by"),
            rx.select.content(*_choices(SORT_CHOICES)),
            value=KeysState.sort,
            on_change=KeysState.set_sort,
        ),
        rx.tooltip(
            rx.icon_button(
                rx.cond(
                    KeysState.descending,
                    rx.icon("arrow-down-wide-narrow", size=16),
                    rx.icon("arrow-up-narrow-wide", size=16),
                ),
                variant="soft",
                color_scheme="gray",
                on_click=KeysState.toggle_direction,
                id="sort-direction",
                aria_label=rx.cond(KeysState.descending, "Sorted descending", "Sorted ascending"),
            ),
            content=rx.cond(KeysState.descending, "Descending", "Ascending"),
        ),
        width="100%",
        spacing="3",
        align="center",
        wrap="wrap",
    )


def keys_table() -> rx.Component:
    headers = ["API Key ID", "Name", "API Key", "Status", "Last Used", "Bias Profile", "Expires", "Actions"]
    return rx.table.root(
        rx.table.header(rx.table.row(*[rx.table.column_header_cell(label) for label in headers])),
        rx.table.body(rx.foreach(KeysState.rows, key_row)),
        variant="surface",
        width="100%",
        id="keys-table",
    )


def empty_state() -> rx.Component:
    return rx.center(
        rx.vstack(
            rx.icon("key-round", size=40, color=rx.color("gray", 9)),
            rx.heading("No API keys yet", size="4"),
            rx.text("Create a key for each application that calls the service.", color=rx.color("gray", 11)),
            rx.button(
                rx.icon("plus", size=16),
                "Create your first API key",
                on_click=KeysState.open_create,
                id="create-first-key",
            ),
            align="center",
            spacing="3",
        ),
        padding="9",
        border=f"1px dashed {rx.color('gray', 6)}",
        border_radius="12px",
        width="100%",
        id="keys-empty",
    )


def pagination() -> rx.Component:
    return rx.hstack(
        rx.text(
            KeysState.total,
            rx.cond(KeysState.total == 1, " key", " keys"),
            size="2",
            color=rx.color("gray", 11),
            id="keys-total",
        ),
        rx.spacer(),
        rx.button(
            rx.icon("chevron-left", size=16),
            "Previous",
            variant="soft",
            color_scheme="gray",
            disabled=KeysState.page <= 1,
            on_click=KeysState.go_to_page(KeysState.page - 1),
            id="page-prev",
        ),
        rx.text("Page ", KeysState.page, " of ", KeysState.page_count, size="2", id="page-indicator"),
        rx.button(
            "Next",
            rx.icon("chevron-right", size=16),
            variant="soft",
            color_scheme="gray",
            disabled=KeysState.page >= KeysState.page_count,
            on_click=KeysState.go_to_page(KeysState.page + 1),
            id="page-next",
        ),
        width="100%",
        align="center",
        spacing="3",
    )


def keys_content() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.vstack(
                rx.heading("API Keys", size="7", as_="h1"),
                rx.text(
                    "Keys let your applications call the service. Each key carries a Bias Profile.",
                    color=rx.color("gray", 11),
                    size="2",
                ),
                spacing="1",
            ),
            rx.spacer(),
            help_dialog(),
            rx.button(
                rx.icon("plus", size=16),
                "Create New API Key",
                on_click=KeysState.open_create,
                id="create-key-button",
                size="3",
            ),
            width="100%",
            align="center",
            spacing="3",
        ),
        rx.cond(
            KeysState.has_any_key,
            rx.vstack(
                toolbar(),
                keys_table(),
                rx.cond(
                    KeysState.total == 0,
                    rx.text(
                        "No keys match your search or filters.", color=rx.color("gray", 11), id="no-matches"
                    ),
                ),
                pagination(),
                spacing="3",
                width="100%",
            ),
            empty_state(),
        ),
        create_dialog(),
        edit_dialog(),
        delete_dialog(),
        # A pooled client-side timer: each open tab asks for one small page query every few seconds.
        rx.moment(
            interval=REFRESH_MILLISECONDS, on_change=KeysState.refresh, display="none", id="keys-refresh"
        ),
        spacing="5",
        width="100%",
    )


def keys_page() -> rx.Component:
    return protected_page(keys_content())
