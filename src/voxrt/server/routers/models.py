"""``GET /v1/models``: the models this server can serve, in OpenAI's list shape.

The recognizer it runs comes first (``voxrt.loaded: true``); after it, every
other named Whisper model installed with voxrt (``asr.model`` can name it; a
restart loads it); then the speech synthesis models, with their voices.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from voxrt.asr.models import english_only, installed_models
from voxrt.errors import NotFound
from voxrt.server.auth import require_api_key
from voxrt.server.routers.speech import tts_models
from voxrt.server.sessions import accepting_requests

__all__ = ["router"]

router = APIRouter(prefix="/v1", dependencies=[Depends(require_api_key), Depends(accepting_requests)])


def _speech_models(request: Request) -> list[dict[str, Any]]:
    tts = request.app.state.tts
    return [] if tts is None else tts_models(tts, request.app.state.started_at)


def _recognizers(request: Request) -> list[dict[str, Any]]:
    loaded = request.app.state.engine.model_id
    ids = [loaded, *(name for name in installed_models() if name != loaded)]
    return [
        {
            "id": model_id,
            "object": "model",
            "created": request.app.state.started_at,
            "owned_by": "voxrt",
            "voxrt": {"loaded": model_id == loaded, "english_only": english_only(model_id)},
        }
        for model_id in ids
    ]


@router.get("/models", summary="List models")
async def list_models(request: Request) -> dict[str, Any]:
    return {"object": "list", "data": [*_recognizers(request), *_speech_models(request)]}


@router.get("/models/{model_id}", summary="Retrieve a model")
async def get_model(model_id: str, request: Request) -> dict[str, Any]:
    for model in (*_recognizers(request), *_speech_models(request)):
        if model_id == model["id"]:
            return model
    raise NotFound(f"The model {model_id!r} does not exist.", param="model")
