"""``create_app``: the FastAPI application, its lifespan and middleware."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

import voxrt
from voxrt.asr import ASREngine
from voxrt.config import Settings
from voxrt.llm import Responder
from voxrt.metrics import Metrics, RequestMetrics
from voxrt.runtime.models import Models
from voxrt.server.errors import install_error_handlers
from voxrt.server.limits import BodySizeLimit, BodyTimeout, RestSlots
from voxrt.server.routers import health, metrics, models, realtime, speech, transcriptions, web
from voxrt.server.routers.web import SecurityHeaders
from voxrt.server.sessions import SessionRegistry
from voxrt.server.state import AppState, state
from voxrt.tts import TTSEngine

__all__ = ["create_app", "drain"]


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Load the models in the background: /health answers at once, /ready once they are loaded."""
    app_models = state(app).models
    app_models.start_loading()
    try:
        yield
    finally:
        await app_models.aclose()


async def drain(app: FastAPI) -> None:
    """Stop taking work (``/ready`` 503, new sessions and requests refused), let committed
    utterances finish for at most ``server.drain_timeout_s``, then close every session."""
    app_state = state(app)
    await app_state.sessions.drain(app_state.settings.server.drain_timeout_s)


def create_app(
    settings: Settings,
    engine: ASREngine | None = None,
    tts: TTSEngine | None = None,
    responder: Responder | None = None,
) -> FastAPI:
    """Build the app.

    Args:
        settings: the effective configuration.
        engine: a recognizer to serve (tests pass one); by default the configured one.
        tts: a speech synthesizer to serve (tests pass one); by default the configured one, or
            none when ``tts.engine`` resolves to none.
        responder: a language model to serve (tests pass one); by default the configured one, or
            none when its engine cannot be used (``Models.llm_unavailable`` says why).

    Raises:
        ConfigError: the configured recognizer or synthesizer is unusable, or the API key file
            unreadable.
    """
    app = FastAPI(title="voxrt", version=voxrt.__version__, lifespan=_lifespan)
    api_keys = settings.auth.keys()
    app_models = Models(settings, asr=engine, tts=tts, llm=responder)
    app_metrics = Metrics(queue_depth=app_models.pending)
    app_models.asr.on_batch = app_metrics.batch_size.observe
    app.state.voxrt = AppState(
        settings=settings,
        models=app_models,
        sessions=SessionRegistry(settings.realtime.max_sessions),
        metrics=app_metrics,
        api_keys=api_keys,
        rest_slots=RestSlots(settings.limits.max_pending_requests),
        started_at=int(time.time()),
    )
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.limits.max_upload_bytes)
    app.add_middleware(BodyTimeout, timeout_s=settings.server.body_timeout_s)
    app.add_middleware(SecurityHeaders)
    if settings.server.metrics:
        app.add_middleware(RequestMetrics, metrics=app_metrics)
        app.include_router(metrics.router)
    if settings.server.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.server.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
        )
    routers = (
        health.router,
        models.router,
        transcriptions.router,
        speech.router,
        realtime.router,
        web.router,
    )
    for router in routers:
        app.include_router(router)
    app.mount("/static", web.static_files(), name="static")
    return app
