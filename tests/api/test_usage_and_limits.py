"""Usage per key and per-key rate limits over real HTTP (on PostgreSQL + Redis: several workers)."""

from __future__ import annotations

import concurrent.futures

import httpx

from tests.api.conftest import key_row, list_keys, wait_for
from tests.conftest import Console


def _usage(console: Console, email: str, key_id: str) -> dict[str, int]:
    lines = console.cli("key-usage", email, key_id, "--window", "24h").stdout.splitlines()[1:]
    return {outcome: int(calls) for outcome, calls in (line.split("\t") for line in lines)}


def test_a_burst_is_counted_exactly_per_outcome(console: Console) -> None:
    email = console.new_user()
    secret = console.create_key(email, "counted")
    key_id = key_row(console, email, secret).key_id

    def call(_: int) -> bool:
        with httpx.Client(timeout=10) as client:  # a new connection each: spread over the workers
            return client.post(
                f"{console.base_url}/api/v1/verify", headers={"Authorization": f"Bearer {secret}"}
            ).json()["valid"]

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        assert all(pool.map(call, range(120)))
    console.cli("set-key-status", email, key_id, "INACTIVE")
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        assert not any(pool.map(call, range(30)))
    # every outcome is counted, programmable keys' too (none of them here)
    expected = {
        "valid": 120,
        "inactive": 30,
        "expired": 0,
        "rate_limited": 0,
        "usage_exceeded": 0,
        "insufficient_permissions": 0,
        "forbidden": 0,
    }
    wait_for(lambda: _usage(console, email, key_id) == expected, timeout=15, what="usage flushed")


def test_a_key_with_a_limit_gets_rate_limited_with_retry_after(console: Console) -> None:
    email = console.new_user()
    secret = console.create_key(email, "limited", "--rate-limit", "20")
    key_id = key_row(console, email, secret).key_id
    answers = []
    with httpx.Client(timeout=10) as client:
        for _ in range(30):
            answers.append(
                client.post(
                    f"{console.base_url}/api/v1/verify", headers={"Authorization": f"Bearer {secret}"}
                ).json()
            )
    valid = [answer for answer in answers if answer["valid"]]
    limited = [answer for answer in answers if not answer["valid"]]
    # within the sliding window; with Redis the limit holds across all workers
    assert 18 <= len(valid) <= 22, answers
    assert limited and all(a["code"] == "RATE_LIMITED" and a["retry_after"] >= 1 for a in limited)
    gateway = httpx.get(f"{console.base_url}/api/v1/authorize", headers={"Authorization": f"Bearer {secret}"})
    assert gateway.status_code == 429 and int(gateway.headers["retry-after"]) >= 1
    wait_for(
        lambda: _usage(console, email, key_id)["rate_limited"] >= len(limited),
        timeout=15,
        what="rate-limited calls counted",
    )
    # a key without a limit is untouched by its neighbour's
    other = console.create_key(email, "free")
    assert console.verify(other).json()["valid"] is True


def test_roll_keeps_both_secrets_working_during_the_grace(console: Console) -> None:
    email = console.new_user()
    old = console.create_key(email, "rolling")
    old_id = key_row(console, email, old).key_id
    new = console.cli("roll-key", email, old_id, "--grace", "1h").stdout.strip()
    assert new.startswith("bpk_") and new != old
    assert console.verify(old).json()["valid"] is True
    assert console.verify(new).json()["valid"] is True
    rows = {row.name for row in list_keys(console, email)}
    assert rows == {"rolling"}
    immediate = console.cli(
        "roll-key", email, key_row(console, email, new).key_id, "--grace", "0"
    ).stdout.strip()
    assert console.verify(new).json()["code"] == "EXPIRED"
    assert console.verify(immediate).json()["valid"] is True
