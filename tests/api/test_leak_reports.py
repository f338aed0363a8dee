"""Leak reports against the running console (issue 26, item 3): a report signed with the
session's GitHub key (tests/conftest.py, SECRET_SCANNING_KEY) turns a live key INACTIVE and
revokes a management token; an unsigned or badly signed one is 401 and changes nothing; the
workspace's leak policy is read and set over REST."""

from __future__ import annotations

import base64
import json

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from tests.api.conftest import ALL_SCOPES, key_row, management_token
from tests.conftest import SECRET_SCANNING_KEY, SECRET_SCANNING_KEY_ID, Console

PATH = "/api/v1/secret-scanning/github"
URL = "https://github.com/octo/app/blob/abc/settings.py#L9"


def _body(*secrets: str) -> bytes:
    return json.dumps(
        [{"token": s, "type": "keyconsole_api_key", "url": URL, "source": "content"} for s in secrets]
    ).encode()


def _post(console: Console, body: bytes, signature: str | None, key_id: str = SECRET_SCANNING_KEY_ID):
    headers = {"Content-Type": "application/json", "Github-Public-Key-Identifier": key_id}
    if signature is not None:
        headers["Github-Public-Key-Signature"] = signature
    return httpx.post(f"{console.base_url}{PATH}", content=body, headers=headers, timeout=30)


def _signed(body: bytes, key: ec.EllipticCurvePrivateKey = SECRET_SCANNING_KEY) -> str:
    return base64.b64encode(key.sign(body, ec.ECDSA(hashes.SHA256()))).decode()


def _verify(console: Console, secret: str) -> dict:
    answer = httpx.post(
        f"{console.base_url}/api/v1/verify", headers={"Authorization": f"Bearer {secret}"}, timeout=30
    )
    return answer.json()


def test_a_signed_report_turns_a_live_key_inactive_and_answers_githubs_format(console: Console) -> None:
    email = console.new_user()
    secret = console.create_key(email, "leaky")
    other = console.create_key(email, "untouched")
    assert _verify(console, secret)["valid"] is True
    body = _body(secret, "bpk_not_a_real_key", other[:-1] + ("A" if other[-1] != "A" else "B"))
    answer = _post(console, body, _signed(body))
    assert answer.status_code == 200, answer.text
    assert answer.json() == [
        {"token_raw": secret, "token_type": "keyconsole_api_key", "label": "true_positive"},
        {"token_raw": "bpk_not_a_real_key", "token_type": "keyconsole_api_key", "label": "false_positive"},
        {
            "token_raw": json.loads(body)[2]["token"],
            "token_type": "keyconsole_api_key",
            "label": "false_positive",
        },
    ]
    assert _verify(console, secret) == {**_verify(console, secret), "valid": False, "code": "INACTIVE"}
    assert _verify(console, other)["valid"] is True
    assert key_row(console, email, secret).status == "INACTIVE"
    token = management_token(console, email, ALL_SCOPES)
    events = httpx.get(
        f"{console.base_url}/api/v1/audit", headers={"Authorization": f"Bearer {token}"}, timeout=30
    ).json()["data"]
    leaked = [e for e in events if e["action"] == "key.leaked"]
    assert len(leaked) == 1 and URL in leaked[0]["detail"] and secret not in json.dumps(events)


def test_unsigned_or_badly_signed_reports_are_401_and_change_nothing(console: Console) -> None:
    email = console.new_user()
    secret = console.create_key(email, "safe")
    body = _body(secret)
    stranger = ec.generate_private_key(ec.SECP256R1())
    for sent, signature, key_id in (
        (body, None, SECRET_SCANNING_KEY_ID),  # unsigned
        (body, _signed(body, stranger), SECRET_SCANNING_KEY_ID),  # another key
        (body, _signed(body), "someone-else"),  # unknown identifier
        (body + b" ", _signed(body), SECRET_SCANNING_KEY_ID),  # tampered body
    ):
        answer = _post(console, sent, signature, key_id)
        assert answer.status_code == 401, answer.text
        assert secret not in answer.text
    assert _verify(console, secret)["valid"] is True


def test_a_leaked_management_token_is_revoked(console: Console) -> None:
    email = console.new_user()
    token = management_token(console, email, ALL_SCOPES)
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{console.base_url}/api/v1/keys", headers=headers, timeout=30).status_code == 200
    body = _body(token)
    assert _post(console, body, _signed(body)).json()[0]["label"] == "true_positive"
    assert httpx.get(f"{console.base_url}/api/v1/keys", headers=headers, timeout=30).status_code == 401


def test_the_leak_policy_over_rest_and_notify_keeps_the_key_working(console: Console) -> None:
    email = console.new_user()
    headers = {"Authorization": f"Bearer {management_token(console, email, ALL_SCOPES)}"}
    policy_url = f"{console.base_url}/api/v1/workspace/leak-policy"
    assert httpx.get(policy_url, headers=headers, timeout=30).json() == {"leak_policy": "disable"}
    refused = httpx.put(policy_url, headers=headers, json={"leak_policy": "ignore"}, timeout=30)
    assert refused.status_code == 422
    changed = httpx.put(policy_url, headers=headers, json={"leak_policy": "notify"}, timeout=30)
    assert changed.status_code == 200 and changed.json() == {"leak_policy": "notify"}
    secret = console.create_key(email, "noticed")
    body = _body(secret)
    assert _post(console, body, _signed(body)).json()[0]["label"] == "true_positive"
    assert _verify(console, secret)["valid"] is True
