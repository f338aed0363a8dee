"""No credential survives into a log line, whoever logs it and however it is formatted."""

from __future__ import annotations

import logging

import pytest

from rxapp import redaction

SESSION = "Zq3v9x_Example-Session-Token-0123456789abcdef"
CLIENT_TOKEN = "3f2b8c1e-5d4a-4b7c-9e8f-0a1b2c3d4e5f"
SECRET = "bpk_4fJx9QeLr2Zt8WmKp3Ns7VdYb1Hc6GaT_a1B9"


@pytest.fixture
def captured(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    redaction.install(("bpk",))
    caplog.set_level(logging.DEBUG)
    return caplog


def test_an_event_dump_with_router_headers_is_scrubbed(captured: pytest.LogCaptureFixture) -> None:
    event = {
        "name": "state.no_such_event",
        "token": CLIENT_TOKEN,
        "router_data": {"headers": {"cookie": f"apikeys_session={SESSION}; theme=dark", "host": "x"}},
        "payload": {"value": SECRET, "other": SECRET.upper()},
    }
    logging.getLogger("reflex_base.event.processor").warning("Unknown event: %s", event)
    text = captured.text
    for leaked in (SESSION, CLIENT_TOKEN, SECRET, SECRET.upper(), SECRET[4:]):
        assert leaked not in text
    assert "no_such_event" in text  # the useful part stays


def test_a_client_token_glued_to_a_state_name_is_scrubbed(captured: pytest.LogCaptureFixture) -> None:
    # Reflex 0.10.1's Redis state manager, when a state lock was held over its threshold (a slow
    # machine): the token is followed by "_" and the state's name, a word character, no boundary
    token = f"{CLIENT_TOKEN}_reflex___state____state.rxapp___state____auth_state"
    logging.getLogger("reflex").warning(f"Lock for token {token} was held too long time_taken=1.174s")
    assert CLIENT_TOKEN not in captured.text
    assert "_reflex___state____state" in captured.text and "held too long" in captured.text


def test_headers_and_tracebacks_are_scrubbed(captured: pytest.LogCaptureFixture) -> None:
    try:
        raise ValueError(f"bad header Authorization: Bearer {SECRET} from {CLIENT_TOKEN}")
    except ValueError:
        logging.getLogger("some.library").exception("failed with x-api-key='%s'", SECRET)
    text = captured.text
    assert SECRET not in text and SECRET[4:] not in text and CLIENT_TOKEN not in text
    assert "ValueError" in text


@pytest.mark.parametrize(
    ("line", "gone"),
    [
        (f"Cookie: apikeys_session={SESSION}", SESSION),
        (f"set-cookie: apikeys_device=abc.{SESSION}; Path=/", SESSION),
        (f"set-cookie: apikeys_pending=7.1700000000.{SESSION}; Path=/api/v1/auth", SESSION),
        (f"{{'cookie': 'theme=dark; apikeys_session={SESSION}'}}", SESSION),
        (f"X-API-Key: {SECRET}", SECRET[4:]),
        (f"key= {SECRET.lower()}", SECRET.lower()[4:]),
        (f"query x=%20{SECRET}", SECRET[4:]),  # glued to a word character: still found
        (f"api_key_{SECRET.upper()}", SECRET.upper()[4:]),
        ('{"password": "correct horse battery"}', "battery"),  # a quoted value, spaces and all
        ("new_password='two words'", "words"),
    ],
)
def test_redact(line: str, gone: str) -> None:
    redaction.install(("bpk",))
    assert gone not in redaction.redact(line)
