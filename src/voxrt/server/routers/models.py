"""``GET /v1/models``: the models this server runs, in OpenAI's list shape."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from voxrt.errors import NotFound
from voxrt.server.auth import require_api_key
from voxrt.server.routers.speech import tts_models
from voxrt.server.sessions import accepting_requests

__all__ = ["router"]

router = APIRouter(prefix="/v1", dependencies=[Depends(require_api_key), Depends(accepting_requests)])


def _speech_models(request: Request) -> list[dict[str, Any]]:
    tts = request.app.state.tts
    return [] if tts is None else tts_models(tts, request.app.state.started_at)


def _model(request: Request) -> dict[str, Any]:
    return {
        "id": request.app.state.engine.model_id,
        "object": "model",
        "created": request.app.state.started_at,
        "owned_by": "voxrt",
    }


@router.get("/models", summary="List models")
async def list_models(request: Request) -> dict[str, Any]:
    return {"object": "list", "data": [_model(request), *_speech_models(request)]}


@router.get("/models/{model_id}", summary="Retrieve a model")
async def get_model(model_id: str, request: Request) -> dict[str, Any]:
    for model in (_model(request), *_speech_models(request)):
        if model_id == model["id"]:
            return model
    raise NotFound(f"The model {model_id!r} does not exist.", param="model")
