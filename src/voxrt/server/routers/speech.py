"""``POST /v1/audio/speech``, as OpenAI's API defines it: the body streams as it is synthesized."""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.background import BackgroundTask

from voxrt.audio.encode import MEDIA_TYPES, SpeechFormat, StreamEncoder
from voxrt.errors import InvalidRequest, ModelNotReady, NotFound, VoxrtError
from voxrt.server.auth import require_api_key
from voxrt.server.limits import Slot
from voxrt.server.sessions import accepting_requests
from voxrt.server.sse import sse_event
from voxrt.server.state import state
from voxrt.tts import SynthesisMetrics, TTSEngine
from voxrt.tts.chunker import split_text

__all__ = ["MODEL_ALIASES", "OUTPUT_RATE", "router", "tts_models"]

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", dependencies=[Depends(require_api_key), Depends(accepting_requests)])

# OpenAI's speech model names; each runs the configured engine.
MODEL_ALIASES = ("tts-1", "tts-1-hd", "gpt-4o-mini-tts")
# OpenAI sends 24 kHz audio in every format (pcm is raw 24 kHz 16-bit mono).
OUTPUT_RATE = 24000
_FRAME_S = 0.02  # usage.output_tokens counts 20 ms frames of audio: voxrt has no audio tokens


class VoiceId(BaseModel):
    """A custom voice reference, ``{"id": "..."}``, as OpenAI's SDK may send it."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=128)


class SpeechRequest(BaseModel):
    """The JSON body of ``POST /v1/audio/speech``."""

    model_config = ConfigDict(extra="ignore")

    model: str = Field(min_length=1, max_length=128)
    input: str = Field(min_length=1, max_length=4096)
    voice: str | VoiceId = Field(description="One of OpenAI's voice names or a voice id of this server.")
    instructions: str | None = Field(
        None,
        max_length=4096,
        description="Accepted for compatibility and not used: no engine here takes them.",
    )
    response_format: SpeechFormat = "mp3"
    speed: float = Field(1.0, ge=0.25, le=4.0)
    stream_format: Literal["audio", "sse"] = "audio"


def tts_models(engine: TTSEngine, created: int) -> list[dict[str, Any]]:
    """The speech models for ``GET /v1/models``: the engine under its own name and OpenAI's."""
    return [
        {
            "id": model_id,
            "object": "model",
            "created": created,
            "owned_by": "voxrt",
            "engine": engine.name,
            "voices": list(engine.voices),
        }
        for model_id in (engine.name, *MODEL_ALIASES)
    ]


def _engine(request: Request, model: str) -> TTSEngine:
    engine = state(request).models.tts
    if engine is None:
        raise NotFound("Speech synthesis is not enabled on this server (tts.engine).", param="model")
    if model not in (engine.name, *MODEL_ALIASES):
        raise NotFound(
            f"The model {model!r} does not exist: use {engine.name!r} or one of {', '.join(MODEL_ALIASES)}.",
            param="model",
        )
    if not engine.ready:
        raise ModelNotReady("The speech synthesis model is still loading; retry shortly.")
    return engine


async def _body(request: Request) -> SpeechRequest:
    try:
        data = await request.json()
    except ValueError:
        raise InvalidRequest("The request body must be JSON.") from None
    if not isinstance(data, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    try:
        return SpeechRequest.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        param = str(first["loc"][0]) if first["loc"] else None
        raise InvalidRequest(f"{param}: {first['msg']}", param=param) from None


async def _audio(
    engine: TTSEngine,
    params: SpeechRequest,
    voice: str,
    encoder: StreamEncoder,
    on_metrics: Callable[[SynthesisMetrics], None],
) -> AsyncIterator[bytes]:
    """The encoded audio, a piece per synthesized chunk (the encoder may hold some back)."""
    speech = engine.synthesize(
        params.input, voice, params.speed, sample_rate=encoder.rate, on_metrics=on_metrics
    )
    try:
        async for chunk in speech:
            data = await _off_loop(encoder.encode, chunk)
            if data:
                yield data
        tail = await _off_loop(encoder.finish)
        if tail:
            yield tail
    finally:
        encoder.close()


async def _off_loop(fn: Callable[..., bytes], *args: Any) -> bytes:
    """``fn(*args)`` in a worker thread (mp3 encoding takes ~30 ms per 4 s of audio). When the
    caller is cancelled the call still finishes before the cancellation goes on, so the encoder is
    never closed under a native call that is using it."""
    call = asyncio.ensure_future(asyncio.to_thread(fn, *args))
    try:
        return await asyncio.shield(call)
    except asyncio.CancelledError:
        await asyncio.wait({call})
        raise


def _recorder(request: Request, into: list[SynthesisMetrics]) -> Callable[[SynthesisMetrics], None]:
    """Keep a synthesis's metrics in ``into`` and count them in ``/metrics``."""

    def record(metrics: SynthesisMetrics) -> None:
        into.append(metrics)
        state(request).metrics.synthesized(
            metrics.engine, metrics.tts_ttfb_ms, metrics.audio_s, metrics.elapsed_s
        )

    return record


async def _stream(
    engine: TTSEngine,
    params: SpeechRequest,
    voice: str,
    on_metrics: Callable[[SynthesisMetrics], None],
    slot: Slot,
) -> AsyncIterator[bytes]:
    encoder = StreamEncoder(params.response_format, OUTPUT_RATE)
    try:
        async for data in _audio(engine, params, voice, encoder, on_metrics):
            yield data
    except Exception:  # the status line is sent: all that is left is to end the body early
        log.exception("speech synthesis failed mid-stream")
    finally:
        slot.release()


async def _sse(
    engine: TTSEngine,
    params: SpeechRequest,
    voice: str,
    on_metrics: Callable[[SynthesisMetrics], None],
    metrics: list[SynthesisMetrics],
    slot: Slot,
) -> AsyncIterator[str]:
    """``speech.audio.delta`` events (base64 of the format's bytes), then ``speech.audio.done``."""
    encoder = StreamEncoder(params.response_format, OUTPUT_RATE)
    try:
        async for data in _audio(engine, params, voice, encoder, on_metrics):
            yield sse_event({"type": "speech.audio.delta", "audio": base64.b64encode(data).decode()})
        frames = round(metrics[0].audio_s / _FRAME_S) if metrics else 0
        characters = len(params.input)
        usage = {"input_tokens": characters, "output_tokens": frames, "total_tokens": characters + frames}
        yield sse_event({"type": "speech.audio.done", "usage": usage})
    except VoxrtError as exc:
        yield sse_event(exc.body())
    except Exception:
        log.exception("speech synthesis failed mid-stream")
        yield sse_event(VoxrtError("The speech synthesis failed.").body())
    finally:
        slot.release()


@router.post("/audio/speech", summary="Synthesize speech (OpenAI-compatible)")
async def create_speech(request: Request) -> Response:
    """JSON body: OpenAI's speech fields. The audio streams back as it is synthesized."""
    params = await _body(request)
    engine = _engine(request, params.model)
    voice = engine.resolve_voice(params.voice if isinstance(params.voice, str) else params.voice.id)
    if not split_text(params.input):
        raise InvalidRequest("input: nothing to say (no letters or digits outside markup).", param="input")
    log.info(
        "speech: %d chars, voice %s, %s%s",
        len(params.input),
        voice,
        params.response_format,
        " (sse)" if params.stream_format == "sse" else "",
    )
    metrics: list[SynthesisMetrics] = []
    record = _recorder(request, metrics)
    # one REST slot, shared with transcription, held until the body is sent (or never starts)
    slot = state(request).rest_slots.acquire()
    release = BackgroundTask(slot.release)
    if params.stream_format == "sse":
        body = _sse(engine, params, voice, record, metrics, slot)
        return StreamingResponse(body, media_type="text/event-stream", background=release)
    body_audio = _stream(engine, params, voice, record, slot)
    return StreamingResponse(body_audio, media_type=MEDIA_TYPES[params.response_format], background=release)
