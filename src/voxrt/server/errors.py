"""Every error leaves the server in OpenAI's shape: {"error": {message, type, param, code}}."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from voxrt.errors import InvalidRequest, RequestTimeout, VoxrtError
from voxrt.server.state import state

__all__ = ["install_error_handlers"]

log = logging.getLogger(__name__)


def _response(request: Request, error: VoxrtError, headers: dict[str, str] | None = None) -> JSONResponse:
    state(request).metrics.errors.labels(error.code).inc()
    if error.retry_after_s is not None:
        headers = {**(headers or {}), "Retry-After": str(error.retry_after_s)}
    return JSONResponse(error.body(), status_code=error.status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Map voxrt, validation, routing and unexpected errors onto OpenAI-shaped JSON."""

    @app.exception_handler(VoxrtError)
    async def _voxrt(request: Request, exc: VoxrtError) -> JSONResponse:
        log.info("%s %s -> %d %s", request.method, request.url.path, exc.status, exc.code)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        if isinstance(exc, RequestTimeout):  # the rest of the body is unread: end the connection
            headers = {"Connection": "close"}
        return _response(request, exc, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        param = ".".join(str(p) for p in first["loc"] if p not in ("body", "query", "path"))
        return _response(request, InvalidRequest(f"{param}: {first['msg']}", param=param or None))

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed"}
        error = InvalidRequest(str(exc.detail))
        error.status, error.code = exc.status_code, codes.get(exc.status_code, "invalid_request")
        return _response(request, error)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _response(request, VoxrtError("The server failed to handle the request."))
