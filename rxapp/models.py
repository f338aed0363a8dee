"""Tables and the public shapes sent out. A public shape never carries a secret or a hash."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from sqlmodel import JSON, Column, Field, SQLModel

from rxapp.clock import as_utc as as_utc  # re-exported: callers import both from here
from rxapp.clock import utc_now as utc_now
from rxapp.model_base import KeyStatus as KeyStatus
from rxapp.model_base import ProfileAction as ProfileAction
from rxapp.model_base import core_table as core_table
from rxapp.models_leaks import LeakReport as LeakReport
from rxapp.models_notices import KeyMoment as KeyMoment  # key moments and notices (issue 26)
from rxapp.models_notices import Notice as Notice
from rxapp.models_passkeys import Passkey as Passkey  # passkeys' tables live beside (module size)
from rxapp.models_passkeys import PasskeyChallenge as PasskeyChallenge
from rxapp.models_passkeys import PasskeyPublic as PasskeyPublic
from rxapp.models_policy import KeyIdleNotice as KeyIdleNotice  # key policies' tables (module size)
from rxapp.models_policy import WorkspaceKeyPolicy as WorkspaceKeyPolicy
from rxapp.models_sso import SsoLink as SsoLink  # single sign-on's person per account
from rxapp.webhook_models import WebhookAttempt as WebhookAttempt
from rxapp.webhook_models import WebhookDeliveryPublic as WebhookDeliveryPublic
from rxapp.webhook_models import WebhookEndpoint as WebhookEndpoint
from rxapp.webhook_models import WebhookEndpointPublic as WebhookEndpointPublic
from rxapp.webhook_models import WebhookMessage as WebhookMessage

BIAS_CATEGORIES: dict[str, str] = {
    "gender": "Gender",
    "race_ethnicity": "Race / ethnicity",
    "age": "Age",
    "religion": "Religion",
    "disability": "Disability",
    "sexual_orientation": "Sexual orientation",
    "nationality": "Nationality",
    "socioeconomic_status": "Socioeconomic status",
}


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True, index=True)
    password_hash: str = Field(max_length=512)
    created_at: dt.datetime = Field(default_factory=utc_now)
    # The instance admin (the first account, or one the CLI made so) sees the admin page.
    is_admin: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    # A disabled account cannot sign in, and its sessions are deleted when it is disabled.
    disabled: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    last_sign_in_at: dt.datetime | None = Field(default=None)
    email_notices_opt_out: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})


class UserSession(SQLModel, table=True):
    """A signed-in browser. Only the token's digest is stored, so a database dump signs nobody in."""

    __tablename__ = "user_sessions"

    id: int | None = Field(default=None, primary_key=True)
    token_digest: str = Field(max_length=64, unique=True, index=True)
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    created_at: dt.datetime = Field(default_factory=utc_now)
    expires_at: dt.datetime = Field(index=True)
    client_address: str = Field(default="", max_length=64)
    # When this browser last proved who it is (password, or password and code): re-authentication
    # ("sudo mode") asks again after APIKEYS_REAUTH_SECONDS. None on older rows: created_at counts.
    authenticated_at: dt.datetime | None = Field(default=None)


class UserTotp(SQLModel, table=True):
    """A user's authenticator (TOTP). The secret is stored encrypted (services/two_factor.py) and
    never leaves the service; `enabled_at` is None while the setup awaits its first code.
    `last_step` is the time step of the last code accepted: a code is accepted once."""

    __tablename__ = "user_totp"

    user_id: int = Field(foreign_key="users.id", primary_key=True, ondelete="CASCADE")
    secret_sealed: str = Field(max_length=200)
    created_at: dt.datetime = Field(default_factory=utc_now)
    enabled_at: dt.datetime | None = Field(default=None)
    last_step: int = Field(default=0, sa_column=sa.Column(sa.BigInteger, nullable=False, server_default="0"))


class RecoveryCode(SQLModel, table=True):
    """A one-time recovery code for two-factor sign-in. Only its HMAC is stored."""

    __tablename__ = "recovery_codes"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    digest: str = Field(max_length=64)
    used_at: dt.datetime | None = Field(default=None)


class LoginFailure(SQLModel, table=True):
    """Recent failed sign-ins, counted for throttling by account, by client address and by device.
    `device` is the nonce of a trusted-device cookie the attempt came with ("" for a browser that
    never signed in to the account): its failures count against that device only."""

    __tablename__ = "login_failures"
    __table_args__ = (
        sa.Index("ix_login_failures_email_time", "email", "created_at"),
        sa.Index("ix_login_failures_client_time", "client_address", "created_at"),
        sa.Index("ix_login_failures_device_time", "device", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254)
    client_address: str = Field(default="", max_length=64)
    device: str = Field(default="", max_length=32, sa_column_kwargs={"server_default": ""})
    created_at: dt.datetime = Field(default_factory=utc_now)


class AppMeta(SQLModel, table=True):
    """Facts about this installation, e.g. the fingerprint of the pepper its key digests use."""

    __tablename__ = "app_meta"

    name: str = Field(primary_key=True, max_length=64)
    value: str = Field(max_length=200)


class Role(StrEnum):
    OWNER = "owner"
    MEMBER = "member"
    VIEWER = "viewer"


class Workspace(SQLModel, table=True):
    """Owns keys, Bias Profiles, their usage and audit events. `public_id` is what verify tells
    callers (never the row number); a personal workspace is made for each user at sign-up."""

    __tablename__ = "workspaces"

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(max_length=32, unique=True, index=True)
    name: str = Field(max_length=80)
    personal: bool = Field(default=False)
    created_at: dt.datetime = Field(default_factory=utc_now)
    # The owners ask every member for two factors (code or passkey) before its pages open.
    require_two_factor: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    # What a leak report does to a key: notify | disable | roll (services/leaks.py)
    leak_policy: str = Field(default="disable", max_length=8, sa_column_kwargs={"server_default": "disable"})


class Membership(SQLModel, table=True):
    __tablename__ = "memberships"
    __table_args__ = (sa.UniqueConstraint("workspace_id", "user_id", name="uq_memberships_workspace_user"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspaces.id", index=True, ondelete="CASCADE")
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    role: str = Field(default=Role.MEMBER.value, max_length=16)
    created_at: dt.datetime = Field(default_factory=utc_now)


class Invitation(SQLModel, table=True):
    """A link that joins its opener to a workspace once. Only the token's HMAC is stored."""

    __tablename__ = "invitations"

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspaces.id", index=True, ondelete="CASCADE")
    token_digest: str = Field(max_length=64, unique=True, index=True)
    role: str = Field(default=Role.MEMBER.value, max_length=16)
    # whom it is for, as the owner wrote it (an email or a few words; optional, never checked)
    note: str = Field(default="", max_length=120, sa_column_kwargs={"server_default": ""})
    created_by: str = Field(default="", max_length=254)
    created_at: dt.datetime = Field(default_factory=utc_now)
    expires_at: dt.datetime
    used_at: dt.datetime | None = Field(default=None)
    used_by_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    revoked_at: dt.datetime | None = Field(default=None)


class BiasProfile(SQLModel, table=True):
    __tablename__ = "bias_profiles"
    __table_args__ = (sa.UniqueConstraint("workspace_id", "name", name="uq_bias_profiles_workspace_name"),)

    id: int | None = Field(default=None, primary_key=True)
    # The creator; the workspace owns the profile.
    owner_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    workspace_id: int = Field(foreign_key="workspaces.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=80)
    description: str = Field(default="", max_length=500)
    categories: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    sensitivity: float = Field(default=0.5)
    action: str = Field(default=ProfileAction.FLAG.value, max_length=16)
    created_at: dt.datetime = Field(default_factory=utc_now)
    updated_at: dt.datetime = Field(default_factory=utc_now)
    version: int = Field(default=1)


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_keys"
    __table_args__ = (
        # The keys page filters by workspace, then status/end date, and sorts by one column: each
        # of these lets SQLite count and page 100,000 keys from the index alone.
        sa.Index("ix_api_keys_ws_status_expires", "workspace_id", "status", "expires_at"),
        sa.Index("ix_api_keys_ws_created", "workspace_id", "created_at"),
        sa.Index("ix_api_keys_ws_name_key", "workspace_id", "name", "key_id"),
        sa.Index("ix_api_keys_ws_last_used", "workspace_id", "last_used_at"),
        # The last four shown in the table: masked is the prefix, dots and those four (a seek).
        sa.Index("ix_api_keys_ws_masked", "workspace_id", "masked"),
        sa.Index("ix_api_keys_status_expires", "status", "expires_at"),
        sa.Index("ix_api_keys_refill", "refill_interval", "refill_day", "last_refill_at"),  # the refill job
    )

    id: int | None = Field(default=None, primary_key=True)
    key_id: str = Field(max_length=24, unique=True, index=True)
    # The creator; the workspace owns the key (it outlives the person who made it).
    owner_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    workspace_id: int = Field(foreign_key="workspaces.id", ondelete="CASCADE")
    name: str = Field(max_length=100)
    digest: str = Field(max_length=64, unique=True, index=True)
    masked: str = Field(max_length=32)
    status: str = Field(default=KeyStatus.ACTIVE.value, max_length=16)
    expires_at: dt.datetime | None = Field(default=None, index=True)
    last_used_at: dt.datetime | None = Field(default=None)
    bias_profile_id: int | None = Field(
        default=None, foreign_key="bias_profiles.id", index=True, ondelete="RESTRICT"
    )
    created_at: dt.datetime = Field(default_factory=utc_now)
    updated_at: dt.datetime = Field(default_factory=utc_now)
    version: int = Field(default=1)
    # Rolling: the key this one replaced (its predecessor keeps working until its grace ends).
    rolled_from_id: int | None = Field(
        default=None, foreign_key="api_keys.id", index=True, ondelete="SET NULL"
    )
    # The first successful verification (the rotation assistant compares it with the old key's).
    first_used_at: dt.datetime | None = Field(default=None)
    # Calls per minute this key may make (None: no limit, and nothing to pay on the hot path).
    rate_limit_per_minute: int | None = Field(default=None)
    # Programmable keys (services/programs.py). `program` is None for a key without any of these
    # features, which is all verify checks before taking today's path; otherwise the JSON of its
    # permissions, roles (and their permissions), meta, IP allowlist, named limits, identity, credits.
    program: dict | None = Field(default=None, sa_column=Column(JSON(none_as_null=True), nullable=True))
    credits_remaining: int | None = Field(default=None)  # spent by one conditional UPDATE per call
    refill_amount: int | None = Field(default=None)  # the balance each refill *sets*
    refill_interval: str | None = Field(default=None, max_length=8)  # "day" or "month"
    refill_day: int | None = Field(default=None)  # 1..31 for "month" (last day of short months)
    last_refill_at: dt.datetime | None = Field(default=None)
    identity_id: int | None = Field(
        default=None, foreign_key="identities.id", index=True, ondelete="RESTRICT"
    )


class Identity(SQLModel, table=True):
    """A customer in the service's own terms (`external_id`); its keys share its meta and limits."""

    __tablename__ = "identities"
    __table_args__ = (sa.UniqueConstraint("workspace_id", "external_id", name="uq_identities_ws_external"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspaces.id", index=True, ondelete="CASCADE")
    external_id: str = Field(max_length=255)
    meta: dict | None = Field(default=None, sa_column=Column(JSON(none_as_null=True), nullable=True))
    ratelimits: list | None = Field(default=None, sa_column=Column(JSON(none_as_null=True), nullable=True))
    created_at: dt.datetime = Field(default_factory=utc_now)
    updated_at: dt.datetime = Field(default_factory=utc_now)


class Permission(SQLModel, table=True):
    """A workspace's permission catalogue: the names keys may carry (e.g. `documents.read`)."""

    __tablename__ = "permissions"
    __table_args__ = (sa.UniqueConstraint("workspace_id", "name", name="uq_permissions_ws_name"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspaces.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=100)
    description: str = Field(default="", max_length=500)
    created_at: dt.datetime = Field(default_factory=utc_now)


class KeyRole(SQLModel, table=True):  # a named set of permissions keys get (services/roles.py)
    __tablename__ = "roles"
    __table_args__ = (sa.UniqueConstraint("workspace_id", "name", name="uq_roles_ws_name"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspaces.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=100)
    description: str = Field(default="", max_length=500)
    permissions: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: dt.datetime = Field(default_factory=utc_now)


class KeyUsageHour(SQLModel, table=True):
    """Verifications of one key in one hour, by outcome; merged in by the write-behind flush."""

    __tablename__ = "key_usage_hours"
    __table_args__ = (
        sa.UniqueConstraint("key_row_id", "hour", name="uq_key_usage_hours_key_hour"),
        sa.Index("ix_key_usage_hours_hour", "hour"),
    )

    id: int | None = Field(default=None, primary_key=True)
    key_row_id: int = Field(foreign_key="api_keys.id", ondelete="CASCADE")
    hour: dt.datetime
    valid: int = Field(default=0)
    inactive: int = Field(default=0)
    expired: int = Field(default=0)
    rate_limited: int = Field(default=0)
    usage_exceeded: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    insufficient_permissions: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    forbidden: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class AuditEvent(SQLModel, table=True):
    """Append-only. Holds names and IDs, never a secret, digest, password or session token."""

    __tablename__ = "audit_events"
    __table_args__ = (
        sa.Index("ix_audit_events_owner_time", "owner_id", "created_at"),
        sa.Index("ix_audit_events_owner_target", "owner_id", "target_id"),
        sa.Index("ix_audit_events_ws_time", "workspace_id", "created_at"),
        sa.Index("ix_audit_events_ws_target", "workspace_id", "target_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # The user the event is about (their own trail: sign-ins, password changes).
    owner_id: int | None = Field(default=None)
    # The workspace the event happened in (keys, profiles, members); None for account events.
    workspace_id: int | None = Field(default=None)
    actor: str = Field(max_length=254)
    action: str = Field(max_length=40)
    target_type: str = Field(default="", max_length=20)
    target_id: str = Field(default="", max_length=100)
    detail: str = Field(default="", max_length=1000)
    client_address: str = Field(default="", max_length=64)
    created_at: dt.datetime = Field(default_factory=utc_now, index=True)
    # Repeated refusals (throttled sign-ins) are one event per window with a count, not a row each.
    occurrences: int = Field(default=1, sa_column_kwargs={"server_default": "1"})


class ManagementToken(SQLModel, table=True):
    """A bearer token for the management API, scoped to one workspace. Only its HMAC is stored;
    its rights are its scopes intersected with its creator's role at each request."""

    __tablename__ = "management_tokens"

    id: int | None = Field(default=None, primary_key=True)
    token_id: str = Field(max_length=24, unique=True, index=True)
    workspace_id: int = Field(foreign_key="workspaces.id", index=True, ondelete="CASCADE")
    creator_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=100)
    scopes: str = Field(max_length=200)  # space-separated, from MANAGEMENT_SCOPES
    digest: str = Field(max_length=64, unique=True, index=True)
    masked: str = Field(max_length=32)
    created_at: dt.datetime = Field(default_factory=utc_now)
    expires_at: dt.datetime | None = Field(default=None)
    last_used_at: dt.datetime | None = Field(default=None)
    revoked_at: dt.datetime | None = Field(default=None)


class IdempotencyRecord(SQLModel, table=True):
    """(token, Idempotency-Key) -> the resource a POST created. The unique constraint is what makes
    concurrent retries safe: the loser's insert fails and it replays the winner's resource."""

    __tablename__ = "idempotency_records"
    __table_args__ = (
        sa.UniqueConstraint("token_row_id", "idempotency_key", name="uq_idempotency_token_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    token_row_id: int = Field(foreign_key="management_tokens.id", ondelete="CASCADE")
    idempotency_key: str = Field(max_length=255)
    request_hash: str = Field(max_length=64)
    resource_type: str = Field(default="", max_length=20)
    resource_id: str = Field(default="", max_length=100)
    created_at: dt.datetime = Field(default_factory=utc_now, index=True)


# ---------------------------------------------------------------- public shapes


class _Public(BaseModel):
    model_config = ConfigDict(frozen=True)


class UserPublic(_Public):
    id: int
    email: str
    is_admin: bool = False


class WorkspacePublic(_Public):
    public_id: str
    name: str
    personal: bool
    role: str
    require_two_factor: bool = False


class MemberPublic(_Public):
    user_id: int
    email: str
    role: str
    joined_at: dt.datetime


class InvitationPublic(_Public):
    id: int
    role: str
    note: str = ""
    created_by: str
    created_at: dt.datetime
    expires_at: dt.datetime


class BiasProfilePublic(_Public):
    id: int
    name: str
    description: str
    categories: list[str]
    sensitivity: float
    action: str
    key_count: int = 0
    version: int = 1


class ApiKeyPublic(_Public):
    key_id: str
    name: str
    masked: str
    status: str
    expires_at: dt.datetime | None
    last_used_at: dt.datetime | None
    bias_profile_id: int | None
    bias_profile_name: str | None
    rate_limit_per_minute: int | None = None  # calls per minute; None: no limit
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int
    # Programmable keys (all None/empty for a key without them)
    credits: int | None = None
    refill: dict | None = None  # {amount, interval: "day" | "month", day (of the month)}
    last_refill_at: dt.datetime | None = None
    ratelimits: list[dict] = []  # [{name, limit, duration}] (duration in milliseconds)
    permissions: list[str] = []  # given to the key itself (its roles add theirs at verify)
    roles: list[str] = []  # role names; verify counts their permissions too
    meta: dict | None = None
    ip_allow: list[str] = []
    identity: str | None = None  # the identity's external_id


class IdentityPublic(_Public):
    external_id: str
    meta: dict | None
    ratelimits: list[dict]
    key_count: int = 0
    created_at: dt.datetime
    updated_at: dt.datetime


class PermissionPublic(_Public):
    id: int
    name: str
    description: str
    key_count: int = 0


class KeyRolePublic(PermissionPublic):  # key_count: the keys that have the role
    permissions: list[str]


class KeyPage(_Public):
    rows: list[ApiKeyPublic]
    total: int
    page: int
    page_size: int
    next_position: tuple[str | None, int] | None = None  # next page: this page's last (sort value, row id)


class AuditEventPublic(_Public):
    created_at: dt.datetime
    actor: str
    action: str
    target_type: str
    target_id: str
    detail: str
    client_address: str
    occurrences: int = 1


class ManagementTokenPublic(_Public):
    token_id: str
    name: str
    scopes: list[str]
    masked: str
    created_by: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None
