"""Workspace key policies (issue 26, item 4) in the service layer: owners set them (audited); create,
edit and roll obey them with machine-readable codes; existing keys are listed with what breaks the
policy and never rewritten; the unused-key rule warns first, then disables once, with a grace
period after the rule is switched on."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select

from rxapp.models import ApiKey, AuditEvent, KeyStatus, WebhookMessage
from rxapp.services import key_policies, profiles, rolling
from rxapp.services import keys as key_service
from rxapp.services import workspaces as workspace_service
from rxapp.services.errors import ForbiddenError, ValidationError
from rxapp.services.keys import idle
from rxapp.services.keys import policy as key_policy
from rxapp.services.notices import inbox
from rxapp.services.webhooks import endpoints
from rxapp.services.webhooks import outbox as webhooks
from tests.unit.helpers import Person, new_user

NOW = dt.datetime(2027, 3, 1, 12, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


def _set(session: Session, person: Person, now: dt.datetime = NOW, **values) -> key_policies.PolicyView:
    view = key_policies.set_policy(
        session, person.access, person.actor, key_policies.PolicyValues(**values), now=now
    )
    session.commit()
    return view


def _key(session: Session, person: Person, name: str, now: dt.datetime = NOW, **kw) -> ApiKey:
    created = key_service.create_key(session, person.access, person.actor, name, now=now, **kw)
    session.commit()
    return session.exec(select(ApiKey).where(ApiKey.key_id == created.key.key_id)).one()


def _profile(session: Session, person: Person) -> int:
    profile = profiles.create_profile(session, person.access, person.actor, "strict", categories=["age"])
    session.commit()
    return profile.id


def _refused(code: str, field: str):
    class Check:
        def __enter__(self):
            return self

        def __exit__(self, kind, error, _trace):
            assert isinstance(error, ValidationError), error
            assert (error.code, error.field) == (code, field), (error.code, error.field, error.message)
            return True

    return Check()


# ---------------------------------------------------------------- setting the policy


def test_only_owners_set_it_values_are_checked_and_every_change_is_audited(
    session: Session, alice: Person
) -> None:
    bob = new_user(session, "bob@example.com")
    team = workspace_service.create_workspace(session, alice.id, alice.actor, "Team")
    owner = workspace_service.resolve(session, alice.id, team.public_id)
    invitation, _ = workspace_service.create_invitation(session, owner, "member")
    workspace_service.accept_invitation(session, bob.id, invitation)
    session.commit()
    member = workspace_service.resolve(session, bob.id, team.public_id)
    with pytest.raises(ForbiddenError):
        key_policies.set_policy(session, member, bob.actor, key_policies.PolicyValues(max_lifetime_days=30))
    assert key_policies.get_policy(session, member) == key_policy.NO_POLICY  # members read it
    with _refused(key_policies.DEFAULT_ABOVE_MAX, "default_lifetime_days"):
        key_policies.set_policy(session, owner, alice.actor, key_policies.PolicyValues(30, 60))
    with _refused(key_policies.BAD_POLICY, "disable_unused_after_days"):
        key_policies.set_policy(
            session, owner, alice.actor, key_policies.PolicyValues(disable_unused_after_days=3)
        )
    with _refused(key_policies.BAD_POLICY, "max_lifetime_days"):
        key_policies.set_policy(session, owner, alice.actor, key_policies.PolicyValues(max_lifetime_days=0))
    values = key_policies.PolicyValues(90, 30, True, 60)
    key_policies.set_policy(session, owner, alice.actor, values, now=NOW)
    key_policies.set_policy(session, owner, alice.actor, values, now=NOW)  # unchanged: no second event
    session.commit()
    policy = key_policies.get_policy(session, member)
    assert key_policies.values_of(policy) == values
    assert policy.max_lifetime_since == NOW and policy.disable_unused_since == NOW
    events = session.exec(select(AuditEvent).where(AuditEvent.action == "workspace.key_policy")).all()
    assert len(events) == 1 and "max_lifetime_days=90" in events[0].detail
    assert events[0].target_id == team.public_id


# ---------------------------------------------------------------- create, edit, roll


def test_a_new_key_gets_the_default_lifetime_and_a_later_end_is_refused(
    session: Session, alice: Person
) -> None:
    _set(session, alice, max_lifetime_days=90, default_lifetime_days=30)
    assert _key(session, alice, "plain").expires_at == NOW + 30 * DAY
    _set(session, alice, max_lifetime_days=90)
    assert _key(session, alice, "max only").expires_at == NOW + 90 * DAY
    # the last allowed day counts whole (a day picked in any time zone ends within a day of it)
    assert _key(session, alice, "last day", expires_at=NOW + 90 * DAY + dt.timedelta(hours=20))
    with _refused(key_policy.MAX_LIFETIME, "expires_at"):
        _key(session, alice, "too late", expires_at=NOW + 92 * DAY)
    session.rollback()


def test_a_required_profile_is_enforced_on_create_edit_and_roll(session: Session, alice: Person) -> None:
    before = _key(session, alice, "old, no profile")
    _set(session, alice, require_bias_profile=True)
    with _refused(key_policy.PROFILE_REQUIRED, "bias_profile_id"):
        _key(session, alice, "no profile")
    session.rollback()
    profile_id = _profile(session, alice)
    with_profile = _key(session, alice, "with profile", bias_profile_id=profile_id)
    with _refused(key_policy.PROFILE_REQUIRED, "bias_profile_id"):
        key_service.update_key(
            session,
            alice.access,
            alice.actor,
            with_profile.key_id,
            key_service.parse_changes({"bias_profile_id": None}),
        )
    session.rollback()
    # an existing key that breaks the rule still takes other changes: nothing is forced on it
    renamed = key_service.update_key(
        session,
        alice.access,
        alice.actor,
        before.key_id,
        key_service.parse_changes({"name": "renamed", "bias_profile_id": None}),
    )
    assert renamed.name == "renamed"
    with _refused(key_policy.PROFILE_REQUIRED, "bias_profile_id"):
        rolling.roll_key(session, alice.access, alice.actor, before.key_id, dt.timedelta(0))
    session.rollback()
    # a leak's roll replaces the key whatever the policy (services/leaks.py passes profile_rule=False)
    rolled = rolling.roll_key(
        session, alice.access, alice.actor, before.key_id, dt.timedelta(hours=1), profile_rule=False
    )
    assert rolled.new.key.bias_profile_id is None


def test_edits_obey_the_maximum_and_old_keys_can_be_brought_in_line(session: Session, alice: Person) -> None:
    old = _key(session, alice, "old", now=NOW - 200 * DAY)  # no end date, made long before the rule
    _set(session, alice, max_lifetime_days=90)
    fresh = _key(session, alice, "fresh")
    change = key_service.parse_changes
    later = NOW + DAY
    with _refused(key_policy.MAX_LIFETIME, "expires_at"):
        key_service.update_key(
            session, alice.access, alice.actor, fresh.key_id, change({"expires_at": None}), now=later
        )
    session.rollback()
    with _refused(key_policy.MAX_LIFETIME, "expires_at"):
        key_service.update_key(
            session,
            alice.access,
            alice.actor,
            fresh.key_id,
            change({"expires_at": NOW + 95 * DAY}),
            now=later,
        )
    session.rollback()
    # counted from the rule for a key older than it: within 90 days of the rule is accepted
    updated = key_service.update_key(
        session, alice.access, alice.actor, old.key_id, change({"expires_at": NOW + 80 * DAY}), now=later
    )
    assert updated.expires_at == NOW + 80 * DAY


def test_a_roll_keeps_the_lifetime_cut_to_the_maximum(session: Session, alice: Person) -> None:
    long_lived = _key(session, alice, "long", expires_at=NOW + 365 * DAY)
    _set(session, alice, max_lifetime_days=30)
    rolled = rolling.roll_key(session, alice.access, alice.actor, long_lived.key_id, dt.timedelta(0), now=NOW)
    assert rolled.new.key.expires_at == NOW + 30 * DAY


# ---------------------------------------------------------------- nothing changes silently


def test_existing_keys_are_listed_with_what_breaks_the_policy_and_left_alone(
    session: Session, alice: Person
) -> None:
    profile_id = _profile(session, alice)
    a = _key(session, alice, "Key A", now=NOW - 10 * DAY, bias_profile_id=profile_id)
    b = _key(session, alice, "Key B", now=NOW - 10 * DAY, expires_at=NOW + 10 * DAY)
    ok = _key(session, alice, "Key C", now=NOW - 10 * DAY, expires_at=NOW + DAY, bias_profile_id=profile_id)
    before = {k.key_id: (k.status, k.expires_at, k.version) for k in session.exec(select(ApiKey)).all()}
    view = _set(session, alice, max_lifetime_days=90, require_bias_profile=True)
    found = {v.key_id: [p.rule for p in v.problems] for v in view.violations}
    assert found == {a.key_id: ["max_lifetime"], b.key_id: ["require_bias_profile"]}
    assert ok.key_id not in found and view.violations_total == 2
    assert "no end date (max lifetime 90 days" in view.violations[0].problems[0].message
    session.expire_all()
    after = {k.key_id: (k.status, k.expires_at, k.version) for k in session.exec(select(ApiKey)).all()}
    assert after == before  # the policy rewrote no key


# ---------------------------------------------------------------- unused keys: warned, then disabled


def _hooked(session: Session, person: Person) -> None:
    endpoints.create_endpoint(
        session, person.access, person.actor, "http://127.0.0.1:9/hook", [webhooks.KEY_UNUSED_WARNING], "t"
    )
    session.commit()


@pytest.fixture
def hooks(app_settings, monkeypatch: pytest.MonkeyPatch):
    from rxapp.context import app_context

    monkeypatch.setenv("APIKEYS_WEBHOOK_ALLOW_PRIVATE", "1")
    app_context.reset()
    yield
    app_context.reset()


def _status(session: Session, key: ApiKey) -> str:
    session.expire_all()
    return session.get_one(ApiKey, key.id).status


def test_setting_the_rule_warns_idle_keys_first_and_disables_them_after_the_grace(
    hooks, session: Session, alice: Person
) -> None:
    _hooked(session, alice)
    idle_key = _key(session, alice, "idle", now=NOW - 100 * DAY)
    busy = _key(session, alice, "busy", now=NOW - 100 * DAY)
    session.execute(sa.update(ApiKey).where(col(ApiKey.id) == busy.id).values(last_used_at=NOW - DAY))
    session.commit()
    view = _set(session, alice, disable_unused_after_days=30)
    assert [v.key_id for v in view.violations] == [idle_key.key_id]
    assert "will be disabled on 2027-03-08 if still unused" in view.violations[0].problems[0].message
    assert idle.disable_unused_keys(session, NOW) == 0  # nothing before a warning
    warned = idle.warn_unused_keys(session, NOW)
    session.commit()
    assert [(w.key_id, w.disable_on) for w in warned] == [(idle_key.key_id, NOW + 7 * DAY)]  # the grace
    assert idle.warn_unused_keys(session, NOW + DAY) == []  # once per idle period, whatever the workers
    # the owner hears of it in the console (and by email when SMTP is set up), once
    told = inbox.list_for(session, alice.id)
    assert [n.headline for n in told] == ["Key “idle” will be disabled for being unused"]
    assert "turned off on 2027-03-08 unless it is used" in told[0].detail
    notices = idle.notices_for(session, alice.access.workspace_id, [idle_key.key_id, busy.key_id])
    assert list(notices) == [idle_key.key_id] and notices[idle_key.key_id].state == "warning"
    messages = session.exec(select(WebhookMessage)).all()
    assert [m.event_type for m in messages] == ["key.unused_warning"]
    assert '"disable_on":"2027-03-08T12:00:00Z"' in messages[0].payload
    assert idle.disable_unused_keys(session, NOW + 6 * DAY) == 0
    assert idle.disable_unused_keys(session, NOW + 7 * DAY) == 1
    assert idle.disable_unused_keys(session, NOW + 7 * DAY) == 0  # one conditional UPDATE: once
    session.commit()
    assert _status(session, idle_key) == KeyStatus.INACTIVE and _status(session, busy) == KeyStatus.ACTIVE
    notice = idle.notices_for(session, alice.access.workspace_id, [idle_key.key_id])[idle_key.key_id]
    assert (notice.state, notice.after_days) == ("disabled", 30)
    reasons = session.exec(
        select(AuditEvent.detail).where(
            AuditEvent.action == "key.status", AuditEvent.target_id == idle_key.key_id
        )
    ).all()
    assert reasons == ["ACTIVE -> INACTIVE (unused for 30 days: workspace policy)"]
    # turned back on: the clock restarts, no warning until it is idle again
    key_service.update_key(
        session,
        alice.access,
        alice.actor,
        idle_key.key_id,
        key_service.parse_changes({"status": "ACTIVE"}),
        now=NOW + 8 * DAY,
    )
    session.commit()
    assert idle.notices_for(session, alice.access.workspace_id, [idle_key.key_id]) == {}
    assert idle.warn_unused_keys(session, NOW + 9 * DAY) == []
    # turned back on at day 8: due a warning at day 8 + 30 - 7 ("busy", last used on day -1: day 22)
    assert [w.key_id for w in idle.warn_unused_keys(session, NOW + 30 * DAY)] == [busy.key_id]
    assert [w.key_id for w in idle.warn_unused_keys(session, NOW + 32 * DAY)] == [idle_key.key_id]


def test_a_use_after_the_warning_cancels_it_and_a_rule_change_withdraws_it(
    session: Session, alice: Person
) -> None:
    used = _key(session, alice, "used later", now=NOW - 60 * DAY)
    kept = _key(session, alice, "rule changed", now=NOW - 60 * DAY)
    _set(session, alice, now=NOW - 30 * DAY, disable_unused_after_days=30)
    assert len(idle.warn_unused_keys(session, NOW)) == 2
    session.execute(sa.update(ApiKey).where(col(ApiKey.id) == used.id).values(last_used_at=NOW + DAY))
    session.commit()
    assert idle.notices_for(session, alice.access.workspace_id, [used.key_id]) == {}  # used: no flag
    _set(session, alice, now=NOW + DAY, disable_unused_after_days=90)  # longer: warnings withdrawn
    assert idle.disable_unused_keys(session, NOW + 10 * DAY) == 0
    assert idle.notices_for(session, alice.access.workspace_id, [kept.key_id]) == {}
    assert _status(session, kept) == _status(session, used) == KeyStatus.ACTIVE
