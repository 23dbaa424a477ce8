"""The FastAPI application: ``create_app(settings)`` builds one from the organiser's settings (FastAPI's
"bigger applications" layout: an app factory, one router per concern, the service injected per request).

``vcval serve`` runs it under uvicorn through :func:`app_from_environment`, so that several workers each
build their own from the same settings."""

from __future__ import annotations

import logging
import os
from importlib import resources

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from server.db import DatabaseUnavailable
from server.routes_api import router as api_router
from server.routes_pages import router as pages_router
from server.service import Refused, Service, make_service
from server.settings import ServerSettings
from server.uploads import BodyLimit, UploadTooLarge

SETTINGS_ENV = "VCVAL_SERVE_SETTINGS"
log = logging.getLogger("vcval.server")
PAGE_POLICY = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; "
               "frame-ancestors 'none'")


def create_app(settings: ServerSettings, service: Service | None = None) -> FastAPI:
    service = service or make_service(settings)
    app = FastAPI(title="vcval evaluation server", docs_url=None, redoc_url=None, openapi_url="/api/openapi.json")
    app.state.service = service
    app.include_router(api_router)
    app.include_router(pages_router)

    @app.get("/static/leaderboard.css", include_in_schema=False)
    def stylesheet() -> Response:
        css = "\n".join(resources.files(package).joinpath(name).read_text(encoding="utf-8")
                        for package, name in (("leaderboard", "leaderboard.css"), ("server", "templates/server.css")))
        return Response(css, media_type="text/css", headers={"Cache-Control": "max-age=300"})

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return Response(status_code=204)

    @app.exception_handler(Refused)
    async def refused(_request: Request, error: Refused) -> JSONResponse:
        return JSONResponse(error.to_dict(), status_code=error.status,
                            headers={"WWW-Authenticate": "Bearer"} if error.status == 401 else None)

    @app.exception_handler(UploadTooLarge)
    async def too_large(_request: Request, error: UploadTooLarge) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=413, headers={"Connection": "close"})

    @app.exception_handler(DatabaseUnavailable)
    async def unavailable(_request: Request, error: DatabaseUnavailable) -> JSONResponse:
        log.error("database unavailable (%s)", error)
        return JSONResponse({"detail": "the database is unavailable or busy; nothing was changed, try again "
                                       "in a moment"}, status_code=503, headers={"Retry-After": "5"})

    @app.exception_handler(Exception)
    async def internal(_request: Request, error: Exception) -> JSONResponse:
        log.error("internal error: %s", type(error).__name__)
        return JSONResponse({"detail": "internal error; nothing was changed"}, status_code=500)

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if response.headers.get("content-type", "").startswith("text/html"):
            response.headers["Content-Security-Policy"] = PAGE_POLICY
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    app.add_middleware(BodyLimit, limit=settings.max_upload_bytes)
    return app


def app_from_environment():
    """uvicorn's factory for ``vcval serve``: the settings travel as JSON in :data:`SETTINGS_ENV`."""
    return create_app(ServerSettings.from_json(os.environ[SETTINGS_ENV]))
