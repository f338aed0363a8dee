"""What the create and edit dialogs share: the name and profile handlers, the end-date picker and
the rate limit field.

A custom end date means the end of that day in the reader's time zone, so the dialog asks the
browser for its zone (IANA name and UTC offset) and its own today when it opens. The picker offers
no day before that today; the service turns the date into an instant and refuses a past one.
"""

from __future__ import annotations

import datetime as dt

import reflex as rx

from rxapp.components.forms import invalid_if, labelled_field
from rxapp.components.timefmt import BROWSER_ZONE_SCRIPT, browser_zone, exact_utc, iso, local_time
from rxapp.models import utc_now
from rxapp.services import keys as key_service
from rxapp.services.errors import ServiceError


class KeyFormFields(rx.State, mixin=True):
    """Mixed into CreateKeyState and EditKeyState (each keeps its own copy of these vars)."""

    name: str = ""
    profile: str = key_service.ProfileScope.NONE.value
    error: str = ""
    error_field: str = ""
    time_zone: str = ""  # the browser's IANA zone ("" until it answers)
    zone_offset: int = 0  # minutes east of UTC, when the browser names no zone
    today: str = ""  # the reader's local date: the picker's minimum
    end_preview: str = ""  # the chosen end date's last second (ISO), shown back in local time
    end_preview_exact: str = ""

    @rx.event
    def set_name(self, value: str):
        self.name = value[:200]
        if self.error_field == "name":
            self.error = self.error_field = ""

    @rx.event
    def set_profile(self, value: str):
        self.profile = value

    @rx.event
    def set_browser_zone(self, values: list):
        """The browser's answer to BROWSER_ZONE_SCRIPT (anything odd falls back to UTC)."""
        self.time_zone, self.zone_offset, self.today = browser_zone(values)
        self._zone_known()

    def _zone_known(self) -> None:
        """Hook: the dialog re-reads what depends on the zone (edit: the end date's local day)."""

    def ask_browser_zone(self):
        """Yield this from the dialog's `start`: the browser answers through `set_browser_zone`."""
        return rx.call_script(BROWSER_ZONE_SCRIPT, callback=type(self).set_browser_zone)

    def zone(self) -> dt.tzinfo:
        return key_service.reader_zone(self.time_zone, self.zone_offset)

    def local_end(self, date_text: str) -> dt.datetime:
        """The picked date as an instant: the end of that day here (ValidationError if past/invalid)."""
        return key_service.local_end_date(date_text, self.zone(), utc_now())

    def preview_end(self, date_text: str) -> None:
        """Show the moment a picked date stands for, or nothing while it is not a valid choice."""
        try:
            end = self.local_end(date_text) if date_text else None
        except ServiceError:
            end = None
        self.end_preview, self.end_preview_exact = iso(end), exact_utc(end)


def end_date_input(state: type[KeyFormFields], value, on_change, control_id: str, **props) -> rx.Component:
    """A date picker that offers no day before the reader's today, and the end it stands for."""
    return rx.vstack(
        rx.input(
            type="date",
            value=value,
            on_change=on_change,
            id=control_id,
            name=control_id,  # a form submits named controls only (an id alone is deprecated)
            min=state.today,
            aria_invalid=invalid_if(state.error_field, "expires_at"),
            aria_describedby=control_id + "-preview",
            width="100%",
            **props,
        ),
        rx.cond(
            state.end_preview != "",
            rx.text(
                "Ends ",
                local_time(state.end_preview, state.end_preview_exact, element_id=control_id + "-end"),
                " your time (the end of that day)",
                size="1",
                color=rx.color("gray", 11),
                id=control_id + "-preview",
            ),
            # said before a day is picked too: the same meaning as a token's expiry date
            rx.text(
                "Ends at the end of that day, your time",
                size="1",
                color=rx.color("gray", 11),
                id=control_id + "-preview",
            ),
        ),
        spacing="1",
        width="100%",
    )


RATE_LIMIT_FIELD = "rate_limit_per_minute"  # the service error's field


def rate_limit_field(state: type[KeyFormFields], control_id: str, **input_props) -> rx.Component:
    """Calls per minute this key may make: blank for no limit. The service checks the value and its
    error shows next to the field (BAD_RATE_LIMIT)."""
    return labelled_field(
        "Rate limit (calls per minute, optional)",
        rx.vstack(
            rx.input(
                id=control_id,
                name="rate_limit",
                input_mode="numeric",
                placeholder="No limit",
                width="100%",
                aria_invalid=invalid_if(state.error_field, RATE_LIMIT_FIELD),
                aria_describedby=control_id + "-hint",
                **input_props,
            ),
            rx.text(
                "Empty means no limit; a call over the limit answers RATE_LIMITED.",
                size="1",
                color=rx.color("gray", 11),
                id=control_id + "-hint",
            ),
            spacing="1",
            width="100%",
        ),
        html_for=control_id,
        error=state.error,
        error_field=state.error_field,
        field=RATE_LIMIT_FIELD,
    )
