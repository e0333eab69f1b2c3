"""Errors as HTTP answers: one sentence in ``detail``, never a traceback.

Bad input (InputError and its kinds) is 422, a record that does not exist 404, a full queue 429
with ``Retry-After``; a bad body is FastAPI's 422 naming the field, with the first problem as a
sentence in ``message``. Anything else is a bug: 500, logged with its traceback on the server.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from molmtl.errors import CalculationError, InputError, MolmtlError, NotFoundError

log = logging.getLogger(__name__)


class QueueFull(Exception):
    """The job queue holds as many jobs as the server takes."""

    def __init__(self, message: str, retry_after_s: int):
        super().__init__(message)
        self.retry_after_s = retry_after_s


def status_of(exc: MolmtlError) -> int:
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, (InputError, CalculationError)):
        return 422
    return 400


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    @app.exception_handler(MolmtlError)
    async def _molmtl(request: Request, exc: MolmtlError):
        return JSONResponse({"detail": str(exc)}, status_code=status_of(exc))

    @app.exception_handler(QueueFull)
    async def _full(request: Request, exc: QueueFull):
        return JSONResponse({"detail": str(exc)}, status_code=429, headers={"Retry-After": str(exc.retry_after_s)})

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        errors = jsonable_encoder(exc.errors(), custom_encoder={ValueError: str})
        for e in errors:
            e.pop("input", None)  # the client's own (possibly huge) input is not echoed back
            e.pop("ctx", None)
        first = errors[0] if errors else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "body"
        message = f"{where}: {first.get('msg', 'invalid request')}"
        return JSONResponse({"detail": errors, "message": message}, status_code=422)

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception):
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return JSONResponse({"detail": "internal error: the server could not answer this request (its log says why)"},
                            status_code=500)


__all__ = ["QueueFull", "install", "status_of"]
