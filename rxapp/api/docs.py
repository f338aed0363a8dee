"""/api/docs: the interactive API reference (Swagger UI 5, which reads OpenAPI 3.1), served from
the files the `fastapi-offline` package ships, never a CDN, so the page works offline and the CSP
stays 'self'. The page has no inline script: its initializer is a static file below too. The
validator badge is off (it would send the schema to validator.swagger.io)."""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse, Response

from rxapp import routes

router = APIRouter(include_in_schema=False)
ASSETS = Path(fastapi_offline.__file__).parent / "static"
_FILES = {
    "swagger-ui.css": "text/css",
    "swagger-ui-bundle.js": "text/javascript",
    "favicon.png": "image/png",
}
_CACHE = {"Cache-Control": "public, max-age=3600"}
PAGE = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>API reference · API key console</title>
<link rel="stylesheet" href="{routes.API_DOCS}/swagger-ui.css">
<link rel="icon" type="image/png" href="{routes.API_DOCS}/favicon.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{routes.API_DOCS}/swagger-ui-bundle.js"></script>
<script src="{routes.API_DOCS}/init.js"></script>
</body>
</html>
"""
INIT = f"""window.ui = SwaggerUIBundle({{
  url: "{routes.API_PREFIX}/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
  persistAuthorization: false,
  tryItOutEnabled: false
}});
"""


@router.get(routes.API_DOCS)
def docs_page() -> HTMLResponse:
    return HTMLResponse(PAGE)


@router.get(routes.API_DOCS + "/init.js")
def docs_init() -> Response:
    return Response(INIT, media_type="text/javascript", headers=_CACHE)


@router.get(routes.API_DOCS + "/{name}")
def docs_asset(name: str) -> Response:
    if name not in _FILES:
        return Response(status_code=404)
    return FileResponse(ASSETS / name, media_type=_FILES[name], headers=_CACHE)
