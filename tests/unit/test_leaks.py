"""Leak reports (issue 26, item 3): GitHub's signature over the raw body, the workspace's leak
policy (notify, disable, roll), management tokens, GitHub's answer format, and scanner rules."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlmodel import Session, select

from rxapp.__main__ import main
from rxapp.models import ApiKey, AuditEvent, LeakReport, ManagementToken
from rxapp.services import key_format, leak_signature, leaks, rolling, scanner_rules
from rxapp.services import keys as key_service
from rxapp.services import tokens as token_service
from rxapp.services import workspaces as workspace_service
from rxapp.services.errors import ForbiddenError, ValidationError
from tests.unit.helpers import Person, new_user

URL = "https://github.com/octo/app/blob/abc/config.py#L3"


def _pem(private: ec.EllipticCurvePrivateKey) -> str:
    return (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def _sign(private: ec.EllipticCurvePrivateKey, body: bytes) -> str:
    return base64.b64encode(private.sign(body, ec.ECDSA(hashes.SHA256()))).decode()


@pytest.fixture(scope="module")
def github() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def keys_file(tmp_path: Path, github: ec.EllipticCurvePrivateKey) -> Path:
    path = tmp_path / "github-keys.json"
    document = {"public_keys": [{"key_identifier": "kid-1", "key": _pem(github), "is_current": True}]}
    path.write_text(json.dumps(document))
    return path


# ---------------------------------------------------------------- the signature


def test_a_valid_signature_passes_and_everything_else_is_rejected(
    keys_file: Path, github: ec.EllipticCurvePrivateKey
) -> None:
    keys = leak_signature.load_public_keys(str(keys_file))
    body = json.dumps([{"token": "bpk_x", "type": "t", "url": URL, "source": "content"}]).encode()
    signature = _sign(github, body)
    leak_signature.verify(body, "kid-1", signature, keys)  # valid: no exception
    stranger = ec.generate_private_key(ec.SECP256R1())
    refused = [
        (body, "kid-1", _sign(stranger, body)),  # signed by another key
        (body.replace(b"bpk_x", b"bpk_y"), "kid-1", signature),  # tampered body
        (body, "kid-unknown", signature),  # unknown identifier
        (body, "kid-1", ""),  # unsigned
        (body, "kid-1", "not base64!"),  # garbage
    ]
    for sent, identifier, sig in refused:
        with pytest.raises(leak_signature.SignatureRejected):
            leak_signature.verify(sent, identifier, sig, keys)


def test_no_keys_file_means_no_keys_and_every_request_is_refused(tmp_path: Path) -> None:
    assert leak_signature.load_public_keys("") == {}
    assert leak_signature.load_public_keys(str(tmp_path / "missing.json")) == {}
    (tmp_path / "bad.json").write_text("{not json")
    assert leak_signature.load_public_keys(str(tmp_path / "bad.json")) == {}
    with pytest.raises(leak_signature.SignatureRejected):
        leak_signature.verify(b"[]", "kid-1", "AAAA", {})


def test_reports_must_be_an_array_of_objects_with_a_token() -> None:
    for body in (b"{}", b"nope", b'[{"type": "x"}]', b"[1]"):
        with pytest.raises(ValidationError):
            leak_signature.parse_reports(body)
    (report,) = leak_signature.parse_reports(b'[{"token": "t", "type": "k", "url": "u", "source": "s"}]')
    assert (report.token, report.type, report.url, report.source) == ("t", "k", "u", "s")


# ---------------------------------------------------------------- the policies


def _report(secret: str) -> list[leak_signature.Reported]:
    return [leak_signature.Reported(token=secret, type="keyconsole_api_key", url=URL, source="content")]


def _key(session: Session, person: Person) -> tuple[str, str]:
    created = key_service.create_key(session, person.access, person.actor, "checkout")
    session.commit()
    return created.key.key_id, created.secret


def _row(session: Session, key_id: str) -> ApiKey:
    session.expire_all()
    return session.exec(select(ApiKey).where(ApiKey.key_id == key_id)).one()


def test_the_default_policy_disables_the_key_and_the_key_page_shows_why(
    session: Session, alice: Person
) -> None:
    key_id, secret = _key(session, alice)
    assert leaks.get_policy(session, alice.access) == "disable"
    answer = leaks.handle_reports(session, _report(secret))
    session.commit()
    assert answer == [{"token_raw": secret, "token_type": "keyconsole_api_key", "label": "true_positive"}]
    assert _row(session, key_id).status == "INACTIVE"
    notice = leaks.latest_for_key(session, alice.access, key_id)
    assert notice is not None and notice.url == URL and notice.action == "disable"
    actions = session.exec(select(AuditEvent.action).where(AuditEvent.target_id == key_id)).all()
    assert "key.leaked" in actions and "key.status" in actions
    # reported again: no longer live, so GitHub hears false_positive and nothing more happens
    assert leaks.handle_reports(session, _report(secret))[0]["label"] == "false_positive"


def test_notify_only_records_and_keeps_the_key_working(session: Session, alice: Person) -> None:
    key_id, secret = _key(session, alice)
    leaks.set_policy(session, alice.access, alice.actor, "notify")
    assert leaks.handle_reports(session, _report(secret))[0]["label"] == "true_positive"
    session.commit()
    assert _row(session, key_id).status == "ACTIVE"
    notice = leaks.latest_for_key(session, alice.access, key_id)
    assert notice is not None and notice.action == "notify"


def test_roll_makes_a_new_key_and_ends_the_old_one_after_the_grace(session: Session, alice: Person) -> None:
    key_id, secret = _key(session, alice)
    leaks.set_policy(session, alice.access, alice.actor, "roll")
    leaks.handle_reports(session, _report(secret))
    session.commit()
    old = _row(session, key_id)
    assert old.status == "ACTIVE" and old.expires_at is not None
    links = rolling.links(session, alice.access, key_id)
    assert links.rolled_to is not None and _row(session, links.rolled_to).status == "ACTIVE"


def test_a_leaked_management_token_is_revoked(session: Session, alice: Person) -> None:
    created = token_service.create_token(session, alice.access, alice.actor, "ci", ["keys:read"])
    session.commit()
    answer = leaks.handle_reports(session, _report(created.secret))
    session.commit()
    assert answer[0]["label"] == "true_positive"
    row = session.exec(
        select(ManagementToken).where(ManagementToken.token_id == created.token.token_id)
    ).one()
    assert row.revoked_at is not None
    with pytest.raises(token_service.TokenRejected):
        token_service.authenticate(session, created.secret)
    assert session.exec(select(LeakReport.action)).all() == ["revoke"]


def test_unknown_or_malformed_tokens_are_false_positives_with_no_effect(
    session: Session, alice: Person
) -> None:
    _key(session, alice)
    unknown = key_format.generate_secret("bpk")
    answer = leaks.handle_reports(session, _report(unknown) + _report("hello") + _report("bpk_short"))
    assert [row["label"] for row in answer] == ["false_positive"] * 3
    assert session.exec(select(LeakReport)).all() == []


def test_only_owners_set_the_policy_and_only_to_a_known_one(session: Session, alice: Person) -> None:
    bob = new_user(session, "bob@example.com")
    team = workspace_service.create_workspace(session, alice.id, alice.actor, "Team")
    owner = workspace_service.resolve(session, alice.id, team.public_id)
    invitation, _ = workspace_service.create_invitation(session, owner, "member")
    workspace_service.accept_invitation(session, bob.id, invitation)
    session.commit()
    member = workspace_service.resolve(session, bob.id, team.public_id)
    with pytest.raises(ForbiddenError):
        leaks.set_policy(session, member, bob.actor, "notify")
    with pytest.raises(ValidationError):
        leaks.set_policy(session, owner, alice.actor, "ignore")
    assert leaks.set_policy(session, owner, alice.actor, "ROLL") == "roll"
    assert leaks.get_policy(session, member) == "roll"


# ---------------------------------------------------------------- scanner rules


@pytest.mark.parametrize("kind", scanner_rules.FORMATS)
def test_scanner_rules_match_real_keys_and_tokens_only(kind: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scanner-rules", "--format", kind]) == 0
    printed = capsys.readouterr().out
    assert "bpk_" in printed and "bpm_" in printed
    for _rule_id, _name, _text, _word, regex in scanner_rules.patterns("bpk"):
        pattern = re.compile(regex)
        secret = key_format.generate_secret(regex[:3])
        assert pattern.fullmatch(secret)
        assert not pattern.fullmatch(secret[:-1])
