"""Metrics and structured logs without a server: counters, multiprocess sums, auth, JSON, redaction."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from prometheus_client import REGISTRY, CollectorRegistry, Histogram
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from rxapp import logs, metrics, settings
from rxapp.context import app_context
from rxapp.metrics_dir import is_private

ROOT = Path(__file__).resolve().parents[2]
SECRET = "bpk_" + "A1b2C3d4E5f6G7h8J9k0L1m2N3p4Q5r6" + "x9Y8z7"


def _count(code: str) -> float:
    return REGISTRY.get_sample_value("apikeys_verifications_total", {"code": code}) or 0.0


def test_verification_outcomes_are_counted_by_code_and_bounded() -> None:
    before = {code: _count(code) for code in ("VALID", "EXPIRED", "OTHER", "HTTP_429")}
    histogram_before = REGISTRY.get_sample_value("apikeys_verify_duration_seconds_count") or 0.0

    def record() -> None:  # off any event loop, so published at once (in a loop: at the turn's end)
        metrics.record_verification("VALID", 0.001)
        metrics.record_verification("EXPIRED", 0.002)
        metrics.record_verification("HTTP_429")
        metrics.record_verification("made-up label from somewhere")  # never a new time series

    worker = threading.Thread(target=record)  # Playwright may own this thread's event loop in a full run
    worker.start()
    worker.join(30)
    assert _count("VALID") == before["VALID"] + 1
    assert _count("EXPIRED") == before["EXPIRED"] + 1
    assert _count("HTTP_429") == before["HTTP_429"] + 1
    assert _count("OTHER") == before["OTHER"] + 1
    # only calls with a duration (given, or from the request start) reach the histogram
    assert REGISTRY.get_sample_value("apikeys_verify_duration_seconds_count") == histogram_before + 2


def test_a_turns_outcomes_are_published_at_its_end_as_observe_would() -> None:
    """The hot path tallies one turn of the event loop and publishes it at the turn's end: the
    counters and every histogram bucket move exactly as one `observe` per call moves them."""
    durations = [0.0, 0.0001, 0.0005, 0.0007, 0.003, 0.003, 0.2, 7.0]
    twin = Histogram("twin_seconds", "", buckets=metrics._FAST_BUCKETS, registry=CollectorRegistry())
    for seconds in durations:
        twin.observe(seconds)
    expected = {
        sample.labels["le"]: sample.value
        for sample in twin.collect()[0].samples
        if sample.name.endswith("_bucket")
    }

    def buckets() -> dict[str, float]:
        return {
            le: REGISTRY.get_sample_value("apikeys_verify_duration_seconds_bucket", {"le": le}) or 0.0
            for le in expected
        }

    before, valid_before = buckets(), _count("VALID")
    seen_mid_turn: list[float] = []

    async def one_turn() -> None:
        for seconds in durations:
            metrics.record_verification("VALID", seconds)
        seen_mid_turn.append(_count("VALID"))
        await asyncio.sleep(0)  # the turn ends: its tally is published

    worker = threading.Thread(target=asyncio.run, args=(one_turn(),))  # Playwright may own this loop
    worker.start()
    worker.join(30)
    assert seen_mid_turn == [valid_before]
    assert _count("VALID") == valid_before + len(durations)
    after = buckets()
    assert {le: after[le] - before[le] for le in expected} == expected


_WORKER = """
import sys
from rxapp import metrics
for _ in range(int(sys.argv[1])):
    metrics.record_verification("VALID", 0.0001)
metrics.record_sign_in("failure")
"""


def test_multiprocess_mode_sums_every_worker(tmp_path: Path, app_settings) -> None:
    """Three processes count into one folder; a fourth process's scrape shows the sum."""
    folder = tmp_path / "metrics"
    folder.mkdir(mode=0o700)
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    for count in (5, 7, 11):
        subprocess.run([sys.executable, "-c", _WORKER, str(count)], cwd=ROOT, env=env, check=True, timeout=60)
    scrape = subprocess.run(
        [sys.executable, "-c", "from rxapp import metrics; print(metrics.render().decode())"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    assert 'apikeys_verifications_total{code="VALID"} 23.0' in scrape
    assert 'apikeys_sign_ins_total{outcome="failure"} 3.0' in scrape
    assert is_private(str(folder))


def test_default_metrics_folder_is_private_and_removed(tmp_path: Path) -> None:
    script = (
        "import os; from rxapp.metrics_dir import prepare_multiprocess_dir, is_private;"
        "path = prepare_multiprocess_dir(); print(path); assert is_private(path)"
    )
    env = {key: value for key, value in os.environ.items() if key != "PROMETHEUS_MULTIPROC_DIR"}
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )
    path = Path(out.stdout.strip())
    assert path.name.startswith("apikeys-metrics-")
    assert not path.exists(), "the private folder is removed when the process that made it exits"


def _metrics_app() -> TestClient:
    return TestClient(Starlette(routes=[Route("/metrics", metrics.metrics_endpoint)]))


def test_metrics_endpoint_is_off_without_a_token(app_settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("APIKEYS_METRICS_TOKEN", raising=False)
    app_context.reset()
    response = _metrics_app().get("/metrics")
    assert response.status_code == 404
    assert "apikeys_" not in response.text


def test_metrics_endpoint_needs_the_bearer_token(
    app_settings, engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = "t" * 40
    # this process counted in single-process mode (an earlier import of rxconfig may have set it)
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    monkeypatch.setenv("APIKEYS_METRICS_TOKEN", token)
    app_context.reset()
    monkeypatch.setattr("rxapp.db.get_engine", lambda: engine)
    client = _metrics_app()
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {token}"}):
        response = client.get("/metrics", headers=headers)
        assert response.status_code == 401, headers
        assert "apikeys_" not in response.text
    response = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "apikeys_verifications_total" in response.text
    assert "apikeys_active_sessions 0.0" in response.text


def test_a_short_metrics_token_is_refused(app_settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APIKEYS_METRICS_TOKEN", "short")
    with pytest.raises(settings.InsecureConfigurationError):
        settings.load_settings()


def _json_lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_json_formatter_fields_and_redaction() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    logger = logging.getLogger("rxapp.test-json")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        token = logs.request_id.set("req-1")
        logger.info("got %s with Bearer %s and apikeys_session=abcdef password=hunter22", SECRET, SECRET)
        logs.request_id.reset(token)
        try:
            raise ValueError(f"bad key {SECRET}")
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    first, second = _json_lines(stream)
    assert {"time", "level", "logger", "message", "request_id", "client"} <= first.keys()
    assert first["level"] == "info" and first["logger"] == "rxapp.test-json"
    assert first["request_id"] == "req-1"
    text = stream.getvalue()
    assert SECRET not in text and SECRET[4:20] not in text
    assert "abcdef" not in text and "hunter22" not in text
    assert "[REDACTED]" in first["message"]
    # The traceback is kept (redacted): as its own field, or folded into the message by
    # rxapp.redaction's record factory when that is installed in this process.
    assert "ValueError" in second.get("exception", "") + second["message"]


def test_request_middleware_logs_api_calls() -> None:
    stream = io.StringIO()
    logs.configure_logging("json", stream=stream)
    seen: list[tuple[str, str]] = []

    async def verify(request):
        seen.append((logs.request_id.get(), logs.client.get()))
        return JSONResponse({"error": "MISSING_KEY"}, status_code=401)

    inner = Starlette(routes=[Route("/api/v1/verify", verify, methods=["POST"])])
    client = TestClient(logs.request_context_middleware(inner))
    try:
        with app_context.override(proxy_hops=1):
            response = client.post(
                f"/api/v1/verify?api_key={SECRET}",
                headers={"X-Request-ID": "abc-123", "X-Forwarded-For": "203.0.113.9"},
            )
            generated = client.post("/api/v1/verify", headers={"X-Request-ID": "bad id\n{}"})
    finally:
        logs.configure_logging("text")
        os.environ.pop("REFLEX_LOG_JSON", None)
    assert response.headers["x-request-id"] == "abc-123"
    assert seen[0] == ("abc-123", "203.0.113.9")  # what any log line of the request carries
    assert len(generated.headers["x-request-id"]) == 32  # an unsafe incoming id is replaced
    first = _json_lines(stream)[0]
    assert first["method"] == "POST" and first["path"] == "/api/v1/verify" and first["status"] == 401
    assert first["request_id"] == "abc-123" and first["client"] == "203.0.113.9"
    assert isinstance(first["duration_ms"], float)
    assert SECRET not in stream.getvalue()


def test_the_hot_path_counts_every_outcome_refusals_included() -> None:
    """Verify refusals (no key, key in the URL) are counted where they are decided: the fast path."""
    from rxapp import hotpath
    from rxapp.hotpath.answers import verify_answer

    before_missing, before_url = _count("MISSING_KEY"), _count("KEY_IN_URL")
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/v1/verify",
        "headers": [],
        "client": ("1.2.3.4", 1),
    }

    def run() -> None:
        asyncio.run(hotpath.answer(scope, verify_answer, "verify"))
        asyncio.run(hotpath.answer({**scope, "query_string": b"api_key=x"}, verify_answer, "verify"))

    worker = threading.Thread(target=run)  # Playwright may own this thread's event loop in a full run
    worker.start()
    worker.join(30)
    assert _count("MISSING_KEY") == before_missing + 1
    assert _count("KEY_IN_URL") == before_url + 1


def test_record_verification_times_from_the_request_start() -> None:
    before = REGISTRY.get_sample_value("apikeys_verify_duration_seconds_count") or 0.0

    async def run() -> None:
        token = metrics.request_started.set(0.0)  # perf_counter origin: a large but valid duration
        try:
            await asyncio.to_thread(metrics.record_verification, None)
        finally:
            metrics.request_started.reset(token)

    # in a thread of its own: Playwright may own this thread's event loop in a full run
    worker = threading.Thread(target=asyncio.run, args=(run(),))
    worker.start()
    worker.join(30)
    assert REGISTRY.get_sample_value("apikeys_verify_duration_seconds_count") == before + 1
