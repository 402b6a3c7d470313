"""``POST /v1/audio/transcriptions``, as OpenAI's API defines it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable
from typing import Any, Literal, TypeVar

import numpy as np
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.background import BackgroundTask
from starlette.datastructures import FormData, UploadFile
from starlette.requests import ClientDisconnect

from voxrt.asr import ASREngine, Transcription, TranscriptionOptions
from voxrt.asr.formats import ResponseFormat, render
from voxrt.audio import decode_base64
from voxrt.audio.decode import SAMPLE_RATE, iter_decode
from voxrt.audio.fetch import fetch_url
from voxrt.config import Settings
from voxrt.errors import InvalidRequest, ModelNotReady, UrlInputDisabled, VoxrtError
from voxrt.runtime import Priority, iterate
from voxrt.server.auth import require_api_key
from voxrt.server.limits import Slot
from voxrt.server.sessions import accepting_requests
from voxrt.server.sse import sse_event
from voxrt.server.state import state
from voxrt.vad.gate import scan_for_speech

__all__ = ["router"]

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", dependencies=[Depends(require_api_key), Depends(accepting_requests)])
T = TypeVar("T")


class TranscriptionParams(BaseModel):
    """The form fields besides ``file``."""

    model_config = ConfigDict(extra="ignore")

    model: str = Field("", description="Accepted for compatibility; the configured recognizer runs.")
    language: str | None = Field(None, max_length=16)
    prompt: str | None = Field(None, max_length=4000)
    temperature: float = Field(0.0, ge=0.0, le=1.0)
    response_format: ResponseFormat = "json"
    timestamp_granularities: list[Literal["word", "segment"]] = ["segment"]
    stream: bool = False


def _params(form: FormData) -> TranscriptionParams:
    fields: dict[str, Any] = {k: v for k, v in form.items() if isinstance(v, str) and k != "file"}
    granularities = form.getlist("timestamp_granularities[]") or form.getlist("timestamp_granularities")
    if granularities:
        fields["timestamp_granularities"] = granularities
    try:
        params = TranscriptionParams.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        param = str(first["loc"][0]) if first["loc"] else None
        raise InvalidRequest(f"{param}: {first['msg']}", param=param) from None
    if params.stream and params.response_format not in ("json", "text"):
        raise InvalidRequest(
            "stream=true returns transcript.text events; use response_format json or text with it.",
            param="stream",
        )
    return params


async def _audio_bytes(file: UploadFile | str | None, settings: Settings) -> bytes:
    """The uploaded file, or a base64 string, data URI or (if enabled) URL in the ``file`` field."""
    if isinstance(file, UploadFile):
        return await file.read()
    if not file:
        raise InvalidRequest("The 'file' field is required.", param="file")
    if file.startswith(("http://", "https://")):
        if not settings.audio.allow_url_input:
            raise UrlInputDisabled(
                "URL input is disabled on this server (audio.allow_url_input).", param="file"
            )
        return await fetch_url(
            file,
            allowlist=settings.audio.url_allowlist,
            max_bytes=settings.limits.max_upload_bytes,
            timeout_s=settings.audio.url_timeout_s,
        )
    return decode_base64(file)


async def _sse(
    engine: ASREngine, audio: np.ndarray, options: TranscriptionOptions, slot: Slot
) -> AsyncIterator[str]:
    """Server-sent events: one ``transcript.text.delta`` per segment, then ``transcript.text.done``.

    The deltas concatenate to the done event's text. An empty ``audio`` (no speech) gives only
    the done event.
    """
    text = ""
    try:
        if len(audio):
            async for segment in engine.stream(audio, options, priority=Priority.REST):
                delta = segment.text if text else segment.text.lstrip()
                if delta:
                    text += delta
                    yield sse_event({"type": "transcript.text.delta", "delta": delta})
        yield sse_event({"type": "transcript.text.done", "text": text})
    except VoxrtError as exc:
        yield sse_event(exc.body())
    except Exception:
        log.exception("streaming transcription failed")
        yield sse_event(VoxrtError("The transcription failed.").body())
    finally:
        slot.release()


@router.post("/audio/transcriptions", summary="Transcribe audio (OpenAI-compatible)")
async def create_transcription(request: Request) -> Response:
    """Multipart form: ``file`` plus OpenAI's transcription fields."""
    app_state = state(request)
    settings, engine = app_state.settings, app_state.models.asr
    if not engine.ready:
        raise ModelNotReady("The speech recognition model is still loading; retry shortly.")
    slot = app_state.rest_slots.acquire()
    streaming = False
    try:
        form = await request.form(max_files=1, max_fields=32, max_part_size=settings.limits.max_upload_bytes)
        try:
            params = _params(form)
            data = await _audio_bytes(form.get("file"), settings)
        finally:
            await form.close()
        options = TranscriptionOptions(
            language=params.language or None,
            prompt=params.prompt,
            temperature=params.temperature,
            word_timestamps=params.response_format == "verbose_json"
            and "word" in params.timestamp_granularities,
            timestamps=params.response_format in ("verbose_json", "srt", "vtt"),
        )
        audio, speech = await _unless_disconnected(request, _speech(request, data))
        del data
        if params.stream:
            streaming = True
            return StreamingResponse(
                _sse(engine, audio if speech else audio[:0], options, slot),
                media_type="text/event-stream",
                background=BackgroundTask(slot.release),  # in case the stream never starts
            )
        started = time.perf_counter()
        if speech:
            result = await _unless_disconnected(
                request, engine.transcribe(audio, options, priority=Priority.REST)
            )
        else:
            result = _no_speech(engine, options, len(audio) / SAMPLE_RATE, started)
    except ClientDisconnect:
        log.info("transcription request abandoned by the client")
        return Response(status_code=499)
    finally:
        if not streaming:
            slot.release()
    log.info(
        "transcribed %.2f s of audio in %.3f s: %d chars%s",
        result.duration,
        result.processing_s,
        len(result.text),
        f" {result.text!r}" if settings.logging.log_transcripts else "",
    )
    body = render(result, params.response_format)
    if isinstance(body, dict):
        return JSONResponse(body)
    return PlainTextResponse(body, media_type="text/vtt" if params.response_format == "vtt" else None)


async def _speech(request: Request, data: bytes) -> tuple[np.ndarray, bool]:
    """The upload decoded to 16 kHz in the inference pool at REST priority, and whether it holds
    speech (always True with the VAD gate, ``audio.rest_vad``, off)."""
    app_state = state(request)
    settings, pool = app_state.settings, app_state.models.pool
    max_audio_s = settings.limits.max_audio_s
    async with contextlib.aclosing(
        iterate(pool, Priority.REST, lambda: iter_decode(data, max_audio_s=max_audio_s))
    ) as chunks:
        parts = [chunk async for chunk in chunks]
    audio = np.concatenate(parts) if len(parts) > 1 else parts[0]
    if not settings.audio.rest_vad:
        return audio, True
    vad, threshold, min_ms = (
        app_state.models.vad,
        settings.vad.threshold,
        settings.vad.min_speech_duration_ms,
    )
    async with contextlib.aclosing(
        iterate(pool, Priority.REST, lambda: scan_for_speech(vad, audio, threshold, min_ms))
    ) as scan:
        async for found in scan:
            if found:
                return audio, True
    return audio, False


def _no_speech(
    engine: ASREngine, options: TranscriptionOptions, duration: float, started: float
) -> Transcription:
    """The empty result of a file without speech, as the recognizer would have reported it."""
    return Transcription(
        text="",
        language=options.language,
        duration=duration,
        segments=(),
        options=engine.applied_options(options),
        processing_s=time.perf_counter() - started,
    )


async def _unless_disconnected(request: Request, work: Awaitable[T]) -> T:
    """Await ``work``, cancelling it if the client disconnects first (the body is read by then).

    Raises:
        ClientDisconnect: the client went away; ``work`` was cancelled.
    """
    task = asyncio.ensure_future(work)

    async def disconnected() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass

    watcher = asyncio.ensure_future(disconnected())
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for pending in (task, watcher):
            if not pending.done():
                pending.cancel()
        await asyncio.gather(task, watcher, return_exceptions=True)
    if task.cancelled():
        raise ClientDisconnect()
    return task.result()
