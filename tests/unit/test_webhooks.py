"""Webhooks (issue 26 part 1): signatures against the spec's test vector, the backoff schedule,
the SSRF guard, the outbox written in the key change's transaction, and delivery to a real
receiver on 127.0.0.1 (signature checked there) with retries, Redeliver and auto-disable."""

from __future__ import annotations

import datetime as dt
import ipaddress
import itertools
import json
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from rxapp import jobs
from rxapp.context import app_context
from rxapp.models import ApiKey, WebhookEndpoint, WebhookMessage
from rxapp.redaction import redact
from rxapp.services import keys as key_service
from rxapp.services import rolling
from rxapp.services.errors import ForbiddenError, ValidationError
from rxapp.services.keys import KeyChanges
from rxapp.services.notices import moments as key_moments
from rxapp.services.webhooks import delivery, endpoints, outbox, signing, targets
from tests.harness import CREDENTIAL_IN_LOG
from tests.unit.helpers import Person, utc_now
from tests.webhook_receiver import Receiver

# The Standard Webhooks spec's published test vector (its reference libraries' tests).
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


@pytest.fixture
def hooks_env(app_settings, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("APIKEYS_WEBHOOK_ALLOW_PRIVATE", "1")
    monkeypatch.setenv("APIKEYS_WEBHOOK_RETRY_SECONDS", "1,2,4")
    app_context.reset()
    yield app_context.settings
    app_context.reset()


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


# ---------------------------------------------------------------- signing


def test_the_signature_matches_the_spec_test_vector() -> None:
    assert signing.signature(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE
    sent = signing.headers(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY)
    assert sent == {
        "webhook-id": SPEC_ID,
        "webhook-timestamp": str(SPEC_TIMESTAMP),
        "webhook-signature": SPEC_SIGNATURE,
    }
    assert signing.verify(SPEC_SECRET, sent, SPEC_BODY, now=SPEC_TIMESTAMP + 10)


def test_verification_refuses_a_changed_body_an_old_timestamp_and_another_secret() -> None:
    sent = signing.headers(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY)
    assert not signing.verify(SPEC_SECRET, sent, SPEC_BODY + b" ", now=SPEC_TIMESTAMP)
    assert not signing.verify(SPEC_SECRET, sent, SPEC_BODY, now=SPEC_TIMESTAMP + 301)
    assert not signing.verify(signing.new_secret(), sent, SPEC_BODY, now=SPEC_TIMESTAMP)
    # while a secret is rolled a sender may list several signatures: one matching is enough
    both = {**sent, "webhook-signature": "v1,bm90IGl0 " + sent["webhook-signature"]}
    assert signing.verify(SPEC_SECRET, both, SPEC_BODY, now=SPEC_TIMESTAMP)


def test_a_new_secret_is_whsec_and_32_random_bytes() -> None:
    secret = signing.new_secret()
    assert secret.startswith("whsec_") and len(signing.secret_bytes(secret)) == 32
    assert secret != signing.new_secret()


# ---------------------------------------------------------------- backoff and the SSRF guard


def test_backoff_follows_the_schedule_then_gives_up() -> None:
    schedule = (1.0, 2.0, 4.0)
    assert [delivery.backoff(schedule, n) for n in (1, 2, 3)] == [dt.timedelta(seconds=s) for s in (1, 2, 4)]
    assert delivery.backoff(schedule, 4) is None


def test_the_default_schedule_is_exponential_over_about_a_day(app_settings) -> None:
    waits = app_settings.webhook_retry_seconds
    assert all(b >= a for a, b in itertools.pairwise(waits))
    assert 20 * 3600 <= sum(waits) <= 26 * 3600


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.9",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",  # noqa: S104 (an address refused, not bound)
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",
        "224.0.0.1",
    ],
)
def test_private_addresses_are_refused_unless_allowed(address: str) -> None:
    ip = ipaddress.ip_address(address)
    assert not targets.address_allowed(ip, allow_private=False)
    assert targets.address_allowed(ip, allow_private=True)


def test_public_addresses_are_allowed() -> None:
    for address in ("93.184.216.34", "2606:4700:4700::1111"):
        assert targets.address_allowed(ipaddress.ip_address(address), allow_private=False)


def test_the_resolved_address_is_checked_not_just_the_name() -> None:
    with pytest.raises(targets.TargetRefused, match="private"):
        targets.resolve("http://localhost:9/hook", allow_private=False)  # a name, resolving to loopback
    pinned = targets.resolve("http://localhost:9/hook?x=1", allow_private=True)
    assert pinned.url in ("http://127.0.0.1:9/hook?x=1", "http://[::1]:9/hook?x=1")
    assert pinned.host == "localhost:9" and pinned.server_name == "localhost"


@pytest.mark.parametrize(
    "url",
    [
        "",
        "ftp://example.com/x",
        "https://",
        "https://user:pw@example.com/",
        "http://127.0.0.1/x",
        "http://[::1]/x",
        "http://169.254.169.254/latest/meta-data",
        "https://exa mple.com/",
    ],
)
def test_bad_or_private_urls_are_refused_at_registration(url: str) -> None:
    with pytest.raises(ValidationError):
        targets.clean_url(url, allow_private=False)


# ---------------------------------------------------------------- endpoints and the outbox


def _endpoint(session: Session, person: Person, url: str, events=outbox.EVENTS) -> endpoints.CreatedEndpoint:
    created = endpoints.create_endpoint(session, person.access, person.actor, url, list(events), "tests")
    session.commit()
    return created


def _messages(session: Session) -> list[WebhookMessage]:
    session.expire_all()
    return list(session.exec(select(WebhookMessage).order_by(WebhookMessage.id)).all())


def test_only_owners_manage_endpoints_and_the_secret_is_stored_sealed(
    hooks_env, session: Session, alice: Person
) -> None:
    created = _endpoint(session, alice, "http://127.0.0.1:9/hook")
    row = session.exec(select(WebhookEndpoint)).one()
    assert created.secret.startswith("whsec_") and created.secret not in row.secret_sealed
    assert endpoints.signing_secret(row) == created.secret
    assert "secret" not in created.endpoint.model_dump_json()
    viewer = alice.access.__class__(**{**alice.access.__dict__, "role": "member"})
    with pytest.raises(ForbiddenError):
        endpoints.list_endpoints(session, viewer)
    with pytest.raises(ValidationError):
        endpoints.create_endpoint(session, alice.access, alice.actor, "http://127.0.0.1:9/", ["key.nope"])


def test_key_changes_queue_events_in_their_own_transaction_without_secrets(
    hooks_env, session: Session, alice: Person
) -> None:
    _endpoint(session, alice, "http://127.0.0.1:9/hook")
    key = key_service.create_key(session, alice.access, alice.actor, "svc")
    session.rollback()  # the change is undone: so is its event
    assert _messages(session) == []
    key = key_service.create_key(session, alice.access, alice.actor, "svc")
    key_service.update_key(session, alice.access, alice.actor, key.key.key_id, KeyChanges(name="svc-2"))
    rolled = rolling.roll_key(session, alice.access, alice.actor, key.key.key_id, dt.timedelta(hours=1))
    key_service.delete_key(session, alice.access, alice.actor, rolled.new.key.key_id)
    session.commit()
    messages = _messages(session)
    types = [m.event_type for m in messages]
    assert types == ["key.created", "key.updated", "key.created", "key.rolled", "key.deleted"]
    for message in messages:
        assert key.secret not in message.payload and rolled.new.secret not in message.payload
        assert "digest" not in message.payload and "masked" not in message.payload
    rolled_payload = json.loads(messages[3].payload)
    assert rolled_payload["data"]["key_id"] == key.key.key_id
    assert rolled_payload["data"]["new_key_id"] == rolled.new.key.key_id
    assert rolled_payload["data"]["workspace_id"] == alice.access.workspace_public_id


def test_endpoints_get_only_their_events_and_other_workspaces_nothing(
    hooks_env, session: Session, alice: Person, bob: Person
) -> None:
    _endpoint(session, alice, "http://127.0.0.1:9/a", ["key.deleted"])
    key_service.create_key(session, alice.access, alice.actor, "a")
    key_service.create_key(session, bob.access, bob.actor, "b")
    session.commit()
    assert _messages(session) == []


def test_the_expiry_job_queues_key_expired_and_reminders_once(
    hooks_env, engine, session: Session, alice: Person
) -> None:
    _endpoint(session, alice, "http://127.0.0.1:9/hook", ["key.expired", "key.expiring"])
    now = utc_now()
    soon = key_service.create_key(
        session, alice.access, alice.actor, "soon", expires_at=now + dt.timedelta(days=5)
    )
    key_service.create_key(
        session, alice.access, alice.actor, "later", expires_at=now + dt.timedelta(days=90)
    )
    ending = key_service.create_key(
        session, alice.access, alice.actor, "ending", expires_at=now + dt.timedelta(seconds=1)
    )
    session.commit()
    for _ in range(2):  # twice, as two workers would: each reminder once
        key_moments.scan_expiring(session, now=now)
        session.commit()
    reminders = [json.loads(m.payload) for m in _messages(session) if m.event_type == "key.expiring"]
    assert sorted((r["data"]["key_id"], r["data"]["days_before"]) for r in reminders) == sorted(
        [(soon.key.key_id, 7), (ending.key.key_id, 1)]
    )
    key_moments.scan_expiring(session, now=now + dt.timedelta(days=4, hours=12))
    session.commit()
    later = [json.loads(m.payload)["data"] for m in _messages(session) if m.event_type == "key.expiring"]
    assert sorted(d["days_before"] for d in later if d["key_id"] == soon.key.key_id) == [1, 7]
    assert jobs.expire_due_in_chunks(engine, now=now + dt.timedelta(seconds=2)) == 1
    expired = [json.loads(m.payload)["data"] for m in _messages(session) if m.event_type == "key.expired"]
    assert [d["key_id"] for d in expired] == [ending.key.key_id] and expired[0]["status"] == "EXPIRED"


def test_credits_low_is_queued_once_per_balance(hooks_env, session: Session, alice: Person) -> None:
    _endpoint(session, alice, "http://127.0.0.1:9/hook", ["key.credits_low"])
    key = key_service.create_key(session, alice.access, alice.actor, "metered", program={"credits": 5})
    session.commit()
    for _ in range(2):
        outbox.scan_reminders(session, credits_low=10)
        session.commit()
    low = [json.loads(m.payload)["data"] for m in _messages(session)]
    assert [(d["key_id"], d["credits_remaining"]) for d in low] == [(key.key.key_id, 5)]


def test_key_leaked_can_be_emitted(hooks_env, session: Session, alice: Person) -> None:
    _endpoint(session, alice, "http://127.0.0.1:9/hook", ["key.leaked"])
    created = key_service.create_key(session, alice.access, alice.actor, "k")
    row = session.exec(select(ApiKey).where(ApiKey.key_id == created.key.key_id)).one()
    assert outbox.emit_key_leaked(session, row, url="https://github.com/o/r/blob/x", source="github") == 1


# ---------------------------------------------------------------- delivery to a real receiver


def test_a_delivery_is_signed_and_logged(
    hooks_env, engine, session: Session, alice: Person, receiver
) -> None:
    created = _endpoint(session, alice, receiver.url)
    receiver.secret = created.secret
    key = key_service.create_key(session, alice.access, alice.actor, "svc")
    session.commit()
    assert jobs.deliver_webhooks_once(engine) == 1
    [got] = receiver.deliveries
    assert (
        got.verified and got.event_type == "key.created" and got.payload["data"]["key_id"] == key.key.key_id
    )
    assert got.headers["webhook-id"].startswith("msg_") and got.headers["content-type"] == "application/json"
    [logged] = endpoints.list_deliveries(session, alice.access, created.endpoint.endpoint_id)
    assert (logged.status, logged.status_code, logged.attempts) == ("delivered", 200, 1)
    assert logged.delivery_id == got.headers["webhook-id"] and '"ok"' in logged.response_excerpt
    assert jobs.deliver_webhooks_once(engine) == 0  # nothing twice


def test_a_failing_receiver_gets_retries_per_the_schedule_then_gives_up(
    hooks_env, engine, session: Session, alice: Person, receiver
) -> None:
    created = _endpoint(session, alice, receiver.url)
    receiver.secret, receiver.statuses = created.secret, [500, 503, 500, 500]
    key_service.create_key(session, alice.access, alice.actor, "svc")
    session.commit()
    [message] = _messages(session)
    for attempt, wait in enumerate((1, 2, 4), start=1):
        assert jobs.deliver_webhooks_once(engine) == 1
        message = _messages(session)[0]
        assert message.attempts == attempt and message.status == "pending"
        gap = (message.next_attempt_at - message.last_attempt_at).total_seconds()
        assert gap == pytest.approx(wait, abs=0.01)
        assert jobs.deliver_webhooks_once(engine) == 0  # not due yet
        session.execute(sa.update(WebhookMessage).values(next_attempt_at=utc_now()))
        session.commit()
    assert jobs.deliver_webhooks_once(engine) == 1
    assert _messages(session)[0].status == "failed"  # 1 + 3 retries, all refused
    assert len(receiver.deliveries) == 4 and all(d.verified for d in receiver.deliveries)
    assert len({d.headers["webhook-id"] for d in receiver.deliveries}) == 1  # the same message each time
    endpoints.redeliver(session, alice.access, alice.actor, created.endpoint.endpoint_id, message.message_id)
    session.commit()
    assert jobs.deliver_webhooks_once(engine) == 1
    assert _messages(session)[0].status == "delivered" and len(receiver.deliveries) == 5


def test_a_redeliver_during_an_attempt_is_not_lost(
    hooks_env, engine, session: Session, alice: Person
) -> None:
    """Redeliver clicked while the job's attempt is in flight: the attempt's outcome must not
    overwrite it, so the message is sent again."""
    created = _endpoint(session, alice, "http://127.0.0.1:9/hook")
    key_service.create_key(session, alice.access, alice.actor, "svc")
    session.commit()
    lease = dt.timedelta(seconds=60)
    with Session(engine) as worker:
        [outgoing] = delivery.claim_due(worker, utc_now(), lease)
        worker.commit()
    endpoints.redeliver(session, alice.access, alice.actor, created.endpoint.endpoint_id, outgoing.message_id)
    session.commit()
    with Session(engine) as worker:
        outcome = delivery.Outcome(True, 200, 5)
        delivery.record(worker, outgoing, outcome, schedule=(1, 2, 4), disable_after=dt.timedelta(days=3))
        worker.commit()
    session.expire_all()
    [message] = _messages(session)
    assert (message.status, message.attempts, message.claimed_until) == ("pending", 0, None)
    with Session(engine) as worker:
        assert [o.message_id for o in delivery.claim_due(worker, utc_now(), lease)] == [outgoing.message_id]


def test_two_workers_claiming_at_once_send_each_message_once(
    hooks_env, engine, session: Session, alice: Person
) -> None:
    _endpoint(session, alice, "http://127.0.0.1:9/hook")
    for n in range(5):
        key_service.create_key(session, alice.access, alice.actor, f"k{n}")
    session.commit()
    lease = dt.timedelta(seconds=60)
    with Session(engine) as one, Session(engine) as two:
        first = delivery.claim_due(one, utc_now(), lease, limit=3)
        one.commit()
        second = delivery.claim_due(two, utc_now(), lease, limit=10)
        two.commit()
    assert len(first) == 3 and len(second) == 2
    assert not {o.row_id for o in first} & {o.row_id for o in second}


def test_an_endpoint_failing_for_three_days_is_disabled(
    hooks_env, engine, session: Session, alice: Person
) -> None:
    created = _endpoint(session, alice, "http://127.0.0.1:9/hook")  # nothing listens on port 9
    key_service.create_key(session, alice.access, alice.actor, "svc")
    session.commit()
    assert jobs.deliver_webhooks_once(engine) == 1
    row = session.exec(select(WebhookEndpoint)).one()
    assert row.failing_since is not None and row.disabled_at is None
    session.execute(
        sa.update(WebhookEndpoint).values(failing_since=utc_now() - dt.timedelta(days=3, seconds=1))
    )
    session.execute(sa.update(WebhookMessage).values(next_attempt_at=utc_now()))
    session.commit()
    assert jobs.deliver_webhooks_once(engine) == 1
    session.expire_all()
    shown = endpoints.get_endpoint(session, alice.access, created.endpoint.endpoint_id)
    assert not shown.enabled and "3 days" in shown.disabled_reason
    key_service.create_key(session, alice.access, alice.actor, "quiet")
    session.commit()
    assert jobs.deliver_webhooks_once(engine) == 0  # a disabled endpoint gets nothing
    endpoints.update_endpoint(session, alice.access, alice.actor, created.endpoint.endpoint_id, enabled=True)
    session.commit()
    assert endpoints.get_endpoint(session, alice.access, created.endpoint.endpoint_id).enabled


def test_a_private_target_is_refused_at_delivery_when_not_allowed(
    hooks_env, engine, session: Session, alice: Person, receiver, monkeypatch
) -> None:
    created = _endpoint(session, alice, receiver.url)
    key_service.create_key(session, alice.access, alice.actor, "svc")
    session.commit()
    monkeypatch.setenv("APIKEYS_WEBHOOK_ALLOW_PRIVATE", "0")
    app_context.reset()
    assert jobs.deliver_webhooks_once(engine) == 1
    assert receiver.deliveries == []
    [logged] = endpoints.list_deliveries(session, alice.access, created.endpoint.endpoint_id)
    assert logged.status_code is None and "private" in logged.error


def test_rolling_the_secret_signs_with_the_new_one(
    hooks_env, engine, session: Session, alice: Person, receiver
) -> None:
    created = _endpoint(session, alice, receiver.url)
    rolled = endpoints.roll_secret(session, alice.access, alice.actor, created.endpoint.endpoint_id)
    session.commit()
    assert rolled.secret != created.secret
    receiver.secret = rolled.secret
    key_service.create_key(session, alice.access, alice.actor, "svc")
    session.commit()
    jobs.deliver_webhooks_once(engine)
    assert [d.verified for d in receiver.deliveries] == [True]
    assert not signing.verify(created.secret, receiver.deliveries[0].headers, receiver.deliveries[0].body)


def test_the_readme_verification_example_accepts_a_real_delivery_and_refuses_a_forged_one() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme[readme.index("## Webhooks") :]
    code = section[
        section.index("```python") + len("```python") : section.index("```", section.index("```python") + 9)
    ]
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 (the README's own example)
    secret, body = signing.new_secret(), b'{"type":"key.created"}'
    sent = signing.headers(secret, "msg_x", int(time.time()), body)
    assert namespace["verify"](secret, sent, body)
    assert not namespace["verify"](secret, sent, body + b" ")
    assert not namespace["verify"](signing.new_secret(), sent, body)


def test_signing_secrets_never_reach_a_log_line() -> None:
    secret = signing.new_secret()
    assert secret not in redact(f"made {secret} for you") and "whsec_[REDACTED]" in redact(secret)
    assert CREDENTIAL_IN_LOG.search(f"x {secret}") and not CREDENTIAL_IN_LOG.search(redact(secret))
