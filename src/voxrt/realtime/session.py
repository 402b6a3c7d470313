"""One realtime transcription session: client events in, server events out.

Handlers are registered per client event type, so this file reads like the
protocol. The session owns its state only (format decoder, segmenter, turn
bookkeeping); models are shared and passed in.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from pydantic import ValidationError

from voxrt.asr import ASREngine, TranscriptionOptions
from voxrt.asr.streaming import (
    Committed,
    Completed,
    Failed,
    Partial,
    SpeechStarted,
    SpeechStopped,
    StreamEvent,
    StreamingRecognizer,
)
from voxrt.audio.decode import SAMPLE_RATE
from voxrt.audio.pcm import StreamDecoder
from voxrt.config import Settings
from voxrt.errors import InvalidAudio, InvalidRequest, VoxrtError
from voxrt.realtime.events import (
    BetaSessionIn,
    InvalidEvent,
    SessionConfig,
    SessionIn,
    TurnDetection,
    UnknownEvent,
    error_event,
    parse_event,
    server_event,
    shorten,
    validation_error,
)
from voxrt.realtime.limits import RateLimit
from voxrt.vad import Segmenter, VADModel
from voxrt.vad.gate import scan_for_speech

__all__ = ["TranscriptionSession"]

log = logging.getLogger(__name__)

Handler = Callable[["TranscriptionSession", dict[str, Any]], None]
_handlers: dict[str, Handler] = {}
_OUTBOX_EVENTS = 1000  # events queued for a client that is not reading before it is dropped
# Audio goes through the VAD at most this much per turn of the event loop, so one large append
# cannot hold up every other connection (Silero: ~3 ms for 0.5 s).
_FEED_SAMPLES = SAMPLE_RATE // 2
_REFUSAL_REPORT_S = 1.0  # refused appends earn at most one error event per second


def _handles(event_type: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        _handlers[event_type] = fn
        return fn

    return register


class SlowClient(Exception):
    """The client stopped reading and its queue of server events is full."""


class TranscriptionSession:
    """State and protocol of one ``/v1/realtime?intent=transcription`` connection.

    Client events go in through ``receive_text`` / ``receive_bytes``, awaited one
    at a time in arrival order; server events come out, in order, from ``next_event``.
    """

    def __init__(self, settings: Settings, engine: ASREngine, vad: VADModel) -> None:
        self.settings = settings
        self.config = SessionConfig(
            turn_detection=self._default_turn_detection(), language=settings.asr.language
        )
        self._vad = vad
        self._outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue(_OUTBOX_EVENTS)
        self._overflowed = False
        self._previous_item: str | None = None
        self.decoder = StreamDecoder(self.config.format)
        limits = settings.realtime
        self._rate = RateLimit(limits.max_audio_rate, limits.audio_burst_s)
        self._refused = 0
        self._refusal_reported_at = -_REFUSAL_REPORT_S  # monotonic time of the last refusal error
        self._incoming: list[np.ndarray] = []  # audio of the current message, fed to the VAD in slices
        gate = None
        if limits.vad_gate_commits:
            gate = functools.partial(
                _has_speech, vad, settings.vad.threshold, settings.vad.min_speech_duration_ms
            )
        self.recognizer = StreamingRecognizer(
            engine,
            self._segmenter(),
            self._options(),
            lambda event: self._emit(*self._to_wire(event)),
            partials=settings.realtime.partials,
            speculative_final=settings.realtime.speculative_final,
            partial_interval_ms=settings.realtime.partial_interval_ms,
            max_buffer_s=settings.realtime.max_buffer_s,
            max_pending=limits.max_pending_commits,
            speech_gate=gate,
        )
        self._emit(server_event("session.created", session=self.config.to_wire()))

    async def next_event(self) -> dict[str, Any]:
        """The next server event to send.

        Raises:
            SlowClient: events piled up unread; the connection should be closed.
        """
        if self._overflowed:
            raise SlowClient(f"more than {_OUTBOX_EVENTS} server events unread")
        return await self._outbox.get()

    @property
    def overflowed(self) -> bool:
        """The client stopped reading: its queue of server events is full."""
        return self._overflowed

    def drained(self) -> bool:
        """Every queued server event has been taken for sending."""
        return self._outbox.empty()

    async def close(self) -> None:
        """Stop the session's decodes; nothing of it keeps running."""
        await self.recognizer.aclose()

    async def settle(self) -> None:
        """Return once every committed utterance has had its final event queued (server drain)."""
        await self.recognizer.settle()

    async def receive_text(self, text: str) -> None:
        """Handle one JSON client event; a bad one gets an ``error`` event and is dropped."""
        event_id = None
        try:
            event, event_id = parse_event(text)
            kind = event.get("type")
            handler = _handlers.get(kind) if isinstance(kind, str) else None
            if handler is None:
                shown = shorten(kind) if isinstance(kind, str) else kind
                raise UnknownEvent(f"Unknown client event type {shown!r}.", param="type")
            handler(self, event)
            await self._feed()
        except VoxrtError as exc:
            self._incoming.clear()
            self._emit(error_event(exc, event_id))

    async def receive_bytes(self, data: bytes) -> None:
        """A binary frame: raw audio in the session's format (voxrt's extension of the protocol)."""
        try:
            if self._admit(len(data)):
                self._incoming.append(self.decoder.push(data))
            await self._feed()
        except VoxrtError as exc:
            self._incoming.clear()
            self._emit(error_event(exc))

    def refuse(self, error: VoxrtError) -> None:
        """Report a problem found outside the protocol handlers (e.g. an oversized message)."""
        self._emit(error_event(error))

    # -- protocol handlers -------------------------------------------------------------------

    @_handles("session.update")
    def _session_update(self, event: dict[str, Any]) -> None:
        try:
            update = SessionIn.model_validate(event.get("session") or {})
        except ValidationError as exc:
            raise validation_error(exc, "session") from None
        self._apply(update, "session.updated")

    @_handles("transcription_session.update")
    def _beta_session_update(self, event: dict[str, Any]) -> None:
        try:
            beta = BetaSessionIn.model_validate(event.get("session") or {})
        except ValidationError as exc:
            raise validation_error(exc, "session") from None
        self._apply(beta.to_ga(), "transcription_session.updated")

    @_handles("input_audio_buffer.append")
    def _append_event(self, event: dict[str, Any]) -> None:
        audio = event.get("audio")
        if not isinstance(audio, str):
            raise InvalidEvent("input_audio_buffer.append needs 'audio', a base64 string.", param="audio")
        if not self._admit(len(audio) * 3 // 4):  # judged before decoding: refusing must be cheap
            return
        try:
            data = base64.b64decode(audio, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidAudio("The audio is not valid base64.", param="audio") from None
        self._incoming.append(self.decoder.push(data))

    @_handles("input_audio_buffer.commit")
    def _commit(self, event: dict[str, Any]) -> None:
        self.recognizer.commit()

    @_handles("input_audio_buffer.clear")
    def _clear(self, event: dict[str, Any]) -> None:
        self.recognizer.clear()
        self._emit(server_event("input_audio_buffer.cleared"))

    # -- internals ---------------------------------------------------------------------------

    def _admit(self, size: int) -> bool:
        """Whether ``size`` bytes of audio are within the session's rate; audio over it is dropped,
        and the client hears of it once a second.

        Raises:
            VoxrtError: refused, and no refusal was reported in the last second.
        """
        audio_format = self.config.format
        if self._rate.take(size / audio_format.bytes_per_sample / audio_format.rate):
            return True
        self._refused += 1
        now = time.monotonic()
        if now - self._refusal_reported_at < _REFUSAL_REPORT_S:
            return False
        self._refusal_reported_at, count, self._refused = now, self._refused, 0
        limits = self.settings.realtime
        raise InvalidRequest(
            f"Audio is arriving faster than {limits.max_audio_rate:g}x real time (beyond a burst of "
            f"{limits.audio_burst_s:g} s); {count} append(s) refused. Send audio at real-time pace.",
            code="audio_rate_exceeded",
        )

    async def _feed(self) -> None:
        """Push the message's audio to the recognizer, yielding to the event loop between slices."""
        while self._incoming:
            audio = self._incoming.pop(0)
            if self.recognizer.manual:  # no VAD to run: pushing is cheap
                self.recognizer.push(audio)
                continue
            for start in range(0, len(audio), _FEED_SAMPLES):
                if start:
                    await asyncio.sleep(0)
                arrived_s = 0.0 if start else len(audio) / SAMPLE_RATE
                self.recognizer.push(audio[start : start + _FEED_SAMPLES], arrived_s)

    def _apply(self, update: SessionIn, reply: str) -> None:
        old = self.config
        self.config = old.apply(update)
        if self.config.format != old.format:
            self.decoder = StreamDecoder(self.config.format)
        if self.config.turn_detection != old.turn_detection:
            self.recognizer.replace_segmenter(self._segmenter())
        self.recognizer.options = self._options()
        self._emit(server_event(reply, session=self.config.to_wire()))

    def _emit(self, *events: dict[str, Any]) -> None:
        for event in events:
            try:
                self._outbox.put_nowait(event)
            except asyncio.QueueFull:
                self._overflowed = True

    def _default_turn_detection(self) -> TurnDetection:
        vad = self.settings.vad
        return TurnDetection(
            threshold=vad.threshold,
            prefix_padding_ms=vad.prefix_padding_ms,
            silence_duration_ms=vad.silence_duration_ms,
        )

    def _segmenter(self) -> Segmenter | None:
        turn = self.config.turn_detection
        if turn is None:
            return None
        options = self.settings.vad.model_copy(
            update={k: v for k, v in turn.model_dump(exclude={"type"}).items() if v is not None}
        )
        return Segmenter(self._vad.stream(), self._vad.frame_samples, options)

    def _options(self) -> TranscriptionOptions:
        return TranscriptionOptions(
            language=self.config.language, prompt=self.config.prompt, timestamps=False
        )

    def _to_wire(self, event: StreamEvent) -> list[dict[str, Any]]:
        match event:
            case SpeechStarted(item_id, start_ms):
                return [
                    server_event(
                        "input_audio_buffer.speech_started", audio_start_ms=start_ms, item_id=item_id
                    )
                ]
            case SpeechStopped(item_id, end_ms):
                return [
                    server_event("input_audio_buffer.speech_stopped", audio_end_ms=end_ms, item_id=item_id)
                ]
            case Committed(item_id):
                previous, self._previous_item = self._previous_item, item_id
                return [
                    server_event("input_audio_buffer.committed", item_id=item_id, previous_item_id=previous)
                ]
            case Partial(item_id, delta):
                return [
                    server_event(
                        "conversation.item.input_audio_transcription.delta",
                        item_id=item_id,
                        content_index=0,
                        delta=delta,
                    )
                ]
            case Completed(item_id, transcript, audio_s, metrics):
                if self.settings.logging.log_transcripts:
                    log.info("item %s: %r", item_id, transcript)
                return [
                    server_event(
                        "conversation.item.input_audio_transcription.completed",
                        item_id=item_id,
                        content_index=0,
                        transcript=transcript,
                        usage={"type": "duration", "seconds": round(audio_s, 3)},
                    ),
                    server_event("voxrt.metrics", item_id=item_id, **_metrics(metrics)),
                ]
            case Failed(item_id, error):
                return [
                    server_event(
                        "conversation.item.input_audio_transcription.failed",
                        item_id=item_id,
                        content_index=0,
                        error=error.body()["error"],
                    )
                ]
        raise AssertionError(f"unhandled stream event {event!r}")


def _has_speech(vad: VADModel, threshold: float, min_speech_ms: int, audio: np.ndarray) -> bool:
    """Whether committed audio holds speech (blocking: run off the event loop)."""
    return any(scan_for_speech(vad, audio, threshold, min_speech_ms))


def _metrics(metrics: Any) -> dict[str, Any]:
    def ms(value: float | None) -> float | None:
        return None if value is None else round(value, 1)

    return {
        "endpoint_ms": ms(metrics.endpoint_ms),
        "asr_final_ms": ms(metrics.asr_final_ms),
        "asr_partial_ms": [round(v, 1) for v in metrics.asr_partial_ms],
        "decode_ms": ms(metrics.decode_ms),
        "audio_ms": ms(metrics.audio_ms),
    }
