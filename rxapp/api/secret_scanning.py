"""POST /api/v1/secret-scanning/github: GitHub's secret-scanning partner endpoint (leak reports).

The signature is checked over the raw body before anything else is read: an unsigned or badly
signed request is 401 with no effect. The answer is GitHub's format, one label per report
(services/leaks.py); it says nothing else about a secret.
"""

from __future__ import annotations

import asyncio
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from rxapp import routes
from rxapp.api.errors import ErrorOut, error_response
from rxapp.context import get_settings
from rxapp.db import session_scope
from rxapp.services import leak_signature, leaks
from rxapp.services.errors import ServiceError

router = APIRouter()


class LabelOut(BaseModel):
    token_raw: str
    token_type: str
    label: Literal["true_positive", "false_positive"]


@router.post(
    routes.API_SECRET_SCANNING_GITHUB,
    summary="GitHub secret-scanning partner endpoint: leaked keys and management tokens",
    tags=["leaks"],
    responses={
        200: {"model": list[LabelOut], "description": "One label per report"},
        401: {"model": ErrorOut, "description": "Unsigned, unknown key or bad signature"},
        413: {"model": ErrorOut},
        422: {"model": ErrorOut, "description": "Not an array of {token, type, url, source}"},
    },
)
async def github_report(request: Request) -> JSONResponse:
    body = await request.body()
    if len(body) > leak_signature.MAX_BODY_BYTES:
        return error_response(413, "TOO_LARGE", "The report is too large.")
    keys = leak_signature.load_public_keys(get_settings().secret_scanning_keys)
    try:
        leak_signature.verify(
            body,
            request.headers.get("github-public-key-identifier", ""),
            request.headers.get("github-public-key-signature", ""),
            keys,
        )
        reports = leak_signature.parse_reports(body)
        answer = await asyncio.to_thread(_handle, reports)
    except leak_signature.SignatureRejected as error:
        return error_response(401, error.code, error.message)
    except ServiceError as error:
        return error_response(422, error.code, error.message)
    return JSONResponse(answer)


def _handle(reports: list[leak_signature.Reported]) -> list[dict[str, str]]:
    with session_scope() as session:
        return leaks.handle_reports(session, reports)
