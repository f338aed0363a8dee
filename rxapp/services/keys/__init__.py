"""API keys, split by reason to change; ownership is part of every query.

- `rules`: what a key is (name hygiene, effective status, ownership checks, the public shape);
- `crud`: create (the one place a secret is born), read, update, delete;
- `listing`: the table's query (search, filters, sort, paging) and its flags;
- `verification`: the hot path's rules and its one row definition;
- `expiry`: end-date presets and the expiry job.

Callers import the names below (`from rxapp.services import keys as key_service`).
"""

from rxapp.services.keys.crud import (
    STALE_CODE,
    CreatedKey,
    KeyChanges,
    create_key,
    default_name,
    delete_key,
    get_key,
    key_row_id,
    parse_changes,
    update_key,
)
from rxapp.services.keys.expiry import (
    EXPIRY_CHUNK,
    EXPIRY_PRESETS,
    ExpiryPreset,
    date_field,
    end_date_for,
    expire_due_keys,
    parse_date,
    parse_preset,
)
from rxapp.services.keys.listing import (
    ALL_STATUSES,
    SEARCH_MAX_LENGTH,
    SORT_CHOICES,
    STATUS_CHOICES,
    KeyQuery,
    ProfileScope,
    count_keys,
    is_expiring_soon,
    is_unused,
    list_keys,
    parse_profile_filter,
    parse_sort,
    parse_status_filter,
    profile_choice,
)
from rxapp.services.keys.rules import (
    NAME_MAX_LENGTH,
    RATE_LIMIT_MAX,
    check_rate_limit,
    clean_name,
    effective_status,
)
from rxapp.services.keys.verification import (
    MALFORMED,
    NOT_FOUND,
    VERIFY_SQL,
    Verification,
    VerifyRow,
    decide,
    digest_for,
    fetch_row,
    verify_secret,
    verify_with,
    verify_with_async,
)

__all__ = [
    "ALL_STATUSES",
    "EXPIRY_CHUNK",
    "EXPIRY_PRESETS",
    "MALFORMED",
    "NAME_MAX_LENGTH",
    "NOT_FOUND",
    "RATE_LIMIT_MAX",
    "SEARCH_MAX_LENGTH",
    "SORT_CHOICES",
    "STALE_CODE",
    "STATUS_CHOICES",
    "VERIFY_SQL",
    "CreatedKey",
    "ExpiryPreset",
    "KeyChanges",
    "KeyQuery",
    "ProfileScope",
    "Verification",
    "VerifyRow",
    "check_rate_limit",
    "clean_name",
    "count_keys",
    "create_key",
    "date_field",
    "decide",
    "default_name",
    "delete_key",
    "digest_for",
    "effective_status",
    "end_date_for",
    "expire_due_keys",
    "fetch_row",
    "get_key",
    "is_expiring_soon",
    "is_unused",
    "key_row_id",
    "list_keys",
    "parse_changes",
    "parse_date",
    "parse_preset",
    "parse_profile_filter",
    "parse_sort",
    "parse_status_filter",
    "profile_choice",
    "update_key",
    "verify_secret",
    "verify_with",
    "verify_with_async",
]
