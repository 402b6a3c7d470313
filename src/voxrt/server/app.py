"""``create_app``: the FastAPI application, its lifespan and middleware."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

import voxrt
from voxrt.asr import ASREngine, create_asr_engine
from voxrt.config import Settings
from voxrt.metrics import Metrics, RequestMetrics
from voxrt.server.errors import install_error_handlers
from voxrt.server.limits import BodySizeLimit, BodyTimeout, RestSlots
from voxrt.server.routers import health, metrics, models, realtime, speech, transcriptions, web
from voxrt.server.routers.web import SecurityHeaders
from voxrt.server.sessions import SessionRegistry
from voxrt.tts import TTSEngine, create_tts_engine, resolve_engine
from voxrt.vad import create_vad
from voxrt.vad.smart_turn import load_smart_turn

__all__ = ["create_app", "drain"]

log = logging.getLogger(__name__)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Load the models in the background: /health answers at once, /ready once they are loaded."""
    state = app.state
    engine: ASREngine = state.engine

    def loaded(task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            state.load_error = f"{type(task.exception()).__name__}: {task.exception()}"
            log.error("loading a model failed: %s", state.load_error)

    loading = asyncio.create_task(asyncio.to_thread(engine.load, state.settings.asr.warmup))
    loading.add_done_callback(loaded)
    tts: TTSEngine | None = state.tts
    if tts is not None:
        tts_loading = asyncio.create_task(asyncio.to_thread(tts.load, state.settings.tts.warmup))
        tts_loading.add_done_callback(loaded)
    try:
        yield
    finally:
        await asyncio.to_thread(engine.close)
        if tts is not None:
            await asyncio.to_thread(tts.close)


async def drain(app: FastAPI) -> None:
    """Stop taking work (``/ready`` 503, new sessions and requests refused), let committed
    utterances finish for at most ``server.drain_timeout_s``, then close every session."""
    await app.state.sessions.drain(app.state.settings.server.drain_timeout_s)


def create_app(settings: Settings, engine: ASREngine | None = None, tts: TTSEngine | None = None) -> FastAPI:
    """Build the app.

    Args:
        settings: the effective configuration.
        engine: a recognizer to serve (tests pass one); by default the configured one.
        tts: a speech synthesizer to serve (tests pass one); by default the configured one, or
            none when ``tts.engine`` resolves to none.

    Raises:
        ConfigError: the configured model is unusable, or the API key file unreadable.
    """
    app = FastAPI(title="voxrt", version=voxrt.__version__, lifespan=_lifespan)
    app.state.settings = settings
    app.state.engine = engine or create_asr_engine(settings.asr)
    if tts is None and resolve_engine(settings.tts) is not None:
        tts = create_tts_engine(settings.tts)
    app.state.tts = tts
    app.state.api_keys = settings.auth.keys()
    app.state.vad = create_vad(settings.vad.engine)
    app.state.end_of_turn = load_smart_turn()  # ~50 ms; None where pipecat-ai is not installed
    app.state.sessions = SessionRegistry(settings.realtime.max_sessions)
    app.state.load_error = None
    app.state.started_at = int(time.time())
    app.state.metrics = Metrics(queue_depth=app.state.engine.pending)
    install_error_handlers(app)
    app.state.rest_slots = RestSlots(settings.limits.max_pending_requests)
    app.add_middleware(BodySizeLimit, max_bytes=settings.limits.max_upload_bytes)
    app.add_middleware(BodyTimeout, timeout_s=settings.server.body_timeout_s)
    app.add_middleware(SecurityHeaders)
    if settings.server.metrics:
        app.add_middleware(RequestMetrics, metrics=app.state.metrics)
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
