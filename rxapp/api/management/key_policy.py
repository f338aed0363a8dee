"""The workspace's key policy over REST (issue 26, item 4): GET reads it with the keys that break
it; PUT (owners) replaces it, and answers the same. Service codes map to problems as everywhere:
a bad value is 422 with its `field` (BAD_KEY_POLICY, POLICY_DEFAULT_ABOVE_MAX)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from rxapp import routes
from rxapp.api.management.common import Token, json_answer, make_router, responses
from rxapp.api.problems import caller, need, service_call
from rxapp.services import key_policies
from rxapp.services.keys import idle

router = make_router()
Days = int | None


class KeyPolicyIn(BaseModel):
    """The whole policy: a field left out is no rule (null days, no required profile)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "max_lifetime_days": 90,
                    "default_lifetime_days": 30,
                    "require_bias_profile": True,
                    "disable_unused_after_days": 60,
                }
            ]
        },
    )

    max_lifetime_days: Days = Field(default=None, ge=1, le=key_policies.LIFETIME_MAX_DAYS)
    default_lifetime_days: Days = Field(default=None, ge=1, le=key_policies.LIFETIME_MAX_DAYS)
    require_bias_profile: bool = False
    disable_unused_after_days: Days = Field(default=None, ge=idle.MIN_DAYS, le=idle.MAX_DAYS)


class ProblemOfKey(BaseModel):
    rule: str  # max_lifetime | require_bias_profile | disable_unused
    message: str


class ViolationOut(BaseModel):
    key_id: str
    name: str
    problems: list[ProblemOfKey]


class KeyPolicyOut(BaseModel):
    max_lifetime_days: int | None
    default_lifetime_days: int | None
    require_bias_profile: bool
    disable_unused_after_days: int | None
    violations: list[ViolationOut]  # existing keys that break it (first 100, by name)
    violations_total: int


def _answer(found: key_policies.PolicyView) -> JSONResponse:
    policy = found.policy
    return json_answer(
        KeyPolicyOut(
            max_lifetime_days=policy.max_lifetime_days,
            default_lifetime_days=policy.default_lifetime_days,
            require_bias_profile=policy.require_bias_profile,
            disable_unused_after_days=policy.disable_unused_after_days,
            violations=[
                ViolationOut(
                    key_id=v.key_id,
                    name=v.name,
                    problems=[ProblemOfKey(rule=p.rule, message=p.message) for p in v.problems],
                )
                for v in found.violations
            ],
            violations_total=found.violations_total,
        )
    )


@router.get(
    routes.API_KEY_POLICY,
    operation_id="getKeyPolicy",
    response_model=KeyPolicyOut,
    responses=responses(200, KeyPolicyOut),
)
def get_key_policy(token: Token) -> JSONResponse:
    """The policy, and the existing keys that break it (nothing is changed on them)."""
    need(token, "keys:read")
    with service_call() as session:
        return _answer(key_policies.view(session, token.access))


@router.put(
    routes.API_KEY_POLICY,
    operation_id="setKeyPolicy",
    response_model=KeyPolicyOut,
    responses=responses(200, KeyPolicyOut),
)
def set_key_policy(request: Request, token: Token, body: KeyPolicyIn) -> JSONResponse:
    """Owners only (the token's creator must be an owner); needs keys:write. Replaces the policy."""
    need(token, "keys:write")
    values = key_policies.PolicyValues(
        body.max_lifetime_days,
        body.default_lifetime_days,
        body.require_bias_profile,
        body.disable_unused_after_days,
    )
    with service_call() as session:
        found = key_policies.set_policy(
            session, token.access, token.actor, values, client_address=caller(request)
        )
    return _answer(found)
