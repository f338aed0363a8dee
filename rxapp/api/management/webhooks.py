"""The management API's webhook endpoints (scope `webhooks:write`, owners only): register, list,
change, roll the signing secret, delete; each endpoint's delivery log and Redeliver.

The signing secret (`whsec_...`) is in the answer to a create or a roll, once; an idempotent
replay of a create answers `"secret": null, "secret_shown": true` (secrets are never stored in
the clear).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Path, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from rxapp import routes
from rxapp.api.management.common import (
    IdempotencyKey,
    Token,
    created,
    json_answer,
    make_router,
    one_of,
    responses,
)
from rxapp.api.problems import caller, check_version, if_match, need, service_call
from rxapp.models import WebhookDeliveryPublic, WebhookEndpointPublic
from rxapp.services.webhooks import EVENTS, targets
from rxapp.services.webhooks import endpoints as endpoint_service

SCOPE = "webhooks:write"
router = make_router()
EndpointId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_]{1,64}$", examples=["whep_mfrggzdfmztwq2lk"])]
DeliveryId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_]{1,64}$", examples=["msg_mfrggzdfmztwq2lkmfrggzdf"])]
if TYPE_CHECKING:
    Event = str
else:  # the service's events, as a Literal (see `one_of`)
    Event = one_of(EVENTS)
URL_MAX = targets.URL_MAX_LENGTH
DESCRIPTION_MAX = endpoint_service.DESCRIPTION_MAX_LENGTH


class EndpointIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"url": "https://hooks.example.com/keys", "events": ["key.created", "key.expiring"]}]
        },
    )

    url: str = Field(max_length=URL_MAX)
    events: list[Event] = Field(min_length=1, max_length=len(EVENTS) * 2)
    description: str = Field(default="", max_length=DESCRIPTION_MAX)


class EndpointChangesIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"enabled": True}]})

    url: str | None = Field(default=None, max_length=URL_MAX)
    events: list[Event] | None = Field(default=None, min_length=1, max_length=len(EVENTS) * 2)
    description: str | None = Field(default=None, max_length=DESCRIPTION_MAX)
    enabled: bool | None = None


class EndpointCreatedOut(WebhookEndpointPublic):
    """The endpoint, and its signing secret exactly once (null on an idempotent replay)."""

    secret: str | None
    secret_shown: bool


class EndpointListOut(BaseModel):
    data: list[WebhookEndpointPublic]


class DeliveryListOut(BaseModel):
    data: list[WebhookDeliveryPublic]


def _with_secret(endpoint: WebhookEndpointPublic, secret: str | None) -> EndpointCreatedOut:
    return EndpointCreatedOut(**endpoint.model_dump(), secret=secret, secret_shown=secret is None)


def _location(endpoint_id: str) -> str:
    return f"{routes.API_PREFIX}/webhooks/{endpoint_id}"


@router.get(
    "/webhooks",
    operation_id="listWebhooks",
    response_model=EndpointListOut,
    responses=responses(200, EndpointListOut),
)
def list_webhooks(token: Token) -> JSONResponse:
    need(token, SCOPE)
    with service_call() as session:
        rows = endpoint_service.list_endpoints(session, token.access)
    return json_answer(EndpointListOut(data=rows))


@router.post(
    "/webhooks",
    operation_id="createWebhook",
    status_code=201,
    response_model=EndpointCreatedOut,
    responses={
        **responses(201, EndpointCreatedOut, None, 409),
        200: {"model": EndpointCreatedOut, "description": "Idempotent replay"},
    },
)
def create_webhook(
    request: Request, token: Token, body: EndpointIn, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """Register an endpoint; the answer carries its signing secret once."""
    need(token, SCOPE)

    def make(session: Any) -> tuple[str, JSONResponse]:
        made = endpoint_service.create_endpoint(
            session,
            token.access,
            token.actor,
            body.url,
            list(body.events),
            body.description,
            client_address=caller(request),
        )
        endpoint = made.endpoint
        answer = json_answer(
            _with_secret(endpoint, made.secret),
            201,
            endpoint.version,
            Location=_location(endpoint.endpoint_id),
        )
        return endpoint.endpoint_id, answer

    def replay(session: Any, endpoint_id: str) -> JSONResponse:
        endpoint = endpoint_service.get_endpoint(session, token.access, endpoint_id)
        return json_answer(_with_secret(endpoint, None), 200, endpoint.version)

    return created(request, token, idempotency_key, body, make, replay)


@router.get(
    "/webhooks/{endpoint_id}",
    operation_id="getWebhook",
    response_model=WebhookEndpointPublic,
    responses=responses(200, WebhookEndpointPublic),
)
def get_webhook(token: Token, endpoint_id: EndpointId) -> JSONResponse:
    need(token, SCOPE)
    with service_call() as session:
        endpoint = endpoint_service.get_endpoint(session, token.access, endpoint_id)
    return json_answer(endpoint, version=endpoint.version)


@router.patch(
    "/webhooks/{endpoint_id}",
    operation_id="updateWebhook",
    response_model=WebhookEndpointPublic,
    responses=responses(200, WebhookEndpointPublic, None, 409, 412),
)
def update_webhook(
    request: Request, token: Token, endpoint_id: EndpointId, body: EndpointChangesIn
) -> JSONResponse:
    """Change the URL, events, description, or enable/disable it; If-Match guards it."""
    need(token, SCOPE)
    expected = if_match(request)
    given = body.model_dump(exclude_unset=True, exclude_none=True)
    with service_call(stale_is_412=True) as session:
        current = endpoint_service.get_endpoint(session, token.access, endpoint_id)
        check_version(expected, current.version)
        endpoint = endpoint_service.update_endpoint(
            session,
            token.access,
            token.actor,
            endpoint_id,
            url=given.get("url"),
            events=given.get("events"),
            description=given.get("description"),
            enabled=given.get("enabled"),
            expected_version=current.version,
            client_address=caller(request),
        )
    return json_answer(endpoint, version=endpoint.version)


@router.delete(
    "/webhooks/{endpoint_id}",
    operation_id="deleteWebhook",
    status_code=204,
    responses=responses(204, None),
)
def delete_webhook(request: Request, token: Token, endpoint_id: EndpointId) -> Response:
    need(token, SCOPE)
    with service_call() as session:
        endpoint_service.delete_endpoint(
            session, token.access, token.actor, endpoint_id, client_address=caller(request)
        )
    return Response(status_code=204)


@router.post(
    "/webhooks/{endpoint_id}/roll-secret",
    operation_id="rollWebhookSecret",
    response_model=EndpointCreatedOut,
    responses=responses(200, EndpointCreatedOut),
)
def roll_webhook_secret(request: Request, token: Token, endpoint_id: EndpointId) -> JSONResponse:
    """A new signing secret, shown once; deliveries are signed with it from now on."""
    need(token, SCOPE)
    with service_call() as session:
        rolled = endpoint_service.roll_secret(
            session, token.access, token.actor, endpoint_id, client_address=caller(request)
        )
    return json_answer(_with_secret(rolled.endpoint, rolled.secret), version=rolled.endpoint.version)


@router.get(
    "/webhooks/{endpoint_id}/deliveries",
    operation_id="listWebhookDeliveries",
    response_model=DeliveryListOut,
    responses=responses(200, DeliveryListOut),
)
def list_webhook_deliveries(token: Token, endpoint_id: EndpointId) -> JSONResponse:
    """The newest 50 deliveries, each with its latest attempt (status, latency, response excerpt)."""
    need(token, SCOPE)
    with service_call() as session:
        rows = endpoint_service.list_deliveries(session, token.access, endpoint_id)
    return json_answer(DeliveryListOut(data=rows))


@router.post(
    "/webhooks/{endpoint_id}/deliveries/{delivery_id}/redeliver",
    operation_id="redeliverWebhook",
    status_code=202,
    response_model=WebhookDeliveryPublic,
    responses=responses(202, WebhookDeliveryPublic, None, 409),
)
def redeliver_webhook(
    request: Request, token: Token, endpoint_id: EndpointId, delivery_id: DeliveryId
) -> JSONResponse:
    """Send a delivery again (same `webhook-id`), now."""
    need(token, SCOPE)
    with service_call() as session:
        queued = endpoint_service.redeliver(
            session, token.access, token.actor, endpoint_id, delivery_id, client_address=caller(request)
        )
    return json_answer(queued, 202)
