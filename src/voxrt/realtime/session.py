"""One realtime transcription session: client events in, server events out.

Handlers are registered per client event type, so this file reads like the
protocol. The session owns its state only (format decoder, segmenter, turn
bookkeeping); models are shared and passed in.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
from collections.abc import Callable
from typing import Any

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
from voxrt.audio.pcm import StreamDecoder
from voxrt.config import Settings
from voxrt.errors import InvalidAudio, VoxrtError
from voxrt.realtime.events import (
    BetaSessionIn,
    InvalidEvent,
    InvalidJson,
    SessionConfig,
    SessionIn,
    TurnDetection,
    UnknownEvent,
    error_event,
    server_event,
    validation_error,
)
from voxrt.vad import Segmenter, VADModel

__all__ = ["TranscriptionSession"]

log = logging.getLogger(__name__)

Handler = Callable[["TranscriptionSession", dict[str, Any]], None]
_handlers: dict[str, Handler] = {}
_OUTBOX_EVENTS = 1000  # events queued for a client that is not reading before it is dropped


def _handles(event_type: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        _handlers[event_type] = fn
        return fn

    return register


class SlowClient(Exception):
    """The client stopped reading and its queue of server events is full."""


class TranscriptionSession:
    """State and protocol of one ``/v1/realtime?intent=transcription`` connection.

    Client events go in through ``receive_text`` / ``receive_bytes``; server events
    come out, in order, from ``next_event``.
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
        self.recognizer = StreamingRecognizer(
            engine,
            self._segmenter(),
            self._options(),
            lambda event: self._emit(*self._to_wire(event)),
            partials=settings.realtime.partials,
            speculative_final=settings.realtime.speculative_final,
            partial_interval_ms=settings.realtime.partial_interval_ms,
            max_buffer_s=settings.realtime.max_buffer_s,
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

    def receive_text(self, text: str) -> None:
        """Handle one JSON client event; a bad one gets an ``error`` event and is dropped."""
        event_id = None
        try:
            try:
                event = json.loads(text)
            except json.JSONDecodeError as exc:
                raise InvalidJson(f"The message is not valid JSON: {exc.msg}.") from None
            if not isinstance(event, dict):
                raise InvalidJson("A client event must be a JSON object.")
            event_id = event.get("event_id") if isinstance(event.get("event_id"), str) else None
            kind = event.get("type")
            handler = _handlers.get(kind) if isinstance(kind, str) else None
            if handler is None:
                raise UnknownEvent(f"Unknown client event type {kind!r}.", param="type")
            handler(self, event)
        except VoxrtError as exc:
            self._emit(error_event(exc, event_id))

    def receive_bytes(self, data: bytes) -> None:
        """A binary frame: raw audio in the session's format (voxrt's extension of the protocol)."""
        try:
            self._append(data)
        except VoxrtError as exc:
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
        try:
            data = base64.b64decode(audio, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidAudio("The audio is not valid base64.", param="audio") from None
        self._append(data)

    @_handles("input_audio_buffer.commit")
    def _commit(self, event: dict[str, Any]) -> None:
        self.recognizer.commit()

    @_handles("input_audio_buffer.clear")
    def _clear(self, event: dict[str, Any]) -> None:
        self.recognizer.clear()
        self._emit(server_event("input_audio_buffer.cleared"))

    # -- internals ---------------------------------------------------------------------------

    def _append(self, data: bytes) -> None:
        self.recognizer.push(self.decoder.push(data))

    def _apply(self, update: SessionIn, reply: str) -> None:
        old = self.config
        new = old.apply(update)
        self.recognizer.engine.check_options(TranscriptionOptions(language=new.language))
        self.config = new
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
            language=self.config.language, prompt=self.config.prompt, timestamps=False, realtime=True
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
