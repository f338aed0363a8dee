"""Dates and cursors in the management API (issue 21, item 6): a cursor whose time had no time zone
and an end date of `9999-12-31T23:59:59-14:00` (year 10000 in UTC) were 500s. Both are now 422
problem details naming the field, and so is everything of the same class: the reproductions first,
then a Hypothesis fuzz of every input that takes a date or a cursor (bounded and derandomized, so a
run is short and always the same)."""

from __future__ import annotations

import base64
import concurrent.futures
import datetime as dt
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import hypothesis
import pytest
from hypothesis import strategies as st

from tests.api.conftest import management_token
from tests.conftest import Console

SORTS = ("name", "created", "last_used", "expires")
NULLABLE_SORTS = ("last_used", "expires")
CURSOR_MAX = 200  # the query parameter's documented maxLength
DB_INT_MAX = 2**31 - 1
LATEST = "9999-12-30T23:59:59Z"  # the last end date the API accepts (rxapp/services/moments.py)
CURSOR_EXAMPLES = 400
DATE_EXAMPLES = 200
FUZZ = hypothesis.settings(
    deadline=None,
    database=None,  # nothing remembered between runs: every run sends the same inputs
    derandomize=True,
    suppress_health_check=[hypothesis.HealthCheck.too_slow, hypothesis.HealthCheck.data_too_large],
)


def _encode(obj: Any) -> str:
    """A cursor the way the API writes one: URL-safe base64 of JSON, padding stripped."""
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")


def _decode(cursor: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))


def _is_problem(response: httpx.Response) -> dict[str, Any]:
    """Never a 5xx; a 4xx is RFC 9457 problem details (JSON, stable code, no traceback)."""
    assert response.status_code < 500, (response.status_code, response.text)
    assert response.status_code >= 400, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body = response.json()
    assert body["status"] == response.status_code
    assert body["code"] and body["title"] and body["type"] and body["detail"]
    assert "Traceback" not in response.text and 'File "' not in response.text
    return body


def _problem(response: httpx.Response, status: int, code: str, field_name: str) -> None:
    body = _is_problem(response)
    assert (body["status"], body["code"]) == (status, code), body
    assert body.get("field", "").split(".")[-1] == field_name, body


@dataclass
class Caller:
    """The API through several tokens of one user, in turn: the fuzz sends hundreds of requests in
    seconds, more than one token's rate limit lets through. A 429 is waited out and counted, never
    taken for an answer."""

    base_url: str
    tokens: list[str]
    sent: int = 0
    waited: int = 0
    _turn: Any = field(default=None, repr=False)
    _clients: list[httpx.Client] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self._clients = [
            httpx.Client(base_url=self.base_url, headers={"Authorization": f"Bearer {t}"}, timeout=30)
            for t in self.tokens
        ]
        self._turn = itertools.cycle(self._clients)

    def __call__(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        deadline = time.monotonic() + 60
        while True:
            response = next(self._turn).request(method, path, **kwargs)
            self.sent += 1
            if response.status_code != 429 or time.monotonic() > deadline:
                return response
            self.waited += 1
            time.sleep(min(float(response.headers.get("retry-after", "1")), 2.0) / len(self._clients))

    def close(self) -> None:
        for client in self._clients:
            client.close()


def _caller(console: Console, email: str, tokens: int = 1) -> Caller:
    with concurrent.futures.ThreadPoolExecutor(tokens) as pool:
        made = list(pool.map(lambda _: management_token(console, email), range(tokens)))
    return Caller(f"{console.base_url}/api/v1", made)


def _future(days: int) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(days=days)).replace(microsecond=0).isoformat()


# ---------------------------------------------------------------- the reproductions


def test_a_cursor_time_without_a_time_zone_is_a_bad_cursor(console: Console) -> None:
    """Issue 21, item 6: a `sort=created` cursor carrying a naive timestamp was a 500."""
    email = console.new_user()
    api = _caller(console, email)
    for number in range(3):
        assert api(
            "POST", "/keys", json={"name": f"k{number}", "expires_at": _future(10 + number)}
        ).is_success
    for sort in ("created", "expires"):
        params = {"sort": sort, "limit": 1}
        cursor = api("GET", "/keys", params=params).json()["next_cursor"]
        (value, row_id), fingerprint = _decode(cursor)
        assert value.endswith("+00:00")
        assert api("GET", "/keys", params={**params, "cursor": cursor}).status_code == 200
        moment = dt.datetime.fromisoformat(value)
        for tampered in (
            moment.replace(tzinfo=None).isoformat(),  # the cursor
            "9999-12-31T23:59:59-14:00",  # overflows when converted to UTC
            "0001-01-01T00:00:00+14:00",  # and so does this, the other way
            moment.astimezone(
                dt.timezone(dt.timedelta(hours=-5))
            ).isoformat(),  # the same moment, not as written
            value.replace("+00:00", "Z"),
            value[:10],
        ):
            response = api(
                "GET", "/keys", params={**params, "cursor": _encode([[tampered, row_id], fingerprint])}
            )
            _problem(response, 422, "BAD_CURSOR", "cursor")
    api.close()


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_an_end_date_past_year_9999_in_utc_is_a_422_naming_the_field(console: Console, method: str) -> None:
    """Issue 21, item 6: `expires_at: "9999-12-31T23:59:59-14:00"` was a 500 on create and update."""
    email = console.new_user()
    api = _caller(console, email)
    key_id = api("POST", "/keys", json={"name": "kept"}).json()["key_id"]

    def send(value: Any) -> httpx.Response:
        if method == "POST":
            return api("POST", "/keys", json={"name": "dated", "expires_at": value})
        return api("PATCH", f"/keys/{key_id}", json={"expires_at": value})

    for value, code in [
        ("9999-12-31T23:59:59-14:00", "DATE_OUT_OF_RANGE"),  # the date
        ("9999-12-31T23:59:59Z", "DATE_OUT_OF_RANGE"),  # no reader east of UTC could be shown it
        ("9999-12-31T14:00:00+14:00", "DATE_OUT_OF_RANGE"),  # 9999-12-31T00:00:00Z: a second too late
        (253402300799000, "DATE_OUT_OF_RANGE"),  # 9999-12-31T23:59:59Z in Unix milliseconds
        ("0001-01-01T00:00:00+14:00", "INVALID"),  # year 0 in UTC: in the past
        ("2030-01-01T00:00:00", "INVALID"),  # no time zone
        ("not a date", "INVALID_REQUEST"),
        ("10000-01-01T00:00:00Z", "INVALID_REQUEST"),
        ("2030-02-30T00:00:00Z", "INVALID_REQUEST"),
    ]:
        _problem(send(value), 422, code, "expires_at")
    assert api("GET", f"/keys/{key_id}").json()["expires_at"] is None  # nothing was changed
    west = send("2030-01-01T00:00:00-05:00")
    assert west.is_success, west.text
    assert west.json()["expires_at"] == "2030-01-01T05:00:00Z"  # stored and answered in UTC
    last = send(LATEST)
    assert last.is_success and last.json()["expires_at"] == LATEST, last.text
    rolled = api("POST", f"/keys/{last.json()['key_id']}/roll", json={"grace": "0"})
    assert rolled.status_code == 201, rolled.text
    assert rolled.json()["key"]["expires_at"] == LATEST
    api.close()


def test_an_expiry_the_cli_cannot_store_is_one_line_of_error(console: Console) -> None:
    """Tokens' expiry comes from the CLI (`--expires-at`): the same dates were a traceback there."""
    email = console.new_user()
    for value in ("9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "9999-12-31", "soon"):
        for command in (["create-token", email, "ci", "--scopes", "keys:read"], ["create-key", email, "k"]):
            result = console.cli(*command, "--expires-at", value, check=False)
            assert result.returncode == 1 and result.stdout == "", (command, value, result)
            assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    token = console.cli("create-token", email, "ci", "--scopes", "keys:read", "--expires-at", LATEST).stdout
    assert token.startswith("bpm_")


def test_a_nul_in_a_search_or_an_audit_target_matches_nothing(console: Console) -> None:
    """PostgreSQL refuses NUL in text: these were 500s there (found while reproducing item 6)."""
    email = console.new_user()
    api = _caller(console, email)
    assert api("POST", "/keys", json={"name": "ab"}).status_code == 201
    for path, params in (("/keys", {"search": "a\x00b"}), ("/audit", {"target_id": "a\x00b"})):
        response = api("GET", path, params=params)
        assert response.status_code == 200, response.text
        assert response.json()["data"] == [] and response.json()["total"] == 0
    api.close()


# ---------------------------------------------------------------- the fuzz: cursors


@dataclass(frozen=True)
class Listing:
    """One query that pages with a cursor, and the position and fingerprint of a real cursor of it."""

    path: str
    params: dict[str, Any]
    sort: str  # "audit" for the audit trail
    position: list[Any]
    fingerprint: str


def _time_as_written(value: Any) -> bool:
    """What the API writes as a cursor's time: ISO 8601 in UTC as `isoformat` spells it."""
    try:
        moment = dt.datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return False
    return moment.utcoffset() == dt.timedelta(0) and moment.isoformat() == value


def _name_as_stored(value: Any) -> bool:
    if not isinstance(value, str) or len(value) > 100 or "\x00" in value:
        return False
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def _value_ok(listing: Listing, value: Any) -> bool:
    if value is None:
        return listing.sort in NULLABLE_SORTS
    return _name_as_stored(value) if listing.sort == "name" else _time_as_written(value)


def _date_texts() -> st.SearchStrategy[str]:
    """ISO-ish text: extreme years, impossible months and days, leap seconds, long fractions,
    lowercase separators and zones, offsets of every shape (and past ±24 h)."""
    year = st.one_of(
        st.sampled_from([0, 1, 2, 1969, 1970, 2000, 2038, 9998, 9999, 10000]), st.integers(0, 12000)
    ).map(lambda y: f"{y:04d}")
    two = st.integers(0, 99).map(lambda n: f"{n:02d}")
    fraction = st.one_of(
        st.just(""), st.text("0123456789", min_size=1, max_size=10).map(lambda d: "." + d), st.just(",5")
    )
    offset = st.one_of(
        st.sampled_from(["", "Z", "z", "+00:00", "-00:00", "+14:00", "-14:00", "+23:59", "-23:59", "+24:00"]),
        st.tuples(
            st.sampled_from("+-"), st.integers(0, 30), st.integers(0, 61), st.sampled_from([":", ""])
        ).map(lambda p: f"{p[0]}{p[1]:02d}{p[3]}{p[2]:02d}"),
    )
    return st.builds(
        lambda y, mo, d, sep, h, mi, s, fr, off: f"{y}-{mo}-{d}{sep}{h}:{mi}:{s}{fr}{off}",
        year,
        st.one_of(st.sampled_from(["01", "02", "12", "13", "00"]), two),
        st.one_of(st.sampled_from(["01", "28", "29", "30", "31", "32", "00"]), two),
        st.sampled_from(["T", "t", " ", "_"]),
        st.one_of(st.sampled_from(["00", "23", "24"]), two),
        st.sampled_from(["00", "59", "60"]),
        st.sampled_from(["00", "59", "60", "61"]),  # 60: a leap second
        fraction,
        offset,
    ) | year.map(lambda y: f"{y}-12-31")


UTC_MOMENTS = st.datetimes(
    min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31, 23, 59, 59, 999999)
).map(lambda m: m.replace(tzinfo=dt.UTC).isoformat())
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(st.characters(codec="utf-8"), max_size=12),
    UTC_MOMENTS,
    _date_texts(),
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=2),
    max_leaves=6,
)
ROW_IDS = st.one_of(
    st.sampled_from([0, -1, 1, DB_INT_MAX, DB_INT_MAX + 1, 2**63, 10**30, True, False, 1.0, "1", None]),
    st.integers(1, DB_INT_MAX),
    st.integers(-(2**64), 2**64),
)
VALUES = st.one_of(
    UTC_MOMENTS,  # as written: a valid position
    st.datetimes().map(dt.datetime.isoformat),  # naive: the 500
    st.datetimes(timezones=st.timezones()).map(dt.datetime.isoformat),
    _date_texts(),
    st.text(st.characters(codec="utf-8"), max_size=20),
    st.sampled_from(["a\x00b", "\ud800", "x" * 101, ""]),
    SCALARS,
    JSON,
)


@st.composite
def _cursors(draw: st.DrawFn, listings: list[Listing]) -> tuple[Listing, str, str]:
    """(listing, cursor, what must happen): "ok" (200), "bad" (422 BAD_CURSOR), or "any" (200 or a
    422 problem; for cursors that are not JSON of our shape at all)."""
    listing = draw(st.sampled_from(listings))
    value, row_id = listing.position
    fingerprint = listing.fingerprint
    kind = draw(st.sampled_from(["value", "row_id", "fingerprint", "shape", "json", "bytes", "text", "real"]))
    if kind == "bytes":
        return listing, base64.urlsafe_b64encode(draw(st.binary(max_size=150))).decode().rstrip("="), "any"
    if kind == "text":
        return listing, draw(st.text(st.characters(codec="utf-8"), max_size=CURSOR_MAX)), "any"
    if kind == "json":
        return listing, _encode(draw(JSON)), "any"
    if kind == "real":
        return listing, _encode([[value, row_id], fingerprint]), "ok"
    if kind == "value":
        value = draw(VALUES)
    elif kind == "row_id":
        row_id = draw(ROW_IDS)
    elif kind == "fingerprint":
        other = draw(st.sampled_from(listings)).fingerprint
        fingerprint = draw(st.one_of(st.just(other), st.text(max_size=30), st.just(fingerprint.upper())))
    else:
        shape = draw(
            st.sampled_from(
                [
                    [[value], fingerprint],
                    [[value, row_id, row_id], fingerprint],
                    [[value, row_id]],
                    [[value, row_id], fingerprint, fingerprint],
                    [value, row_id, fingerprint],
                    {"position": [value, row_id], "fingerprint": fingerprint},
                    [[[value], row_id], fingerprint],
                    [[value, [row_id]], fingerprint],
                    [[value, row_id], [fingerprint]],
                ]
            )
        )
        return listing, _encode(shape), "bad"
    ok = (
        fingerprint == listing.fingerprint
        and type(row_id) is int
        and 0 < row_id <= DB_INT_MAX
        and _value_ok(listing, value)
    )
    return listing, _encode([[value, row_id], fingerprint]), "ok" if ok else "bad"


def _listings(api: Caller) -> list[Listing]:
    """A real cursor of every query that pages: the keys in each sort and order, and the audit trail."""
    found = []
    for sort, order in itertools.product(SORTS, ("asc", "desc")):
        params = {"sort": sort, "order": order, "limit": 1}
        cursor = api("GET", "/keys", params=params).json()["next_cursor"]
        position, fingerprint = _decode(cursor)
        found.append(Listing("/keys", params, sort, position, fingerprint))
    cursor = api("GET", "/audit").json()["next_cursor"]
    assert cursor, "the audit trail needs more than one page"
    position, fingerprint = _decode(cursor)
    found.append(Listing("/audit", {}, "audit", position, fingerprint))
    return found


def test_fuzzed_cursors_are_pages_or_bad_cursors_never_5xx(console: Console) -> None:
    email = console.new_user()
    api = _caller(console, email, tokens=4)
    for number in range(48):  # 48 keys and their 48 + 4 audit events: the trail has a second page
        body: dict[str, Any] = {"name": f"fz-{number:02d}"}
        if number % 2:
            body["expires_at"] = _future(1 + number)
        assert api("POST", "/keys", json=body).status_code == 201
    listings = _listings(api)
    outcomes: dict[str, int] = {}

    def check(case: tuple[Listing, str, str]) -> None:
        listing, cursor, expected = case
        response = api("GET", listing.path, params={**listing.params, "cursor": cursor})
        too_long = len(cursor) > CURSOR_MAX
        outcome = "200" if response.status_code == 200 else str(_is_problem(response)["code"])
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        if too_long:
            _problem(response, 422, "INVALID_REQUEST", "cursor")
        elif expected == "ok":
            assert response.status_code == 200, (cursor, _decode(cursor), response.text)
            assert isinstance(response.json()["data"], list)
        elif expected == "bad" or response.status_code != 200:
            _problem(response, 422, "BAD_CURSOR", "cursor")

    hypothesis.settings(FUZZ, max_examples=CURSOR_EXAMPLES)(hypothesis.given(_cursors(listings))(check))()
    print(
        f"\ncursor fuzz: {sum(outcomes.values())} cursors, outcomes {outcomes}, 429s waited out: {api.waited}"
    )
    assert outcomes.get("200", 0) >= 20 and outcomes.get("BAD_CURSOR", 0) >= 100  # both sides were reached
    api.close()


# ---------------------------------------------------------------- the fuzz: dates


def _instant(text: str) -> dt.datetime | None:
    """The moment Python reads in `text` (naive: None too); None when it reads none."""
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _naive(text: str) -> bool:
    try:
        return dt.datetime.fromisoformat(text).tzinfo is None
    except ValueError:
        return False


OFFSETS = st.integers(-14 * 60, 14 * 60).map(lambda m: dt.timezone(dt.timedelta(minutes=m)))
VALID_ENDS = st.builds(
    lambda moment, zone, zulu: (
        moment.replace(tzinfo=zone).isoformat().replace("+00:00", "Z" if zulu else "+00:00")
    ),
    st.datetimes(min_value=dt.datetime(2100, 1, 1), max_value=dt.datetime(9999, 12, 29, 23, 59, 59)),
    OFFSETS,
    st.booleans(),
)

TIMES_OF_DAY = st.builds(  # the most telling values first: Hypothesis draws early choices more often
    dt.time,
    st.sampled_from([23, 14, 13, 10, 9, 0]),
    st.sampled_from([59, 0]),
    st.sampled_from([59, 0]),
    st.sampled_from([0, 999999, 1]),
)


def _clock(day: dt.date, time_of_day: dt.time) -> dt.datetime:
    return dt.datetime.combine(day, time_of_day)


# Real calendar moments at both ends of the calendar, in the zones furthest from UTC (or none).
EDGE_ENDS = st.builds(
    lambda moment, zone, spelling: spelling(moment.replace(tzinfo=zone).isoformat()),
    st.one_of(
        st.builds(_clock, st.sampled_from([dt.date(9999, 12, 31), dt.date(9999, 12, 30)]), TIMES_OF_DAY),
        st.builds(_clock, st.sampled_from([dt.date(1, 1, 1), dt.date(1, 1, 2)]), TIMES_OF_DAY),
    ),
    st.one_of(
        st.sampled_from([dt.timezone(dt.timedelta(hours=h)) for h in (-14, 14, 0)]), OFFSETS, st.none()
    ),
    st.sampled_from([str, lambda t: t.replace("+00:00", "Z")]),
)


@st.composite
def _end_dates(draw: st.DrawFn) -> tuple[Any, str]:
    """(expires_at, what must happen): "ok" (accepted, same moment), "bad" (a 422 naming
    expires_at), "any" (either, but an accepted date is in range and answered in UTC)."""
    kind = draw(st.sampled_from(["edge", "valid", "edge", "iso", "edge", "iso", "text", "json"]))
    if kind == "valid":
        return draw(VALID_ENDS), "ok"
    if kind == "edge":
        text = draw(EDGE_ENDS)
        moment = _instant(text)
        if moment is None or moment > _LATEST or moment < dt.datetime.now(dt.UTC):
            return text, "bad"
        return text, "ok"
    if kind == "text":
        return draw(st.text(st.characters(codec="utf-8"), max_size=40)), "any"
    if kind == "json":
        value = draw(
            st.one_of(
                st.none(),
                st.booleans(),
                st.integers(-(2**64), 2**64),  # Unix seconds (or milliseconds) of any size
                st.floats(allow_nan=False, allow_infinity=False),
                st.lists(st.integers(), max_size=3),
                st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
            )
        )
        return value, "ok" if value is None else "any"
    text = draw(_date_texts())
    moment = _instant(text)
    now = dt.datetime.now(dt.UTC)
    if _naive(text):
        return text, "bad"
    if moment is not None and (moment < now - dt.timedelta(minutes=1) or moment > _LATEST):
        return text, "bad"
    return text, "any"


_LATEST = dt.datetime.fromisoformat(LATEST)


def _check_accepted(key: dict[str, Any], sent: Any, expected: str) -> None:
    stored = key["expires_at"]
    if sent is None:
        assert stored is None
        return
    assert stored.endswith("Z"), stored  # answered in UTC
    moment = dt.datetime.fromisoformat(stored)
    assert dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1) < moment <= _LATEST, stored
    if expected == "ok":
        assert moment == dt.datetime.fromisoformat(sent), (sent, stored)


def test_fuzzed_end_dates_are_accepted_or_422_never_5xx(console: Console) -> None:
    email = console.new_user()
    api = _caller(console, email, tokens=4)
    patched = api("POST", "/keys", json={"name": "patched"}).json()["key_id"]
    outcomes: dict[str, int] = {}

    def check(case: tuple[Any, str], operation: str, roll: bool) -> None:
        value, expected = case
        if operation == "create":
            response = api("POST", "/keys", json={"name": "fz-date", "expires_at": value})
        else:
            response = api("PATCH", f"/keys/{patched}", json={"expires_at": value})
        outcome = (
            f"{operation} {response.status_code if response.is_success else _is_problem(response)['code']}"
        )
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        if not response.is_success:
            body = _is_problem(response)
            assert response.status_code == 422 and body["field"].split(".")[-1] == "expires_at", body
            assert expected != "ok", (value, body)
            return
        assert expected != "bad", (value, response.text)
        key = response.json()
        _check_accepted(key, value, expected)
        read = api("GET", f"/keys/{key['key_id']}")  # what was stored reads back the same
        assert read.status_code == 200 and read.json()["expires_at"] == key["expires_at"], read.text
        if roll and operation == "create":
            rolled = api("POST", f"/keys/{key['key_id']}/roll", json={"grace": "1h"})
            assert rolled.status_code == 201, rolled.text
            new_end = rolled.json()["key"]["expires_at"]
            assert new_end is None or dt.datetime.fromisoformat(new_end) <= _LATEST

    hypothesis.settings(FUZZ, max_examples=DATE_EXAMPLES)(
        hypothesis.given(_end_dates(), st.sampled_from(["create", "patch"]), st.booleans())(check)
    )()
    walked = 0
    for sort, order in itertools.product(("expires", "created"), ("asc", "desc")):  # every stored date pages
        params: dict[str, Any] = {"sort": sort, "order": order, "limit": 100}
        while True:
            page = api("GET", "/keys", params=params)
            assert page.status_code == 200, page.text
            walked += len(page.json()["data"])
            if not page.json()["next_cursor"]:
                break
            params["cursor"] = page.json()["next_cursor"]
    audit = api("GET", "/audit")
    assert audit.status_code == 200 and audit.json()["data"]
    print(
        f"\ndate fuzz: {sum(outcomes.values())} end dates, outcomes {outcomes}, {walked} rows paged back,"
        f" {api.sent} requests, 429s waited out: {api.waited}"
    )
    assert any(o.startswith("create 201") for o in outcomes) and any(
        o.startswith("patch 200") for o in outcomes
    )
    assert sum(n for o, n in outcomes.items() if "20" not in o) >= DATE_EXAMPLES // 4  # refusals were reached
    assert any(o.endswith("DATE_OUT_OF_RANGE") for o in outcomes)  # and so was the class
    api.close()
