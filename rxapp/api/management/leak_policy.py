"""The workspace's leak policy over REST: what a leak report does to its keys (owners change it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from rxapp import routes
from rxapp.api.management.common import Token, json_answer, make_router, one_of, responses
from rxapp.api.problems import caller, need, service_call
from rxapp.services import leaks

router = make_router()
if TYPE_CHECKING:
    Policy = str
else:  # the service's choices, as a Literal (see `one_of`)
    Policy = one_of(leaks.POLICIES)


class LeakPolicyOut(BaseModel):
    leak_policy: str


class LeakPolicyIn(BaseModel):
    leak_policy: Policy


@router.get(
    routes.API_LEAK_POLICY,
    operation_id="getLeakPolicy",
    response_model=LeakPolicyOut,
    responses=responses(200, LeakPolicyOut),
)
def get_leak_policy(token: Token) -> JSONResponse:
    """notify, disable (the default) or roll."""
    need(token, "keys:read")
    with service_call() as session:
        return json_answer(LeakPolicyOut(leak_policy=leaks.get_policy(session, token.access)))


@router.put(
    routes.API_LEAK_POLICY,
    operation_id="setLeakPolicy",
    response_model=LeakPolicyOut,
    responses=responses(200, LeakPolicyOut),
)
def set_leak_policy(request: Request, token: Token, body: LeakPolicyIn) -> JSONResponse:
    """Owners only (the token's creator must be an owner); needs keys:write."""
    need(token, "keys:write")
    with service_call() as session:
        policy = leaks.set_policy(
            session, token.access, token.actor, body.leak_policy, client_address=caller(request)
        )
    return json_answer(LeakPolicyOut(leak_policy=policy))
