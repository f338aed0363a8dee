"""Keys: create, verify at call time, status changes, deletion, secret storage, mass assignment."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from rxapp.models import ApiKey, AuditEvent, KeyStatus
from rxapp.services import key_format
from rxapp.services import keys as key_service
from rxapp.services import profiles as profile_service
from rxapp.services.errors import ConflictError, NotFoundError, ValidationError
from tests.unit.helpers import Person, utc_now, verify_key


def _create(session: Session, person: Person, name: str = "service", **kwargs):
    created = key_service.create_key(session, person.access, person.actor, name, **kwargs)
    session.commit()
    return created


def _verify(session: Session, secret: str, now: dt.datetime | None = None) -> key_service.Verification:
    return verify_key(session.connection(), secret, now=now)


def _set_status(session: Session, person: Person, key_id: str, status: str, **kwargs):
    result = key_service.update_key(
        session, person.access, person.actor, key_id, key_service.parse_changes({"status": status}), **kwargs
    )
    session.commit()
    return result


def _row(session: Session, key_id: str) -> ApiKey | None:
    session.expire_all()
    return session.exec(select(ApiKey).where(ApiKey.key_id == key_id)).first()


# ---------------------------------------------------------------- create


def test_create_key_returns_the_secret_once_and_a_masked_public_shape(
    session: Session, alice: Person
) -> None:
    created = _create(session, alice, "  billing service  ")
    assert key_format.is_well_formed(created.secret, "bpk")
    assert created.key.name == "billing service"
    assert created.key.status == KeyStatus.ACTIVE
    assert created.key.masked == "bpk_••••••••" + created.secret[-4:]
    assert created.key.key_id.startswith("key_")
    assert created.key.last_used_at is None
    assert created.key.version == 1
    assert created.secret not in repr(created)
    assert created.secret not in created.key.model_dump_json()


def test_create_key_with_profile_and_end_date(session: Session, alice: Person) -> None:
    profile = profile_service.create_profile(session, alice.access, alice.actor, "Strict", categories=["age"])
    end = utc_now() + dt.timedelta(days=3)
    created = _create(session, alice, bias_profile_id=profile.id, expires_at=end)
    assert created.key.bias_profile_id == profile.id
    assert created.key.bias_profile_name == "Strict"
    assert created.key.expires_at == end
    outcome = _verify(session, created.secret)
    assert outcome.valid
    assert outcome.key_id == created.key.key_id
    assert outcome.bias_profile == {
        "id": profile.id,
        "name": "Strict",
        "description": "",
        "categories": ["age"],
        "sensitivity": 0.5,
        "action": "flag",
    }


@pytest.mark.parametrize(
    "end",
    [
        pytest.param(lambda now: now - dt.timedelta(seconds=1), id="past"),
        pytest.param(lambda now: now, id="now"),
        pytest.param(lambda now: (now + dt.timedelta(days=1)).replace(tzinfo=None), id="naive"),
    ],
)
def test_create_key_rejects_bad_end_dates(session: Session, alice: Person, end) -> None:
    now = utc_now()
    with pytest.raises(ValidationError) as error:
        key_service.create_key(session, alice.access, alice.actor, "x", expires_at=end(now), now=now)
    assert error.value.field == "expires_at"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("  trimmed  ", "trimmed"),
        ("x" * 100, "x" * 100),
        ("ünïcødé 🔑 name", "ünïcødé 🔑 name"),
    ],
)
def test_clean_name_accepts(name: str, expected: str) -> None:
    assert key_service.clean_name(name) == expected


@pytest.mark.parametrize(
    "name",
    [
        "",
        "   ",
        "\t\n",
        "x" * 101,
        "bad\x00name",
        "bad\nname",
        "bad\tname",
        "bad\x7fname",
        "bad\x1bname",
        "bad\x85name",
    ],
)
def test_clean_name_rejects(name: str) -> None:
    with pytest.raises(ValidationError) as error:
        key_service.clean_name(name)
    assert error.value.field == "name"


def test_create_key_with_an_invalid_name_writes_nothing(session: Session, alice: Person) -> None:
    with pytest.raises(ValidationError):
        key_service.create_key(session, alice.access, alice.actor, "bad\x00name")
    session.commit()
    assert session.exec(select(ApiKey)).all() == []
    assert session.exec(select(AuditEvent).where(AuditEvent.action == "key.create")).all() == []


def test_a_blank_name_gets_the_first_free_default(session: Session, alice: Person) -> None:
    """The seed creates a key without naming it: "Key N", the first N not taken (issue 22 item 10:
    with Key 1 and Key 3, Key 2; not the count plus one)."""
    first = key_service.create_key(session, alice.access, alice.actor, "   ")
    assert first.key.name == "Key 1"
    key_service.create_key(session, alice.access, alice.actor, "Key 3")
    assert key_service.default_name(session, alice.access) == "Key 2"
    assert key_service.create_key(session, alice.access, alice.actor, "").key.name == "Key 2"
    assert key_service.default_name(session, alice.access) == "Key 4"
    key_service.create_key(session, alice.access, alice.actor, "checkout")
    assert key_service.default_name(session, alice.access) == "Key 4"


def test_a_typed_rate_limit_is_a_whole_number_in_range_or_blank() -> None:
    assert key_service.parse_rate_limit("") is None
    assert key_service.parse_rate_limit("  ") is None
    assert key_service.parse_rate_limit(" 120 ") == 120
    assert key_service.parse_rate_limit("1,000") == 1000
    for text in ["0", "-5", "1.5", "abc", "1e3", str(key_service.RATE_LIMIT_MAX + 1), "9" * 40]:
        with pytest.raises(ValidationError) as error:
            key_service.parse_rate_limit(text)
        assert (error.value.field, error.value.code) == ("rate_limit_per_minute", "BAD_RATE_LIMIT")


def test_the_public_shape_carries_the_rate_limit(session: Session, alice: Person) -> None:
    created = key_service.create_key(session, alice.access, alice.actor, "limited", rate_limit_per_minute=30)
    assert created.key.rate_limit_per_minute == 30
    assert key_service.get_key(session, alice.access, created.key.key_id).rate_limit_per_minute == 30


# ---------------------------------------------------------------- the secret is never stored


def _all_stored_text(session: Session) -> str:
    """Every value of every column of every row in every table, as one string."""
    parts: list[str] = []
    connection = session.connection()
    for table in ApiKey.metadata.sorted_tables:
        for row in connection.execute(sa.select(table)):
            parts.extend(str(value) for value in row)
    return "\n".join(parts)


def test_secret_is_never_stored_only_its_hmac_digest(session: Session, alice: Person, pepper: str) -> None:
    created = _create(session, alice, expires_at=utc_now() + dt.timedelta(days=1))
    key_service.update_key(
        session, alice.access, alice.actor, created.key.key_id, key_service.parse_changes({"name": "renamed"})
    )
    _set_status(session, alice, created.key.key_id, "INACTIVE")
    secret = created.secret
    random_part = secret[4:36]

    stored = _all_stored_text(session)
    assert secret not in stored
    assert random_part not in stored
    assert random_part[:16] not in stored and random_part[16:] not in stored

    row = _row(session, created.key.key_id)
    assert row is not None
    assert row.digest == hmac.new(pepper.encode(), secret.encode(), hashlib.sha256).hexdigest()
    assert row.digest != hashlib.sha256(secret.encode()).hexdigest()  # keyed, not a plain hash
    assert row.masked == "bpk_••••••••" + secret[-4:]


def test_audit_events_hold_neither_secret_nor_digest(session: Session, alice: Person) -> None:
    created = _create(session, alice)
    _set_status(session, alice, created.key.key_id, "INACTIVE")
    digest = _row(session, created.key.key_id).digest  # type: ignore[union-attr]
    key_service.delete_key(session, alice.access, alice.actor, created.key.key_id)
    session.commit()
    events = session.exec(select(AuditEvent)).all()
    assert {e.action for e in events} >= {"key.create", "key.status", "key.delete"}
    for event in events:
        for value in event.model_dump().values():
            assert created.secret not in str(value)
            assert digest not in str(value)
            assert created.secret[4:36] not in str(value)


def test_verification_uses_the_configured_pepper(session: Session, alice: Person, monkeypatch) -> None:
    """A different pepper gives a different digest, so the key is not found."""
    from rxapp.context import app_context

    created = _create(session, alice)
    assert _verify(session, created.secret).valid
    monkeypatch.setenv("APIKEYS_PEPPER", "another-pepper-that-is-long-enough-0123456789")
    app_context.reset()
    assert _verify(session, created.secret).code == "NOT_FOUND"


# ---------------------------------------------------------------- verification at call time


def test_verify_codes_for_malformed_and_unknown_keys(session: Session, alice: Person) -> None:
    _create(session, alice)
    assert _verify(session, "garbage").code == "MALFORMED"
    assert _verify(session, "").code == "MALFORMED"
    unknown = key_format.generate_secret("bpk")
    outcome = _verify(session, unknown)
    assert (outcome.valid, outcome.code) == (False, "NOT_FOUND")


def test_malformed_secret_is_rejected_without_touching_the_database(engine, alice: Person) -> None:
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    with engine.connect() as connection:
        sa.event.listen(engine, "before_cursor_execute", count)
        try:
            secret = key_format.generate_secret("bpk")
            typo = secret[:-1] + ("x" if secret[-1] != "x" else "y")
            assert verify_key(connection, typo).code == "MALFORMED"
        finally:
            sa.event.remove(engine, "before_cursor_execute", count)
    assert statements == []


def test_expired_key_fails_before_the_expiry_job_ran(session: Session, alice: Person) -> None:
    now = utc_now()
    end = now + dt.timedelta(hours=1)
    created = _create(session, alice, expires_at=end, now=now)
    assert _verify(session, created.secret, now=end - dt.timedelta(seconds=1)).valid
    for later in (end, end + dt.timedelta(microseconds=1), end + dt.timedelta(days=400)):
        outcome = _verify(session, created.secret, now=later)
        assert (outcome.valid, outcome.code) == (False, "EXPIRED")
    assert _row(session, created.key.key_id).status == KeyStatus.ACTIVE  # the job has not run


def test_expired_key_fails_with_real_clock(session: Session, alice: Person) -> None:
    """End date in the past at call time (no `now=` anywhere in the verification)."""
    created = _create(session, alice, expires_at=utc_now() + dt.timedelta(days=1))
    session.execute(
        sa.update(ApiKey)
        .where(ApiKey.key_id == created.key.key_id)
        .values(expires_at=utc_now() - dt.timedelta(seconds=1))
    )
    session.commit()
    assert _verify(session, created.secret).code == "EXPIRED"


def test_inactive_takes_effect_on_the_very_next_verification(engine, session: Session, alice: Person) -> None:
    created = _create(session, alice)
    with engine.connect() as other:  # a separate connection, like the API's
        assert verify_key(other, created.secret).valid
        _set_status(session, alice, created.key.key_id, "INACTIVE")
        other.rollback()
        outcome = verify_key(other, created.secret)
        assert (outcome.valid, outcome.code) == (False, "INACTIVE")
        _set_status(session, alice, created.key.key_id, "ACTIVE")
        other.rollback()
        assert verify_key(other, created.secret).valid


def test_delete_takes_effect_on_the_very_next_verification(engine, session: Session, alice: Person) -> None:
    created = _create(session, alice)
    with engine.connect() as other:
        assert verify_key(other, created.secret).valid
        key_service.delete_key(session, alice.access, alice.actor, created.key.key_id)
        session.commit()
        other.rollback()
        assert verify_key(other, created.secret).code == "NOT_FOUND"


def test_deletion_removes_the_row_and_leaves_only_an_audit_event(session: Session, alice: Person) -> None:
    created = _create(session, alice, "doomed")
    key_service.delete_key(session, alice.access, alice.actor, created.key.key_id)
    session.commit()
    assert _row(session, created.key.key_id) is None
    assert session.exec(select(sa.func.count()).select_from(ApiKey)).one() == 0
    events = session.exec(
        select(AuditEvent).where(
            AuditEvent.target_id == created.key.key_id, AuditEvent.action == "key.delete"
        )
    ).all()
    assert len(events) == 1
    assert events[0].owner_id == alice.id
    assert "doomed" in events[0].detail
    with pytest.raises(NotFoundError):
        key_service.get_key(session, alice.access, created.key.key_id)
    with pytest.raises(NotFoundError):
        key_service.delete_key(session, alice.access, alice.actor, created.key.key_id)


def test_verify_does_not_write(engine, session: Session, alice: Person) -> None:
    created = _create(session, alice)
    writes: list[str] = []

    def spy(_conn, _cursor, statement, *_args) -> None:
        if not statement.lstrip().upper().startswith(("SELECT", "PRAGMA")):
            writes.append(statement)

    sa.event.listen(engine, "before_cursor_execute", spy)
    try:
        with engine.connect() as connection:
            for _ in range(20):
                assert verify_key(connection, created.secret).valid
            verify_key(connection, key_format.generate_secret("bpk"))
    finally:
        sa.event.remove(engine, "before_cursor_execute", spy)
    assert writes == []
    assert _row(session, created.key.key_id).last_used_at is None


# ---------------------------------------------------------------- status transitions


def test_active_inactive_round_trip_bumps_version_and_audits(session: Session, alice: Person) -> None:
    created = _create(session, alice)
    off = _set_status(session, alice, created.key.key_id, "INACTIVE", expected_version=1)
    assert (off.status, off.version) == ("INACTIVE", 2)
    on = _set_status(session, alice, created.key.key_id, "ACTIVE", expected_version=2)
    assert (on.status, on.version) == ("ACTIVE", 3)
    details = [
        e.detail
        for e in session.exec(
            select(AuditEvent).where(AuditEvent.action == "key.status").order_by(AuditEvent.id)
        ).all()
    ]
    assert details == ["ACTIVE -> INACTIVE", "INACTIVE -> ACTIVE"]


def test_no_op_update_changes_nothing(session: Session, alice: Person) -> None:
    created = _create(session, alice, "same")
    result = key_service.update_key(
        session,
        alice.access,
        alice.actor,
        created.key.key_id,
        key_service.parse_changes({"name": " same ", "status": "ACTIVE"}),
    )
    assert result.version == 1


@pytest.mark.parametrize("after_job", [False, True], ids=["effective-expired", "expired-by-job"])
def test_expired_key_cannot_be_reactivated_or_given_a_new_end_date(
    session: Session, alice: Person, after_job: bool
) -> None:
    now = utc_now()
    end = now + dt.timedelta(hours=1)
    created = _create(session, alice, expires_at=end, now=now)
    later = end + dt.timedelta(minutes=1)
    if after_job:
        assert key_service.expire_due_keys(session, now=later) == 1
        session.commit()
    key_id = created.key.key_id
    for changes in (
        {"status": "ACTIVE"},
        {"status": "INACTIVE"},
        {"expires_at": (later + dt.timedelta(days=30)).isoformat()},
        {"expires_at": None},
    ):
        with pytest.raises(ValidationError):
            key_service.update_key(
                session, alice.access, alice.actor, key_id, key_service.parse_changes(changes), now=later
            )
        session.rollback()
    with pytest.raises(ValidationError):
        key_service.parse_changes({"status": "EXPIRED"})
    # A rename or moving it off its profile is still allowed (needed to delete a profile).
    renamed = key_service.update_key(
        session, alice.access, alice.actor, key_id, key_service.parse_changes({"name": "old"}), now=later
    )
    assert renamed.status == "EXPIRED"
    assert renamed.name == "old"
    session.commit()
    assert _verify(session, created.secret, now=later).code == "EXPIRED"


def test_end_date_can_be_changed_and_cleared_on_a_live_key(session: Session, alice: Person) -> None:
    now = utc_now()
    created = _create(session, alice, expires_at=now + dt.timedelta(hours=1), now=now)
    new_end = now + dt.timedelta(days=10)
    updated = key_service.update_key(
        session,
        alice.access,
        alice.actor,
        created.key.key_id,
        key_service.parse_changes({"expires_at": new_end.isoformat()}),
        now=now,
    )
    assert updated.expires_at == new_end
    cleared = key_service.update_key(
        session,
        alice.access,
        alice.actor,
        created.key.key_id,
        key_service.parse_changes({"expires_at": None}),
        now=now,
    )
    assert cleared.expires_at is None
    session.commit()
    assert _verify(session, created.secret, now=now + dt.timedelta(days=3650)).valid


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(lambda now: (now - dt.timedelta(seconds=1)).isoformat(), id="past"),
        pytest.param(lambda now: (now + dt.timedelta(days=1)).replace(tzinfo=None).isoformat(), id="naive"),
    ],
)
def test_update_rejects_bad_end_dates(session: Session, alice: Person, value) -> None:
    now = utc_now()
    created = _create(session, alice, now=now)
    with pytest.raises(ValidationError) as error:
        key_service.update_key(
            session,
            alice.access,
            alice.actor,
            created.key.key_id,
            key_service.parse_changes({"expires_at": value(now)}),
            now=now,
        )
    assert error.value.field == "expires_at"


@pytest.mark.parametrize(
    "field", ["owner_id", "digest", "last_used_at", "key_id", "foo", "version", "masked", "created_at", "id"]
)
def test_parse_changes_rejects_unknown_fields(field: str) -> None:
    with pytest.raises(ValidationError) as error:
        key_service.parse_changes({"name": "fine", field: "x"})
    assert error.value.field == field


@pytest.mark.parametrize(
    "changes",
    [{"status": "expired"}, {"status": "DELETED"}, {"bias_profile_id": "abc"}, {"expires_at": "tomorrow"}],
)
def test_parse_changes_rejects_bad_values(changes: dict) -> None:
    with pytest.raises(ValidationError):
        key_service.parse_changes(changes)


def test_update_rejects_invalid_names(session: Session, alice: Person) -> None:
    created = _create(session, alice, "good")
    for bad in ("", "   ", "x" * 101, "a\x00b"):
        with pytest.raises(ValidationError):
            key_service.update_key(
                session,
                alice.access,
                alice.actor,
                created.key.key_id,
                key_service.parse_changes({"name": bad}),
            )
    assert key_service.get_key(session, alice.access, created.key.key_id).name == "good"


def test_stale_expected_version_is_a_conflict(session: Session, alice: Person) -> None:
    created = _create(session, alice, "v1")
    key_service.update_key(
        session, alice.access, alice.actor, created.key.key_id, key_service.parse_changes({"name": "v2"})
    )
    session.commit()
    with pytest.raises(ConflictError):
        key_service.update_key(
            session,
            alice.access,
            alice.actor,
            created.key.key_id,
            key_service.parse_changes({"name": "v3"}),
            expected_version=1,
        )
    session.rollback()
    assert key_service.get_key(session, alice.access, created.key.key_id).name == "v2"


def test_concurrent_edit_in_another_session_is_a_conflict(engine, session: Session, alice: Person) -> None:
    created = _create(session, alice, "original")
    seen_version = key_service.get_key(session, alice.access, created.key.key_id).version
    with Session(engine, expire_on_commit=False) as other:
        key_service.update_key(
            other,
            alice.access,
            alice.actor,
            created.key.key_id,
            key_service.parse_changes({"status": "INACTIVE"}),
        )
        other.commit()
    session.expire_all()
    with pytest.raises(ConflictError):
        key_service.update_key(
            session,
            alice.access,
            alice.actor,
            created.key.key_id,
            key_service.parse_changes({"name": "mine"}),
            expected_version=seen_version,
        )


def test_update_and_detach_profile(session: Session, alice: Person) -> None:
    first = profile_service.create_profile(session, alice.access, alice.actor, "First")
    second = profile_service.create_profile(session, alice.access, alice.actor, "Second")
    created = _create(session, alice, bias_profile_id=first.id)
    moved = key_service.update_key(
        session,
        alice.access,
        alice.actor,
        created.key.key_id,
        key_service.parse_changes({"bias_profile_id": second.id}),
    )
    assert (moved.bias_profile_id, moved.bias_profile_name) == (second.id, "Second")
    detached = key_service.update_key(
        session,
        alice.access,
        alice.actor,
        created.key.key_id,
        key_service.parse_changes({"bias_profile_id": None}),
    )
    assert (detached.bias_profile_id, detached.bias_profile_name) == (None, None)
    with pytest.raises(NotFoundError):
        key_service.update_key(
            session,
            alice.access,
            alice.actor,
            created.key.key_id,
            key_service.parse_changes({"bias_profile_id": 9999}),
        )


def test_create_key_with_missing_profile_fails(session: Session, alice: Person) -> None:
    with pytest.raises(NotFoundError):
        key_service.create_key(session, alice.access, alice.actor, "x", bias_profile_id=12345)


def test_effective_status() -> None:
    now = utc_now()
    past, future = now - dt.timedelta(seconds=1), now + dt.timedelta(seconds=1)
    assert key_service.effective_status("ACTIVE", None, now) == "ACTIVE"
    assert key_service.effective_status("ACTIVE", future, now) == "ACTIVE"
    assert key_service.effective_status("ACTIVE", past, now) == "EXPIRED"
    assert key_service.effective_status("ACTIVE", now, now) == "EXPIRED"
    assert key_service.effective_status("INACTIVE", past, now) == "EXPIRED"
    assert key_service.effective_status("INACTIVE", future, now) == "INACTIVE"
    assert key_service.effective_status("EXPIRED", future, now) == "EXPIRED"
