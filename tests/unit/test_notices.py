"""Notices and email (issue 26 part 2): each key moment (reminders 7 and 1 days ahead, expired,
leaked) is recorded once however often and by however many workers it is detected, told to the
workspace's owners and the key's creator, listed in the console, and emailed through a real SMTP
server on 127.0.0.1 (aiosmtpd: STARTTLS with a login, or implicit TLS) once per person; opted-out
people get no email; an SMTP server that is down gets the email later. SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, SQLModel, select

from rxapp import db, jobs
from rxapp.context import app_context
from rxapp.models import ApiKey, KeyMoment, Notice
from rxapp.redaction import redact
from rxapp.services import key_format, leaks
from rxapp.services import keys as key_service
from rxapp.services import workspaces as workspace_service
from rxapp.services.errors import NotFoundError
from rxapp.services.leak_signature import Reported
from rxapp.services.notices import inbox, moments, smtp
from rxapp.settings import InsecureConfigurationError, load_settings
from tests.harness import free_port
from tests.smtp_server import SmtpServer, self_signed
from tests.unit.helpers import Person, new_user, utc_now
from tests.unit.test_expiry import POSTGRES_URL

URL = "https://github.com/octo/app/blob/abc/settings.py#L9"
PUBLIC = "https://keys.example.com"


@pytest.fixture(params=["sqlite", "postgresql"])
def connect(
    request: pytest.FixtureRequest, app_settings, tmp_path: Path
) -> Iterator[Callable[[], sa.Engine]]:
    """Both backends: makes engines (one per worker) on a fresh SQLite file, or on a private
    schema of TEST_POSTGRES_URL (skipped when PostgreSQL is not reachable)."""
    made: list[sa.Engine] = []
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/notices.db"

        def new_engine() -> sa.Engine:
            made.append(db.make_engine(url))
            return made[-1]

    else:
        schema = f"notices_{uuid.uuid4().hex[:12]}"
        try:
            admin = sa.create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
            with admin.begin() as connection:
                connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        except Exception as error:
            pytest.skip(f"PostgreSQL not reachable: {type(error).__name__}")

        def new_engine() -> sa.Engine:
            made.append(sa.create_engine(POSTGRES_URL, connect_args={"options": f"-csearch_path={schema}"}))
            return made[-1]

    SQLModel.metadata.create_all(new_engine())
    try:
        yield new_engine
    finally:
        for engine in made:
            engine.dispose()
        if request.param != "sqlite":
            with admin.begin() as connection:
                connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


@pytest.fixture
def engine(connect: Callable[[], sa.Engine]) -> sa.Engine:
    return connect()


@pytest.fixture
def session(engine: sa.Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session


def _configure(monkeypatch: pytest.MonkeyPatch, **variables: str) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    app_context.reset()


@pytest.fixture
def certificate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A self-signed certificate the console's TLS context trusts (through SSL_CERT_FILE)."""
    made = self_signed(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(made[0]))
    return made


@pytest.fixture
def mail(monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpServer]:
    """A plain SMTP server on 127.0.0.1 (a relay on the same host) that the console sends to."""
    server = SmtpServer(free_port()).start()
    _configure(
        monkeypatch,
        APIKEYS_SMTP_URL=f"smtp://127.0.0.1:{server.port}?starttls=off",
        APIKEYS_SMTP_FROM="Key Console <keys@example.com>",
        APIKEYS_SMTP_RETRY_SECONDS="1,2",
        APIKEYS_PUBLIC_URL=PUBLIC + "/",
    )
    yield server
    server.stop()


def _team(session: Session) -> tuple[Person, Person, Person, Person]:
    """A team: two owners (alice, dave), bob (a member who creates the keys), carol (a member)."""
    alice, bob, carol, dave = (new_user(session) for _ in range(4))
    team = workspace_service.create_workspace(session, alice.id, alice.actor, "Checkout")
    owner = workspace_service.resolve(session, alice.id, team.public_id)
    for person, role in ((bob, "member"), (carol, "member"), (dave, "owner")):
        token, _ = workspace_service.create_invitation(session, owner, role)
        workspace_service.accept_invitation(session, person.id, token)
    session.commit()
    as_bob = workspace_service.resolve(session, bob.id, team.public_id)
    return alice, Person(bob.id, bob.email, as_bob), carol, dave


def _key(session: Session, person: Person, name: str, end: dt.datetime | None, now: dt.datetime) -> str:
    return key_service.create_key(session, person.access, person.actor, name, expires_at=end, now=now).secret


def _told(session: Session) -> list[tuple[str, str, int]]:
    """(key name, kind, days before) of each moment, sorted."""
    session.expire_all()
    rows = session.exec(select(KeyMoment)).all()
    return sorted((m.key_name, m.kind, m.days_before) for m in rows)


def _notices(session: Session) -> list[Notice]:
    session.expire_all()
    return list(session.exec(select(Notice)).all())


def _report(session: Session, secret: str) -> None:
    leaks.handle_reports(session, [Reported(secret, "keyconsole_api_key", URL, "content")])
    session.commit()


def test_each_moment_is_recorded_once_and_told_to_owners_and_the_creator(
    engine: sa.Engine, session: Session
) -> None:
    alice, bob, _carol, dave = _team(session)
    now = utc_now()
    _key(session, bob, "week", now + dt.timedelta(days=5), now)
    _key(session, bob, "day", now + dt.timedelta(hours=12), now)
    _key(session, bob, "month", now + dt.timedelta(days=20), now)  # webhooks only (30 days ahead)
    _key(session, bob, "later", now + dt.timedelta(days=90), now)
    _key(session, bob, "ending", now + dt.timedelta(seconds=1), now)
    leaky = _key(session, bob, "leaky", None, now)
    session.commit()
    for _ in range(2):  # two runs of the job: each moment once
        assert moments.scan_expiring(session, now=now) == (4 if _ == 0 else 0)
        session.commit()
    assert jobs.expire_due_in_chunks(engine, now=now + dt.timedelta(seconds=2)) == 1
    assert jobs.expire_due_in_chunks(engine, now=now + dt.timedelta(seconds=3)) == 0
    _report(session, leaky)
    _report(session, leaky)  # the key is INACTIVE now: not live, not a leak again
    assert _told(session) == [
        ("day", "expiring", 1),
        ("ending", "expired", 0),
        ("ending", "expiring", 1),
        ("leaky", "leaked", 0),
        ("month", "expiring", 30),
        ("week", "expiring", 7),
    ]
    told = {(n.user_id, n.moment_id) for n in _notices(session)}
    assert len(told) == len(_notices(session)) == 5 * 3  # 5 moments for people, each to 3 people
    assert {user for user, _ in told} == {alice.id, bob.id, dave.id}  # not carol (a member)
    assert {n.email_status for n in _notices(session)} == {"off"}  # no SMTP: in the console only
    # the key's end date moves: a new moment, reminded again
    later = session.exec(select(ApiKey).where(ApiKey.name == "later")).one()
    later.expires_at = now + dt.timedelta(days=6)
    session.add(later)
    session.commit()
    assert moments.scan_expiring(session, now=now) == 1
    session.commit()
    assert ("later", "expiring", 7) in _told(session)


def test_in_app_notices_list_count_and_dismiss_without_smtp(session: Session) -> None:
    alice, bob, carol, _dave = _team(session)
    now = utc_now()
    secret = _key(session, bob, "checkout-prod", now + dt.timedelta(days=3), now)
    session.commit()
    moments.scan_expiring(session, now=now)
    _report(session, secret)
    shown = inbox.list_for(session, alice.id)
    assert [n.headline for n in shown] == [
        "Key “checkout-prod” was reported leaked",
        "Key “checkout-prod” expires within 7 days",
    ]
    assert shown[0].leak_url == URL and "turned off" in shown[0].detail  # the page links the URL
    assert shown[1].workspace_name == "Checkout" and shown[1].key_id.startswith("key_")
    assert secret not in repr(shown) and secret[-4:] not in repr(shown)
    assert inbox.count_for(session, alice.id) == 2 and inbox.count_for(session, carol.id) == 0
    with pytest.raises(NotFoundError):
        inbox.dismiss(session, carol.id, shown[0].id)  # someone else's reads as not found
    inbox.dismiss(session, alice.id, shown[0].id)
    assert [n.headline for n in inbox.list_for(session, alice.id)] == [shown[1].headline]
    assert inbox.count_for(session, bob.id) == 2  # each person dismisses their own
    assert inbox.dismiss_all(session, bob.id) == 2 and inbox.count_for(session, bob.id) == 0
    session.commit()
    # a member who leaves stops seeing the workspace's notices
    owner = workspace_service.resolve(session, alice.id, bob.access.workspace_public_id)
    workspace_service.remove_member(session, owner, bob.id)
    session.commit()
    assert inbox.list_for(session, bob.id) == []
    assert inbox.prune(session, now=now + dt.timedelta(days=91)) == 2
    assert inbox.list_for(session, alice.id) == []


@pytest.mark.parametrize("tls", ["starttls", "implicit"])
def test_emails_over_tls_with_a_login_once_per_person(
    engine: sa.Engine,
    session: Session,
    certificate: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    tls: str,
) -> None:
    password = "s3cret-smtp-pass@word"  # the test's SMTP login
    server = SmtpServer(free_port(), tls=tls, certificate=certificate, login=("mailer", password)).start()
    scheme = "smtps" if tls == "implicit" else "smtp"
    url = f"{scheme}://mailer:s3cret-smtp-pass%40word@127.0.0.1:{server.port}"
    _configure(monkeypatch, APIKEYS_SMTP_URL=url, APIKEYS_PUBLIC_URL=PUBLIC)
    try:
        alice, bob, _carol, dave = _team(session)
        now = utc_now()
        secret = _key(session, bob, "checkout-prod", now + dt.timedelta(days=6), now)
        session.commit()
        moments.scan_expiring(session, now=now)
        session.commit()
        with caplog.at_level(logging.DEBUG):
            assert jobs.deliver_emails_once(engine) == 3
            assert jobs.deliver_emails_once(engine) == 0  # sent: never again
            moments.scan_expiring(session, now=now)  # a second scan: nothing new
            session.commit()
            assert jobs.deliver_emails_once(engine) == 0
    finally:
        server.stop()
    assert sorted(r.rcpt_tos[0] for r in server.received) == sorted([alice.email, bob.email, dave.email])
    email = server.to(bob.email)[0]
    key_id = session.exec(select(ApiKey.key_id).where(ApiKey.name == "checkout-prod")).one()
    assert email.subject == "[Key Console] Key “checkout-prod” expires within 7 days (Checkout)"
    assert f"{PUBLIC}/w/{bob.access.workspace_public_id}/keys/{key_id}" in email.body
    assert f"{PUBLIC}/account" in email.body and "Email notices" in email.body
    assert email.message["Auto-Submitted"] == "auto-generated"
    assert email.message["From"] == "Key Console <keyconsole@localhost>"
    raw = email.message.as_string()
    assert secret not in raw and secret[-4:] not in raw and key_format.mask(secret, "bpk") not in raw
    assert {n.email_status for n in _notices(session)} == {"sent"}
    assert password not in caplog.text and "s3cret" not in caplog.text


def test_a_server_without_starttls_never_gets_the_password(
    engine: sa.Engine, session: Session, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    server = SmtpServer(free_port()).start()  # plain, no STARTTLS offered
    url = f"smtp://mailer:pw-in-clear-never@127.0.0.1:{server.port}"
    _configure(monkeypatch, APIKEYS_SMTP_URL=url, APIKEYS_SMTP_RETRY_SECONDS="1")
    try:
        _alice, bob, _carol, _dave = _team(session)
        now = utc_now()
        _key(session, bob, "k", now + dt.timedelta(hours=1), now)
        session.commit()
        moments.scan_expiring(session, now=now)
        session.commit()
        with caplog.at_level(logging.INFO):
            assert jobs.deliver_emails_once(engine, now=now) == 3
    finally:
        server.stop()
    assert server.received == []
    rows = _notices(session)
    assert {n.email_status for n in rows} == {"pending"} and "no STARTTLS" in rows[0].email_error
    assert "no STARTTLS" in caplog.text and "pw-in-clear-never" not in caplog.text


def test_smtp_down_then_up_delivers_later_and_a_refused_recipient_is_given_up(
    engine: sa.Engine, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()  # nothing listens there yet
    _configure(monkeypatch, APIKEYS_SMTP_URL=f"smtp://127.0.0.1:{port}", APIKEYS_SMTP_RETRY_SECONDS="1,2")
    alice, bob, _carol, dave = _team(session)
    now = utc_now()
    _key(session, bob, "k", now + dt.timedelta(days=2), now)
    session.commit()
    moments.scan_expiring(session, now=now)
    session.commit()
    assert jobs.deliver_emails_once(engine, now=now) == 3
    assert {(n.email_status, n.email_attempts) for n in _notices(session)} == {("pending", 1)}
    assert jobs.deliver_emails_once(engine, now=now + dt.timedelta(seconds=0.5)) == 0  # waiting
    server = SmtpServer(port, refuse={dave.email}).start()
    try:
        assert jobs.deliver_emails_once(engine, now=now + dt.timedelta(seconds=1.5)) == 3
    finally:
        server.stop()
    assert sorted(r.rcpt_tos[0] for r in server.received) == sorted([alice.email, bob.email])
    statuses = {n.user_id: (n.email_status, n.email_attempts) for n in _notices(session)}
    assert statuses == {alice.id: ("sent", 2), bob.id: ("sent", 2), dave.id: ("failed", 2)}


def test_opted_out_people_get_no_email_but_keep_the_notice(
    engine: sa.Engine, session: Session, mail: SmtpServer
) -> None:
    alice, bob, _carol, dave = _team(session)
    inbox.set_email_opt_out(session, alice.id, True)
    session.commit()
    assert inbox.email_opted_out(session, alice.id) and not inbox.email_opted_out(session, bob.id)
    now = utc_now()
    _key(session, bob, "k", now + dt.timedelta(hours=3), now)
    session.commit()
    moments.scan_expiring(session, now=now)
    session.commit()
    inbox.set_email_opt_out(session, dave.id, True)  # after the notice was made, before the send
    session.commit()
    assert jobs.deliver_emails_once(engine) == 1
    assert [r.rcpt_tos for r in mail.received] == [[bob.email]]
    assert {n.user_id: n.email_status for n in _notices(session)} == {
        alice.id: "opted_out",
        bob.id: "sent",
        dave.id: "opted_out",
    }
    assert [n.headline for n in inbox.list_for(session, alice.id)] == ["Key “k” expires within 1 day"]
    inbox.set_email_opt_out(session, alice.id, False)
    assert not inbox.email_opted_out(session, alice.id)


def test_two_workers_scanning_and_sending_at_once_tell_each_moment_once(
    connect: Callable[[], sa.Engine], session: Session, mail: SmtpServer
) -> None:
    """Every worker runs the jobs: two at the same instant record, and send, each moment once."""
    _alice, bob, _carol, _dave = _team(session)
    now = utc_now()
    for index in range(10):
        _key(session, bob, f"k{index}", now + dt.timedelta(days=3, minutes=index), now)
    session.commit()
    workers = [connect(), connect()]
    start = threading.Barrier(2)
    found: list[int] = []

    def run(worker: sa.Engine) -> None:
        start.wait()
        with db.session_scope(worker) as scope:
            found.append(moments.scan_expiring(scope, now=now))
        start.wait()
        while jobs.deliver_emails_once(worker):
            pass

    threads = [threading.Thread(target=run, args=(worker,)) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sum(found) == 10
    assert len(mail.received) == 30 and len({r.message["Message-ID"] for r in mail.received}) == 30


# ---------------------------------------------------------------- settings and logs


def test_smtp_settings_are_checked_without_repeating_the_password(
    app_settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APIKEYS_SMTP_URL", "smtps://u:p%40ss@mail.example.com")
    loaded = load_settings()
    assert smtp.parse_url(loaded.smtp_url) == smtp.SmtpServer(
        "mail.example.com", 465, True, "off", "u", "p@ss"
    )
    assert "p%40ss" not in repr(loaded)
    assert smtp.parse_url("smtp://relay:2525?starttls=require").starttls == "require"
    for bad in ("http://u:hunter22@mail.example.com", "smtp://u:hunter22@", "smtp://h?starttls=maybe"):
        monkeypatch.setenv("APIKEYS_SMTP_URL", bad)
        with pytest.raises(ValueError) as refused:
            load_settings()
        assert "hunter22" not in str(refused.value) and "APIKEYS_SMTP_URL" in str(refused.value)
    monkeypatch.setenv("APIKEYS_SMTP_URL", "smtp://u:hunter22@mail.example.com?starttls=off")
    with pytest.raises(InsecureConfigurationError):
        load_settings()
    monkeypatch.delenv("APIKEYS_SMTP_URL")
    monkeypatch.setenv("APIKEYS_PUBLIC_URL", "keys.example.com")
    with pytest.raises(ValueError, match="APIKEYS_PUBLIC_URL"):
        load_settings()
    monkeypatch.setenv("APIKEYS_PUBLIC_URL", "https://keys.example.com")
    monkeypatch.setenv("APIKEYS_SMTP_FROM", "not an address")
    with pytest.raises(ValueError, match="APIKEYS_SMTP_FROM"):
        load_settings()


def test_a_url_password_never_reaches_a_log_line() -> None:
    line = "connecting to smtp://mailer:hunter2@mail.example.com:587 and redis://:pw-xyz@cache:6379/0"
    scrubbed = redact(line)
    assert "hunter2" not in scrubbed and "pw-xyz" not in scrubbed
    assert "smtp://mailer:[REDACTED]@mail.example.com:587" in scrubbed
