"""``GET /v1/models``: the models this server can serve, in OpenAI's list shape.

The recognizer it runs comes first (``voxrt.loaded: true``); after it, every
other named Whisper model installed with voxrt (``asr.model`` can name it; a
restart loads it); then the language model, when one is configured and usable
(``voxrt.kind: "llm"``); then the speech synthesis models, with their voices.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from voxrt.asr.models import english_only, installed_models
from voxrt.errors import NotFound
from voxrt.server.auth import require_api_key
from voxrt.server.routers.speech import tts_models
from voxrt.server.sessions import accepting_requests
from voxrt.server.state import AppState, state

__all__ = ["router"]

router = APIRouter(prefix="/v1", dependencies=[Depends(require_api_key), Depends(accepting_requests)])


def _speech_models(app_state: AppState) -> list[dict[str, Any]]:
    tts = app_state.models.tts
    return [] if tts is None else tts_models(tts, app_state.started_at)


def _recognizers(app_state: AppState) -> list[dict[str, Any]]:
    loaded = app_state.models.asr.model_id
    ids = [loaded, *(name for name in installed_models() if name != loaded)]
    return [
        {
            "id": model_id,
            "object": "model",
            "created": app_state.started_at,
            "owned_by": "voxrt",
            "voxrt": {"loaded": model_id == loaded, "english_only": english_only(model_id)},
        }
        for model_id in ids
    ]


def _language_models(app_state: AppState) -> list[dict[str, Any]]:
    llm = app_state.models.llm
    if llm is None:
        return []
    voxrt = {"kind": "llm", "engine": app_state.settings.llm.engine, "loaded": llm.ready}
    model = {"id": llm.model_id, "object": "model", "created": app_state.started_at, "owned_by": "voxrt"}
    return [{**model, "voxrt": voxrt}]


def _listed(request: Request) -> list[dict[str, Any]]:
    app_state = state(request)
    return [*_recognizers(app_state), *_language_models(app_state), *_speech_models(app_state)]


@router.get("/models", summary="List models")
async def list_models(request: Request) -> dict[str, Any]:
    return {"object": "list", "data": _listed(request)}


@router.get("/models/{model_id}", summary="Retrieve a model")
async def get_model(model_id: str, request: Request) -> dict[str, Any]:
    for model in _listed(request):
        if model_id == model["id"]:
            return model
    raise NotFound(f"The model {model_id!r} does not exist.", param="model")
