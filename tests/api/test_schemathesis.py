"""Property-based tests generated from the running app's OpenAPI schema (schemathesis 4.x).

The schema is loaded inside each test from the running console, because the app (and so the schema
URL) only exists once the session-scoped `console` fixture has started it.
"""

from __future__ import annotations

from collections.abc import Callable

import hypothesis
import schemathesis
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.control import SkipTest
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import assert_no_traceback
from tests.conftest import Console

MAX_EXAMPLES = 50
SETTINGS = hypothesis.settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(hypothesis.HealthCheck),
)
SENT: dict[str, int] = {"positive": 0, "negative": 0}


def _load(console: Console, mode: str) -> schemathesis.BaseSchema:
    config = schemathesis.Config.from_dict(
        {
            "base-url": console.base_url,
            "request-timeout": 30,
            "generation": {"mode": mode, "max-examples": MAX_EXAMPLES},
        }
    )
    return schemathesis.openapi.from_url(f"{console.base_url}/api/v1/openapi.json", config=config, timeout=30)


def _operations(schema: schemathesis.BaseSchema) -> list[schemathesis.APIOperation]:
    # The management API (keys, profiles, audit, roles, webhooks...) needs a token:
    # tests/api/test_management_schemathesis.py
    operations = [
        operation
        for operation in (result.ok() for result in schema.get_all_operations())
        if not operation.path.startswith(
            (
                "/api/v1/keys",
                "/api/v1/profiles",
                "/api/v1/audit",
                "/api/v1/identities",
                "/api/v1/permissions",
                "/api/v1/roles",
                "/api/v1/webhooks",
                "/api/v1/workspace",
            )
        )
    ]
    labels = {operation.label for operation in operations}
    assert {"POST /api/v1/verify", "GET /api/v1/health", "GET /api/v1/authorize"} <= labels, labels
    return operations


def _run(
    operation: schemathesis.APIOperation, mode: GenerationMode, test: Callable[[schemathesis.Case], None]
) -> bool:
    """One Hypothesis run of up to MAX_EXAMPLES generated cases against one operation.

    False when schemathesis cannot make a case of this mode (no parameter it could make invalid).
    """
    try:
        SETTINGS(hypothesis.given(case=operation.as_strategy(generation_mode=mode))(test))()
    except SkipTest:
        return False
    return True


# `schemathesis.pytest.from_fixture(...)` would be the lazy way, but with pytest 9.2 its runner fails
# (`'Function' object has no attribute '_nodeid'`), so the operations are driven by hand instead.
# Requests sent (measured with derandomize=True): 2 schema loads; positive 51 (50 verify cases, 1 health
# case: it has no parameters) plus authorize's GET cases; schemathesis NEGATIVE mode 0 (nothing to
# negate); hostile verify cases 50. So about 150 requests for the two tests, 30-60 s on a busy machine.


def test_api_conforms_to_its_schema(console: Console) -> None:
    """Valid inputs: every default check (status codes, content types, response schemas, no 5xx)."""

    def check(case: schemathesis.Case) -> None:
        SENT["positive"] += 1
        response = case.call_and_validate(timeout=30)
        assert_no_traceback(response)

    for operation in _operations(_load(console, "positive")):
        _run(operation, GenerationMode.POSITIVE, check)
    assert SENT["positive"] > 0


def test_negative_data_is_rejected_without_server_errors(console: Console) -> None:
    """Invalid inputs: never a 5xx or a traceback, and every answer still matches the documented schema.

    Schemathesis' own NEGATIVE mode negates verify's optional JSON body (issue 24) and has nothing to
    negate elsewhere; then hostile values are layered on top of its generated verify cases: junk or
    oversized credentials and keys in the query string.
    """
    schema = _load(console, "negative")
    operations = {operation.label: operation for operation in _operations(schema)}

    def negated(case: schemathesis.Case) -> None:
        response = case.call_and_validate(timeout=30)
        assert response.status_code < 500
        assert_no_traceback(response)

    negative_possible = {
        label: _run(operation, GenerationMode.NEGATIVE, negated) for label, operation in operations.items()
    }
    assert negative_possible == {
        "POST /api/v1/verify": True,  # its optional JSON body (issue 24)
        "GET /api/v1/health": False,
        "GET /api/v1/authorize": False,
        "POST /api/v1/secret-scanning/github": False,  # reads the raw signed body: nothing to negate
    }

    @SETTINGS
    @hypothesis.given(case=_hostile_verify_cases(operations["POST /api/v1/verify"]))
    def run(case: schemathesis.Case) -> None:
        SENT["negative"] += 1
        response = case.call_and_validate(
            checks=[
                not_a_server_error,
                negative_data_rejection,
                status_code_conformance,
                content_type_conformance,
                response_schema_conformance,
            ],
            timeout=30,
        )
        assert response.status_code < 500
        assert_no_traceback(response)
        body = response.json()
        if case.query:
            assert (response.status_code, body["error"]) == (400, "KEY_IN_URL")
        elif response.status_code == 200:
            assert body["valid"] is False  # nothing generated here can be a real key
            assert body["code"] in {"MALFORMED", "NOT_FOUND"}
        else:
            assert response.status_code in (400, 401), response.text
            # or a generated body (issue 24) that is not one verify accepts
            assert body["error"] in {
                "MISSING_KEY",
                "HEADER_TOO_LARGE",
                "INVALID_REQUEST",
                "INVALID_PERMISSION_QUERY",
            }

    run()
    assert SENT["negative"] >= MAX_EXAMPLES // 2


_HEADER_TEXT = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=80)
_CREDENTIAL = st.one_of(
    _HEADER_TEXT,
    st.from_regex(r"bpk_[0-9A-Za-z]{30,40}", fullmatch=True),
    st.integers(min_value=200, max_value=2000).map(lambda n: "bpk_" + "A" * n),
)
_AUTHORIZATION = st.one_of(
    _CREDENTIAL.map("Bearer ".__add__),
    _CREDENTIAL.map("Basic ".__add__),
    _HEADER_TEXT,
)


def _hostile_verify_cases(operation: schemathesis.APIOperation) -> st.SearchStrategy[schemathesis.Case]:
    @st.composite
    def build(draw: st.DrawFn) -> schemathesis.Case:
        case = draw(operation.as_strategy(generation_mode=GenerationMode.POSITIVE))
        headers = {}
        authorization = draw(st.none() | _AUTHORIZATION)
        api_key = draw(st.none() | _CREDENTIAL)
        if authorization is not None:
            headers["Authorization"] = authorization
        if api_key is not None:
            headers["X-API-Key"] = api_key
        case.headers = headers
        query_name = draw(st.sampled_from(["api_key", "key", "token", "apikey", "q"]))
        query_value = draw(_CREDENTIAL)
        if query_name == "q" and not query_value.startswith("bpk_"):
            query_value = "bpk_" + query_value
        case.query = (draw(st.booleans()) and {query_name: query_value}) or None
        return case

    return build()
