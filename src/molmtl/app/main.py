"""The application: :func:`create_app` includes one router per area, the error handlers and the
safety middleware, and makes the resources once in its lifespan (``app.state.resources``)."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.middleware.trustedhost import TrustedHostMiddleware

from molmtl import __version__
from molmtl.app import errors
from molmtl.app.resources import build_resources
from molmtl.app.routers import compare, health, jobs, methods, molecules, pages, predict
from molmtl.app.security import BodyLimit, SecurityHeaders, TokenAuth, loopback_hosts
from molmtl.app.settings import ServerSettings
from molmtl.data.qm9 import QM9

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"


def create_app(settings: ServerSettings | None = None, *, qm9: QM9 | None = None, client=None,
               allowed_hosts: tuple[str, ...] = ()) -> FastAPI:
    """The molmtl web application.

    Args:
        settings: the server's settings (default: 127.0.0.1, no token, a LocalCluster for the jobs).
        qm9: a loaded QM9 to use (default: loaded in the lifespan).
        client: a Dask client for the jobs (default: made from the settings; a given one is not closed).
        allowed_hosts: Host names a loopback server answers besides 127.0.0.1, localhost and ::1.
    """
    settings = settings or ServerSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        resources = await run_in_threadpool(build_resources, settings, qm9=qm9, client=client)
        app.state.resources = resources
        try:
            yield
        finally:
            await run_in_threadpool(resources.close)

    app = FastAPI(title="molmtl", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url="/openapi.json",
                  description="The multi-task network, GFN2-xTB and DFT at QM9's level on one molecule, side by side "
                              "(docs/web.md). Results follow docs/result-schema.md.")
    errors.install(app)
    for router in (health, methods, molecules, predict, jobs, compare, pages):
        app.include_router(router.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    # middleware: the last added runs first (host check, then body cap, then token, then headers)
    app.add_middleware(SecurityHeaders)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_methods=["GET", "POST", "DELETE"],
                           allow_headers=["Authorization", "Content-Type"])
    if settings.token:
        app.add_middleware(TokenAuth, token=settings.token)
    elif not settings.loopback:
        log.warning("serving %s with no token (--no-auth): anyone who can reach it can run jobs", settings.host)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    if settings.loopback:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=loopback_hosts(allowed_hosts))
    return app


__all__ = ["create_app"]
