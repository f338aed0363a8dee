"""A model-based test of the key lifecycle: whatever happens, verification agrees with a tiny model.

Rules: create (with or without an end date relative to a model clock), rename, set ACTIVE/INACTIVE,
change the end date, delete, advance the clock, run the expiry job, verify. The model:
deleted -> NOT_FOUND; EXPIRED by the job or end date <= clock -> EXPIRED; INACTIVE -> INACTIVE;
else valid.

Memberships: a second person ("mate") is invited with a role, has it changed, is removed; their
writes succeed as a member or owner, are FORBIDDEN as a viewer, and the workspace is NOT_FOUND
to them once removed. The workspace never loses its last owner.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlmodel import Session, SQLModel

from rxapp import db
from rxapp.models import User
from rxapp.services import key_format
from rxapp.services import keys as key_service
from rxapp.services import workspaces as workspace_service
from rxapp.services.errors import ConflictError, ForbiddenError, NotFoundError, ValidationError
from tests.unit.helpers import verify_key

T0 = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
NAMES = st.sampled_from(["svc", "billing", "Reports API", "ünï", "x" * 100])
# Round steps make an end date land exactly on the clock often, so the `<=` boundary gets exercised.
STEPS = st.sampled_from([1, 60, 600, 3600]) | st.integers(min_value=1, max_value=3 * 3600)
OFFSETS = STEPS | st.integers(min_value=-600, max_value=0)  # seconds relative to the clock


@dataclass
class ModelKey:
    secret: str
    key_id: str
    name: str
    status: str  # the stored status: ACTIVE, INACTIVE or EXPIRED
    expires_at: dt.datetime | None
    deleted: bool = False

    def expected(self, now: dt.datetime) -> tuple[bool, str]:
        if self.deleted:
            return False, "NOT_FOUND"
        if self.status == "EXPIRED" or (self.expires_at is not None and self.expires_at <= now):
            return False, "EXPIRED"
        if self.status == "INACTIVE":
            return False, "INACTIVE"
        return True, ""

    def effectively_expired(self, now: dt.datetime) -> bool:
        return self.expected(now) == (False, "EXPIRED")


class KeyLifecycle(RuleBasedStateMachine):
    keys = Bundle("keys")

    def __init__(self) -> None:
        super().__init__()
        self.directory = tempfile.mkdtemp(prefix="lifecycle-")
        self.engine = db.make_engine(f"sqlite:///{self.directory}/model.db")
        SQLModel.metadata.create_all(self.engine)
        self.session = Session(self.engine, expire_on_commit=False)
        user = User(email="model@example.com", password_hash="not-a-real-hash")
        mate = User(email="mate@example.com", password_hash="not-a-real-hash")
        self.session.add_all([user, mate])
        self.session.commit()
        shared = workspace_service.create_workspace(self.session, user.id, user.email, "Team")
        self.session.commit()
        self.owner_access = workspace_service.resolve(self.session, user.id, shared.public_id)
        self.public_id = shared.public_id
        self.mate_id = mate.id
        self.mate_role: str | None = None  # None: not a member
        self.clock = T0
        self.model: list[ModelKey] = []

    def teardown(self) -> None:
        self.session.close()
        self.engine.dispose()
        shutil.rmtree(self.directory, ignore_errors=True)

    def _changes(self, key: ModelKey, data: dict) -> key_service.ApiKeyPublic:
        try:
            result = key_service.update_key(
                self.session,
                self.owner_access,
                "model",
                key.key_id,
                key_service.parse_changes(data),
                now=self.clock,
            )
        except BaseException:
            self.session.rollback()
            raise
        self.session.commit()
        return result

    @initialize()
    def start(self) -> None:
        assert self.model == []

    @rule(target=keys, name=NAMES, offset=st.none() | STEPS)
    def create(self, name: str, offset: int | None) -> ModelKey:
        end = None if offset is None else self.clock + dt.timedelta(seconds=offset)
        created = key_service.create_key(
            self.session, self.owner_access, "model", name, expires_at=end, now=self.clock
        )
        self.session.commit()
        assert created.key.status == "ACTIVE"
        key = ModelKey(created.secret, created.key.key_id, name, "ACTIVE", end)
        self.model.append(key)
        return key

    @rule(key=keys, name=NAMES)
    def rename(self, key: ModelKey, name: str) -> None:
        if key.deleted:
            with pytest.raises(NotFoundError):
                self._changes(key, {"name": name})
            return
        result = self._changes(key, {"name": name})
        key.name = name
        assert result.name == name

    @rule(key=keys, status=st.sampled_from(["ACTIVE", "INACTIVE"]))
    def set_status(self, key: ModelKey, status: str) -> None:
        if key.deleted:
            with pytest.raises(NotFoundError):
                self._changes(key, {"status": status})
            return
        if key.effectively_expired(self.clock):
            with pytest.raises(ValidationError):
                self._changes(key, {"status": status})
            return
        result = self._changes(key, {"status": status})
        key.status = status
        assert result.status == status

    @rule(key=keys, offset=st.none() | OFFSETS)
    def set_end_date(self, key: ModelKey, offset: int | None) -> None:
        end = None if offset is None else self.clock + dt.timedelta(seconds=offset)
        data = {"expires_at": end}
        if key.deleted:
            with pytest.raises(NotFoundError):
                self._changes(key, data)
            return
        if end == key.expires_at:
            self._changes(key, data)  # nothing to change: accepted as a no-op
            return
        if key.effectively_expired(self.clock) or (end is not None and end <= self.clock):
            with pytest.raises(ValidationError):
                self._changes(key, data)
            return
        self._changes(key, data)
        key.expires_at = end

    @rule(key=keys)
    def delete(self, key: ModelKey) -> None:
        if key.deleted:
            with pytest.raises(NotFoundError):
                key_service.delete_key(self.session, self.owner_access, "model", key.key_id)
            self.session.rollback()
            return
        key_service.delete_key(self.session, self.owner_access, "model", key.key_id)
        self.session.commit()
        key.deleted = True

    def _mate(self):
        return workspace_service.resolve(self.session, self.mate_id, self.public_id)

    @rule(role=st.sampled_from(workspace_service.ROLES))
    def invite_mate(self, role: str) -> None:
        token, _ = workspace_service.create_invitation(self.session, self.owner_access, role)
        joined = workspace_service.accept_invitation(self.session, self.mate_id, token)
        self.session.commit()
        self.mate_role = self.mate_role or role  # a member keeps their role; the link is spent
        assert joined.role == self.mate_role
        with pytest.raises(NotFoundError):
            workspace_service.accept_invitation(self.session, self.mate_id, token)
        self.session.rollback()

    @rule(role=st.sampled_from(workspace_service.ROLES))
    def change_mate_role(self, role: str) -> None:
        if self.mate_role is None:
            with pytest.raises(NotFoundError):
                workspace_service.change_role(self.session, self.owner_access, self.mate_id, role)
            self.session.rollback()
            return
        workspace_service.change_role(self.session, self.owner_access, self.mate_id, role)
        self.session.commit()
        self.mate_role = role

    @rule()
    def remove_mate(self) -> None:
        if self.mate_role is None:
            with pytest.raises(NotFoundError):
                workspace_service.remove_member(self.session, self.owner_access, self.mate_id)
            self.session.rollback()
            return
        workspace_service.remove_member(self.session, self.owner_access, self.mate_id)
        self.session.commit()
        self.mate_role = None

    @rule()
    def owner_cannot_leave_alone(self) -> None:
        if self.mate_role == "owner":
            return  # two owners: leaving would be allowed; not exercised (the model keeps one owner)
        with pytest.raises(ConflictError):
            owner = self.owner_access
            workspace_service.change_role(self.session, owner, owner.user_id, "member")
        self.session.rollback()

    @rule(key=keys, name=NAMES)
    def mate_renames(self, key: ModelKey, name: str) -> None:
        if self.mate_role is None:
            with pytest.raises(NotFoundError):
                self._mate()
            return
        mate = self._mate()
        if self.mate_role == "viewer":
            with pytest.raises(ForbiddenError):
                key_service.update_key(
                    self.session,
                    mate,
                    "mate",
                    key.key_id,
                    key_service.parse_changes({"name": name}),
                    now=self.clock,
                )
            self.session.rollback()
            return
        if key.deleted:
            with pytest.raises(NotFoundError):
                key_service.update_key(
                    self.session,
                    mate,
                    "mate",
                    key.key_id,
                    key_service.parse_changes({"name": name}),
                    now=self.clock,
                )
            self.session.rollback()
            return
        key_service.update_key(
            self.session, mate, "mate", key.key_id, key_service.parse_changes({"name": name}), now=self.clock
        )
        self.session.commit()
        key.name = name

    @rule(seconds=STEPS)
    def advance_clock(self, seconds: int) -> None:
        self.clock += dt.timedelta(seconds=seconds)

    @rule()
    def run_expiry_job(self) -> None:
        due = [
            key
            for key in self.model
            if not key.deleted
            and key.status != "EXPIRED"
            and key.expires_at is not None
            and key.expires_at <= self.clock
        ]
        assert key_service.expire_due_keys(self.session, now=self.clock) == len(due)
        self.session.commit()
        for key in due:
            key.status = "EXPIRED"

    @rule(key=keys)
    def verify(self, key: ModelKey) -> None:
        outcome = verify_key(self.session.connection(), key.secret, now=self.clock)
        assert (outcome.valid, outcome.code) == key.expected(self.clock)
        if outcome.valid:
            assert outcome.key_id == key.key_id

    @rule()
    def verify_unknown_and_garbage(self) -> None:
        connection = self.session.connection()
        assert verify_key(connection, key_format.generate_secret("bpk"), now=self.clock).code == ("NOT_FOUND")
        assert verify_key(connection, "bpk_not-a-key", now=self.clock).code == "MALFORMED"

    @invariant()
    def every_key_verifies_as_the_model_says(self) -> None:
        connection = self.session.connection()
        for key in self.model:
            outcome = verify_key(connection, key.secret, now=self.clock)
            assert (outcome.valid, outcome.code) == key.expected(self.clock), key

    @invariant()
    def listed_statuses_agree(self) -> None:
        page = key_service.list_keys(
            self.session, self.owner_access, key_service.KeyQuery(page_size=100), now=self.clock
        )
        listed = {row.key_id: row.status for row in page.rows}
        assert {row.key_id: row.name for row in page.rows} == {
            k.key_id: k.name for k in self.model if not k.deleted
        }
        if self.mate_role is not None:  # a member of any role sees exactly what the owner sees
            seen = key_service.list_keys(
                self.session, self._mate(), key_service.KeyQuery(page_size=100), now=self.clock
            )
            assert seen == page
        alive = {key.key_id: key for key in self.model if not key.deleted}
        assert set(listed) == set(alive)
        for key_id, status in listed.items():
            valid, code = alive[key_id].expected(self.clock)
            assert status == ("ACTIVE" if valid else code)


@pytest.mark.slow
def test_key_lifecycle_agrees_with_the_model(app_settings) -> None:
    run_state_machine_as_test(
        KeyLifecycle,
        settings=settings(
            max_examples=50,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
