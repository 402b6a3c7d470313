"""Liveness and readiness for orchestrators: ``/health`` and ``/ready``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

__all__ = ["router"]

router = APIRouter()


@router.get("/health", summary="The process is alive")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready", summary="Models are loaded (503 until then)")
async def ready(request: Request) -> JSONResponse:
    state = request.app.state
    if state.sessions.draining:
        return JSONResponse({"status": "draining"}, status_code=503)
    tts = state.tts
    if state.engine.ready and (tts is None or tts.ready):
        models = [state.engine.model_id] + ([tts.name] if tts is not None else [])
        return JSONResponse({"status": "ready", "models": models})
    if state.load_error is not None:
        return JSONResponse({"status": "failed", "error": state.load_error}, status_code=503)
    return JSONResponse({"status": "loading"}, status_code=503)
