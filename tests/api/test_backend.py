"""The suites run on two backends; prove which one this run used."""

from __future__ import annotations

import httpx

from tests.conftest import Console


def test_the_tests_know_which_backend_they_ran_on(console: Console) -> None:
    health = httpx.get(f"{console.base_url}/api/v1/health", timeout=10).json()
    assert health["status"] == "ok"
    if console.backend == "postgres":
        assert health["database_backend"] == "postgresql"
        assert health["redis"] == "ok"
    else:
        assert health["database_backend"] == "sqlite"
        assert health["redis"] == "not configured"
