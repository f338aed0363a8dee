"""Listing: one page of an owner's keys (search, filters, sort, paging in the database), and the
flags the table shows (expiring soon, unused for 90 days).

The filter sentinels are typed values (`ProfileScope`, `None` for "any status"); `parse_*` turn the
strings a page or an API receives into them.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any, Literal, NamedTuple, cast

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import InstrumentedAttribute
from sqlmodel import Session, col, func, select

from rxapp.context import get_settings
from rxapp.models import ApiKey, ApiKeyPublic, BiasProfile, KeyPage, KeyStatus, utc_now
from rxapp.services import identities, key_format, keyset
from rxapp.services.access import Access, Need, require
from rxapp.services.keys.rules import NAME_MAX_LENGTH, public
from rxapp.services.keys.verification import digest_for
from rxapp.services.text import storable

PAGE_SIZE_DEFAULT = 25
PAGE_SIZE_MAX = 100
SEARCH_MAX_LENGTH = 100
SortField = Literal["name", "created", "last_used", "expires"]
# SQLModel types a model's fields as their values; read on the class they are mapped attributes.
SORT_COLUMNS = cast(
    "dict[SortField, InstrumentedAttribute[Any]]",
    {
        "name": ApiKey.name,
        "created": ApiKey.created_at,
        "last_used": ApiKey.last_used_at,
        "expires": ApiKey.expires_at,
    },
)
SORT_CHOICES = {"created": "Created", "name": "Name", "last_used": "Last used", "expires": "Expires"}
NULLABLE_SORTS = ("last_used", "expires")  # a key never used, or without an end: listed last
EXPIRING_SOON = dt.timedelta(days=7)
UNUSED_FOR = dt.timedelta(days=90)


class ProfileScope(StrEnum):
    """Profile filters that are not one profile's id."""

    ALL = "all"
    NONE = "none"  # keys without a profile


ALL_STATUSES = "all"
STATUS_CHOICES = {
    ALL_STATUSES: "All statuses",
    "ACTIVE": "Active",
    "INACTIVE": "Inactive",
    "EXPIRED": "Expired",
}

ProfileFilter = ProfileScope | int


class KeyPosition(NamedTuple):
    """Where a page ended (keyset paging): the last row's sort value, as text (ISO 8601 for a time;
    None for a key never used or without an end) and its row id, the tiebreak. The next page starts
    after it, so keys created or deleted meanwhile neither repeat nor push a key out of the walk."""

    value: str | None
    row_id: int


class KeyQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    search: str = ""
    key_id: str | None = None  # exactly this key (the page's "found by its secret"); "" finds none
    status: KeyStatus | None = None  # None: every status
    bias_profile: ProfileFilter = ProfileScope.ALL
    identity: str = ""  # an identity's external id: only its keys ("" for every key)
    sort: SortField = "created"
    descending: bool = True
    page: int = 1
    page_size: int = PAGE_SIZE_DEFAULT


def parse_status_filter(value: str) -> KeyStatus | None:
    return KeyStatus(value) if value in KeyStatus.__members__ else None


def parse_profile_filter(value: str) -> ProfileFilter:
    """ "all", "none" or a profile id as text (what a select sends); anything else is "all"."""
    if value.isdigit():
        return int(value)
    return ProfileScope.NONE if value == ProfileScope.NONE else ProfileScope.ALL


def profile_choice(value: str) -> int | None:
    """A "pick a profile" field: a profile id, or None for "no profile"."""
    return int(value) if value.isdigit() else None


def parse_sort(value: str) -> SortField:
    return next((sort for sort in SORT_COLUMNS if sort == value), "created")


def is_expiring_soon(key: ApiKeyPublic, now: dt.datetime) -> bool:
    return bool(key.expires_at and key.status != KeyStatus.EXPIRED and key.expires_at - now <= EXPIRING_SOON)


def is_unused(key: ApiKeyPublic, now: dt.datetime) -> bool:
    """No call (or, never used, no creation) for UNUSED_FOR: a candidate for deletion."""
    last_activity = key.last_used_at or key.created_at
    return key.status != KeyStatus.EXPIRED and now - last_activity >= UNUSED_FOR


LAST_FOUR = 4
_MASK_DECORATION = "•…·*. "  # what may stand before the last four when copied from the table


class SecretMatch(NamedTuple):
    """A whole secret searched for: the workspace's key with that secret, or None (no key of this
    workspace has it: another workspace's key is not told apart from no key at all)."""

    key_id: str | None


def find_by_secret(session: Session, access: Access, text: str) -> SecretMatch | None:
    """None when `text` is not a whole, well-formed secret of this console (search it as text).
    The secret is only digested here, never stored or returned: the caller keeps the key ID."""
    workspace_id = require(access, Need.READ).workspace_id
    found_digest = digest_for(text.strip())
    if found_digest is None:
        return None
    key_id = session.exec(
        select(ApiKey.key_id).where(ApiKey.digest == found_digest, ApiKey.workspace_id == workspace_id)
    ).first()
    return SecretMatch(key_id)


def last_four(search: str, prefix: str) -> str | None:
    """The last four characters of a masked key, when `search` is shaped like them: `a1B9`,
    `•a1B9`, `…a1B9` or the whole masked form `bpk_••••••••a1B9`; otherwise None."""
    tail = search.removeprefix(f"{prefix}_").lstrip(_MASK_DECORATION)
    if len(tail) == LAST_FOUR and set(tail) <= set(key_format.BASE62):
        return tail
    return None


def _search_conditions(session: Session, workspace_id: int, search: str) -> Any:
    """A whole secret matches its own key by digest (the unique digest index); other text matches
    names and key IDs as a substring, and, shaped like them, the last four shown in the table."""
    settings = get_settings()
    found_digest = digest_for(search)
    if found_digest is not None:
        return col(ApiKey.digest) == found_digest
    pattern = f"%{_escape_like(search)}%"
    sqlite = session.get_bind().dialect.name == "sqlite"
    if sqlite:
        # SQLite's LIKE already ignores ASCII case; lower() per row would double the scan cost.
        # Key IDs are lower-case ASCII, so a plain substring test (instr, no wildcards to
        # escape) finds the same rows as LIKE at less than half its cost: the count scans
        # every one of the owner's index entries, and this halves it at 100,000 keys.
        name_matches = col(ApiKey.name).like(pattern, escape="\\")
        key_id_matches = sa.func.instr(col(ApiKey.key_id), search.lower()) > 0
    else:
        name_matches = col(ApiKey.name).ilike(pattern, escape="\\")
        key_id_matches = col(ApiKey.key_id).like(f"%{_escape_like(search.lower())}%", escape="\\")
    tail = last_four(search, settings.key_prefix)
    if tail is None:
        return sa.or_(name_matches, key_id_matches)
    # The masked form is the prefix, the dots and the last four: one seek in ix_api_keys_ws_masked
    # (= compares case-sensitively on both databases), kept apart so the name/key ID scan above
    # still reads only its covering index.
    shown = col(ApiKey.masked) == f"{settings.key_prefix}_{key_format.MASK_DOTS}{tail}"
    if tail != search:  # copied with its dots or prefix: no name or key ID holds that
        return shown
    by_tail = select(ApiKey.id).where(ApiKey.workspace_id == workspace_id, shown)
    return sa.or_(name_matches, key_id_matches, col(ApiKey.id).in_(by_tail))


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def list_keys(
    session: Session,
    access: Access,
    query: KeyQuery | None = None,
    now: dt.datetime | None = None,
    *,
    after: KeyPosition | None = None,
) -> KeyPage:
    """One page of the workspace's keys, filtered, searched and sorted in the database: page
    `query.page` (the console's numbered pages), or the page after `after` (the API's cursors)."""
    workspace_id = require(access, Need.READ).workspace_id
    query = query or KeyQuery()
    now = now or utc_now()
    page_size = min(max(query.page_size, 1), PAGE_SIZE_MAX)
    conditions: list[Any] = [col(ApiKey.workspace_id) == workspace_id]
    search = query.search.strip()[:SEARCH_MAX_LENGTH]
    if search and not storable(search):  # no name or key ID holds a NUL; PostgreSQL refuses one
        conditions.append(sa.false())
    elif search:
        conditions.append(_search_conditions(session, workspace_id, search))
    if query.key_id is not None:
        conditions.append(col(ApiKey.key_id) == query.key_id)
    not_past_end = sa.or_(col(ApiKey.expires_at).is_(None), col(ApiKey.expires_at) > now)
    if query.status == KeyStatus.EXPIRED:
        conditions.append(sa.or_(col(ApiKey.status) == KeyStatus.EXPIRED, sa.not_(not_past_end)))
    elif query.status:
        conditions.extend([col(ApiKey.status) == query.status, not_past_end])
    if query.bias_profile == ProfileScope.NONE:
        conditions.append(col(ApiKey.bias_profile_id).is_(None))
    elif isinstance(query.bias_profile, int):
        conditions.append(col(ApiKey.bias_profile_id) == query.bias_profile)
    identity = query.identity.strip()[:SEARCH_MAX_LENGTH]
    if identity:
        owner = identities.find_identity(session, workspace_id, identity) if storable(identity) else None
        conditions.append(col(ApiKey.identity_id) == owner.id if owner is not None else sa.false())

    total = session.exec(select(func.count(col(ApiKey.id))).where(*conditions)).one()
    last_page = max((total + page_size - 1) // page_size, 1)
    page = min(max(query.page, 1), last_page)
    sort_column = SORT_COLUMNS[query.sort]
    order = sort_column.desc() if query.descending else sort_column.asc()
    if query.sort in NULLABLE_SORTS:
        order = order.nulls_last()
    offset = (page - 1) * page_size
    if after is not None:
        conditions.append(_beyond(query, after))
        offset = 0
    statement = (
        select(ApiKey, BiasProfile.name)
        .join(BiasProfile, col(ApiKey.bias_profile_id) == col(BiasProfile.id), isouter=True)
        .where(*conditions)
        .order_by(order, col(ApiKey.id).desc() if query.descending else col(ApiKey.id).asc())
        .offset(offset)
        .limit(page_size + 1)  # one more: is there a next page?
    )
    found, last = keyset.split_page(list(session.exec(statement)), page_size)
    next_position = _position(last[0], query.sort) if last else None
    names = identities.identity_external_ids(session, {k.identity_id for k, _ in found if k.identity_id})
    rows = [
        public(key, profile_name, now, names.get(key.identity_id) if key.identity_id else None)
        for key, profile_name in found
    ]
    return KeyPage(rows=rows, total=total, page=page, page_size=page_size, next_position=next_position)


def _position(key: ApiKey, sort: SortField) -> KeyPosition:
    value = getattr(key, SORT_COLUMNS[sort].key)
    assert key.id is not None
    return KeyPosition(keyset.time_position(value) if isinstance(value, dt.datetime) else value, key.id)


def _beyond(query: KeyQuery, after: KeyPosition) -> Any:
    """The keys that sort after `after` in the query's order."""
    value: Any = after.value
    if query.sort == "name":
        value = keyset.parse_text(value, NAME_MAX_LENGTH)
    elif value is not None:
        value = keyset.parse_time(value)
    return keyset.beyond(
        SORT_COLUMNS[query.sort],
        col(ApiKey.id),
        value,
        after.row_id,
        descending=query.descending,
        nullable=query.sort in NULLABLE_SORTS,
    )


def count_keys(session: Session, access: Access) -> int:
    workspace_id = require(access, Need.READ).workspace_id
    return session.exec(select(func.count(col(ApiKey.id))).where(ApiKey.workspace_id == workspace_id)).one()
