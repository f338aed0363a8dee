"""GET /api/v1/health: the database (and Redis when configured), and the running version."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from rxapp import __version__, routes
from rxapp.context import get_settings
from rxapp.db import get_engine

router = APIRouter()


@router.get(routes.API_HEALTH, summary="Health of the app, its database and (when configured) Redis")
async def health() -> JSONResponse:
    settings = get_settings()
    report: dict[str, Any] = {
        "status": "ok",
        "version": __version__,
        "database": "ok",
        "database_backend": get_engine().dialect.name,
        "redis": "not configured",
    }
    try:
        await asyncio.to_thread(_ping_database)
    except Exception:
        report.update(status="unavailable", database="unavailable")
    if settings.redis_url:
        try:
            await asyncio.to_thread(_ping_redis, settings.redis_url)
            report["redis"] = "ok"
        except Exception:
            report.update(status="unavailable", redis="unavailable")
    return JSONResponse(report, status_code=200 if report["status"] == "ok" else 503)


def _ping_database() -> None:
    import sqlalchemy as sa

    with get_engine().connect() as connection:
        connection.execute(sa.text("SELECT 1"))


def _ping_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    finally:
        client.close()
