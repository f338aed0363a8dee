"""Operations against real console processes: /metrics (one and several workers), JSON logs, doctor."""

from __future__ import annotations

import glob
import json
import os
import re
import secrets
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from rxapp import __version__
from tests.conftest import METRICS_TOKEN, ROOT, Console, _wait_ready, console_environment, free_port


def scrape(base_url: str, token: str = METRICS_TOKEN) -> dict[tuple[str, tuple], float]:
    response = httpx.get(f"{base_url}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert response.status_code == 200, response.text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def verifications(samples: dict, code: str) -> float:
    return samples.get(("apikeys_verifications_total", (("code", code),)), 0.0)


def test_health_reports_the_version(console: Console) -> None:
    assert httpx.get(f"{console.base_url}/api/v1/health", timeout=10).json()["version"] == __version__


def test_metrics_need_the_token(console: Console) -> None:
    assert httpx.get(f"{console.base_url}/metrics", timeout=10).status_code == 401
    wrong = httpx.get(f"{console.base_url}/metrics", headers={"Authorization": "Bearer nope"}, timeout=10)
    assert wrong.status_code == 401 and "apikeys_" not in wrong.text


def test_metrics_count_what_was_asked(console: Console) -> None:
    email = console.new_user()
    secret = console.create_key(email, "metered")
    before = scrape(console.base_url)
    for _ in range(7):
        assert console.verify(secret).json()["valid"] is True
    for _ in range(3):
        assert console.verify(secret[:-1] + ("A" if secret[-1] != "A" else "B")).json()["valid"] is False
    assert httpx.post(f"{console.base_url}/api/v1/verify", timeout=10).status_code == 401
    after = scrape(console.base_url)
    assert verifications(after, "VALID") - verifications(before, "VALID") == 7
    assert verifications(after, "MALFORMED") - verifications(before, "MALFORMED") == 3  # checksum
    # counted by the fast path under its refusal code (see test_observability)
    assert verifications(after, "MISSING_KEY") - verifications(before, "MISSING_KEY") == 1
    latency = ("apikeys_verify_duration_seconds_count", ())
    assert after[latency] - before.get(latency, 0.0) == 11
    assert after[("apikeys_active_sessions", ())] >= 0
    assert after[("apikeys_expiry_job_runs_total", (("result", "ok"),))] >= 1


def test_sign_in_outcomes_are_counted(console: Console) -> None:
    email = console.new_user()
    origin = {"Origin": console.base_url}
    before = scrape(console.base_url)
    form = {"email": email, "password": "wrong-password-123"}
    httpx.post(f"{console.base_url}/api/v1/auth/sign-in", data=form, headers=origin, timeout=30)
    form["password"] = "a-long-test-password-42"
    httpx.post(f"{console.base_url}/api/v1/auth/sign-in", data=form, headers=origin, timeout=30)
    after = scrape(console.base_url)
    for outcome in ("failure", "success"):
        key = ("apikeys_sign_ins_total", (("outcome", outcome),))
        assert after.get(key, 0.0) - before.get(key, 0.0) == 1, outcome


def test_json_logs_are_one_object_per_line(console: Console) -> None:
    console.verify("bpk_not-a-real-key")
    lines = [line for line in console.log_path.read_text(errors="replace").splitlines() if line.strip()]
    ours = [json.loads(line) for line in lines if line.startswith('{"time"')]
    access = [entry for entry in ours if entry["logger"] == "rxapp.access"]
    assert access, "API calls are logged in JSON mode"
    entry = access[-1]
    assert {"time", "level", "logger", "message", "request_id", "client", "method", "path", "status"} <= set(
        entry
    )
    assert isinstance(entry["duration_ms"], float)
    # Reflex's and Granian's own lines are JSON too (timestamp instead of time: their format)
    framework = [json.loads(line) for line in lines if line.startswith('{"timestamp"')]
    assert framework


# ---------------------------------------------------------------- several workers


@pytest.fixture(scope="module")
def workers_console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """An API-only production console with three Granian workers (no frontend build needed)."""
    if os.environ.get("TEST_BACKEND", "sqlite") != "sqlite":
        pytest.skip("the scale-out run already serves every API test from several workers")
    data_dir = tmp_path_factory.mktemp("workers")
    port = free_port()
    env, _ = console_environment(data_dir, port)
    metrics_dir = data_dir / "metrics"
    env.update(GRANIAN_WORKERS="3", PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
    subprocess.run(
        ["reflex", "db", "migrate"], cwd=ROOT, env=env, check=True, capture_output=True, timeout=300
    )
    log_path = data_dir / "console.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            ["reflex", "run", "--env", "prod", "--backend-only", "--backend-port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base_url = f"http://localhost:{port}"
    try:
        _wait_ready(f"{base_url}/api/v1/health", process, log_path)
        console = Console(base_url, env, env["DATABASE_URL"], log_path, "sqlite", process)
        yield console, metrics_dir
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(process.pid, signal.SIGKILL)


def _per_process_verifications(metrics_dir: Path) -> dict[str, float]:
    from prometheus_client.mmap_dict import MmapedDict

    totals = {}
    for path in glob.glob(str(metrics_dir / "counter_*.db")):
        values = MmapedDict.read_all_values_from_file(path)
        totals[Path(path).stem] = sum(value for key, value, *_ in values if "apikeys_verifications" in key)
    return totals


def test_metrics_sum_every_worker(workers_console) -> None:
    console, metrics_dir = workers_console
    email = console.new_user()
    secret = console.create_key(email, "spread")
    before = verifications(scrape(console.base_url), "VALID")
    for _ in range(60):
        assert console.verify(secret).json()["valid"] is True  # a new connection each time
    samples = scrape(console.base_url)
    assert verifications(samples, "VALID") - before == 60
    served = {pid: count for pid, count in _per_process_verifications(metrics_dir).items() if count}
    assert len(served) >= 2, f"expected several workers to answer: {served}"
    assert sum(served.values()) == verifications(samples, "VALID") + sum(
        value
        for (name, labels), value in samples.items()
        if name == "apikeys_verifications_total" and labels != (("code", "VALID"),)
    )


def _access_lines_for(console: Console, marker: str) -> list[dict]:
    """The JSON access-log entries whose path carries `marker` (a unique query-free path)."""
    lines = console.log_path.read_text(errors="replace").splitlines()
    entries = [json.loads(line) for line in lines if line.startswith('{"time"')]
    return [entry for entry in entries if entry.get("path", "").endswith(marker)]


@pytest.mark.parametrize("header", ["X-Request-ID", "X-Forwarded-For"])
def test_a_key_sent_as_request_id_or_forwarded_address_reaches_no_log_or_answer(
    console: Console, header: str
) -> None:
    """Issue 21 item 2: client-chosen values that are not plain ids/addresses are replaced."""
    email = console.new_user()
    secret = console.create_key(email, "sent-as-header")
    marker = f"/api/v1/keys/key_{secrets.token_hex(8)}"
    for sent in (secret, secret.upper(), f"api_key_{secret}"):
        answer = httpx.get(f"{console.base_url}{marker}", headers={header: sent}, timeout=30)
        assert secret.lower() not in answer.text.lower()
        assert secret.lower() not in str(answer.headers).lower()
        assert re.fullmatch(r"[0-9a-f]{32}", answer.headers["x-request-id"]) or header != "X-Request-ID"
    time.sleep(0.5)  # the access line is written as the answer completes
    entries = _access_lines_for(console, marker)
    assert len(entries) == 3
    for entry in entries:
        assert secret[4:20].lower() not in json.dumps(entry).lower()
        assert re.fullmatch(r"[0-9a-f]{32}", entry["request_id"])
        assert entry["client"] in ("127.0.0.1", "::1")
    log = console.log_path.read_text(errors="replace").lower()
    assert secret[4:20].lower() not in log


def test_plain_request_ids_from_proxies_are_kept(console: Console) -> None:
    """nginx's $request_id (hex), Envoy's and Traefik's (UUID) and simple tags come back as sent."""
    for sent in (secrets.token_hex(16), str(uuid.uuid4()), "build-42.step-7"):
        answer = httpx.get(f"{console.base_url}/api/v1/health", headers={"X-Request-ID": sent}, timeout=30)
        assert answer.headers["x-request-id"] == sent


def test_refused_sign_ups_are_counted_not_written_one_row_each(console: Console) -> None:
    """Issue 21 item 4: sign-ups with bad invitation codes from one client make one audit row
    whose `occurrences` counts them (the attack report's 150 made 150 rows in 0.7 s, without
    signing in; 60 show the same here)."""
    address = f"198.51.100.{secrets.randbelow(250) + 1}"  # this test's own client (trusted hop)
    headers = {"Origin": console.base_url, "X-Forwarded-For": address}
    started = time.monotonic()
    with httpx.Client(base_url=console.base_url, headers=headers, timeout=60) as client:
        for attempt in range(60):
            form = {
                "email": f"flood-{uuid.uuid4().hex[:8]}@example.com",
                "password": "a-long-test-password-42",
                "confirm_password": "a-long-test-password-42",
                "invitation": f"inv_bogus{attempt}",
            }
            answer = client.post("/api/v1/auth/sign-up", data=form)
            assert answer.status_code == 303 and "error=invitation_invalid" in answer.headers["location"]
    elapsed = time.monotonic() - started
    rows = console.rows(
        "SELECT occurrences FROM audit_events "
        "WHERE action = 'user.sign_up_refused' AND client_address = :address",
        address=address,
    )
    assert [row[0] for row in rows] == [60], (rows, elapsed)
