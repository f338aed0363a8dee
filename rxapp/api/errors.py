"""What every route answers the same way: JSON errors with fixed codes, and the caller's address."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from rxapp.client_address import scope_client_address


class ErrorOut(BaseModel):
    error: str
    message: str


def error_response(
    status: int, error: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"error": error, "message": message}, status_code=status, headers=headers)


def client_address(request: Request) -> str:
    """The peer address, or X-Forwarded-For's entry written by the trusted proxy in front of us."""
    return scope_client_address(request.scope)
