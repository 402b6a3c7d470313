"""Liveness and readiness for orchestrators: ``/health`` and ``/ready``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from voxrt.server.state import state

__all__ = ["router"]

router = APIRouter()


@router.get("/health", summary="The process is alive")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready", summary="Models are loaded (503 until then)")
async def ready(request: Request) -> JSONResponse:
    """200 once every configured model (VAD, recognizer, synthesizer, language model) is loaded and
    warmed up; ``models`` names the recognizer and the synthesizer (``/v1/models`` lists them all)."""
    app_state = state(request)
    if app_state.sessions.draining:
        return JSONResponse({"status": "draining"}, status_code=503)
    models = app_state.models
    if models.ready:
        names = [models.asr.model_id] + ([models.tts.name] if models.tts is not None else [])
        return JSONResponse({"status": "ready", "models": names})
    if models.load_error is not None:
        return JSONResponse({"status": "failed", "error": models.load_error}, status_code=503)
    return JSONResponse({"status": "loading"}, status_code=503)
