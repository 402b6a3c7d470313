"""The input side every session kind shares: the audio format decoder, the rate limit, turn
detection and the streaming recognizer, the ``input_audio_buffer.*`` handlers, and the wire
events of each utterance (speech_started ... transcription completed).

Turn detection, as the session's ``turn_detection`` asks: none (manual commits), ``server_vad``
(a turn ends after a silence) or ``semantic_vad`` (the end-of-turn model decides, within the
eagerness's longest wait)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from voxrt.asr import ASREngine, TranscriptionOptions
from voxrt.asr.stream_events import Resumed, Settled
from voxrt.asr.streaming import (
    Committed,
    Completed,
    Failed,
    Partial,
    SpeechStarted,
    SpeechStopped,
    StreamEvent,
    StreamingRecognizer,
    TurnMetrics,
)
from voxrt.asr.turns import ManualTurns, SemanticTurns, TurnDetector, VadTurns
from voxrt.audio.decode import SAMPLE_RATE
from voxrt.audio.pcm import AudioFormat, StreamDecoder
from voxrt.config import Settings, VadSettings
from voxrt.errors import InvalidAudio, InvalidRequest
from voxrt.realtime.events import InvalidEvent, TurnDetection, server_event
from voxrt.realtime.limits import RateLimit
from voxrt.realtime.protocol import EventRouter, RealtimeSession, new_id
from voxrt.vad import Segmenter, VADModel
from voxrt.vad.gate import scan_for_speech
from voxrt.vad.smart_turn import INSTALL_HINT, EndOfTurnModel

__all__ = ["InputAudio", "InputSession", "input_router"]

log = logging.getLogger(__name__)

# Audio goes through the VAD at most this much per turn of the event loop, so one large append
# cannot hold up every other connection (Silero: ~3 ms for 0.5 s).
_FEED_SAMPLES = SAMPLE_RATE // 2
_REFUSAL_REPORT_S = 1.0  # refused appends earn at most one error event per second
# semantic_vad: the longest silence before a turn the model does not call finished is closed
# anyway, per eagerness (OpenAI's figures; auto is medium).
_MAX_WAIT_MS = {"low": 8000, "medium": 4000, "high": 2000, "auto": 4000}


class InputAudio:
    """One session's incoming audio: format -> rate limit -> turn detection -> recognizer -> events.

    ``emit`` receives the wire events of each utterance, in order; then ``on_event``, when given,
    hears the recognizer's event they came from. ``place_item`` puts a committed item in the
    conversation and returns the id of the item before it (by default: the previous commit).
    ``end_of_turn`` is the model semantic_vad asks (without one, semantic_vad is refused).
    """

    def __init__(
        self,
        settings: Settings,
        engine: ASREngine,
        vad: VADModel,
        audio_format: AudioFormat,
        turn_detection: TurnDetection | None,
        options: TranscriptionOptions,
        emit: Callable[..., None],
        *,
        on_event: Callable[[StreamEvent], None] | None = None,
        place_item: Callable[[str], str | None] | None = None,
        end_of_turn: EndOfTurnModel | None = None,
    ) -> None:
        self.settings = settings
        self.format = audio_format
        self.decoder = StreamDecoder(audio_format)
        self._vad = vad
        self._engine = engine
        self._end_of_turn = end_of_turn
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
        self._turn_detection = turn_detection
        self.recognizer = StreamingRecognizer(
            engine,
            self._detector(turn_detection),
            options,
            _WireEvents(emit, settings.logging.log_transcripts, on_event, place_item),
            new_item_id=lambda: new_id("item"),
            partials=limits.partials,
            speculative_final=limits.speculative_final,
            partial_interval_ms=limits.partial_interval_ms,
            max_pending=limits.max_pending_commits,
            speech_gate=gate,
        )

    def configure(
        self, audio_format: AudioFormat, turn_detection: TurnDetection | None, options: TranscriptionOptions
    ) -> None:
        """Apply a ``session.update``: a new format restarts the decoder, new turn detection the
        turn detector (an utterance in progress is finished first).

        Raises:
            VoxrtError: turn detection this server cannot do (nothing is changed).
        """
        if turn_detection != self._turn_detection:
            self.recognizer.replace_turns(self._detector(turn_detection))
            self._turn_detection = turn_detection
        if audio_format != self.format:
            self.format = audio_format
            self.decoder = StreamDecoder(audio_format)
        self.recognizer.options = options

    def append_base64(self, audio: Any) -> None:
        """``input_audio_buffer.append``'s audio, refused past the rate before it is decoded."""
        if not isinstance(audio, str):
            raise InvalidEvent("input_audio_buffer.append needs 'audio', a base64 string.", param="audio")
        if not self._admit(len(audio) * 3 // 4):  # judged before decoding: refusing must be cheap
            return
        try:
            data = base64.b64decode(audio, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidAudio("The audio is not valid base64.", param="audio") from None
        self._incoming.append(self.decoder.push(data))

    def append_bytes(self, data: bytes) -> None:
        """Raw audio from a binary frame, in the session's format."""
        if self._admit(len(data)):
            self._incoming.append(self.decoder.push(data))

    async def feed(self) -> None:
        """Push the message's audio to the recognizer, yielding to the event loop between slices."""
        while self._incoming:
            audio = self._incoming.pop(0)
            if not self.recognizer.turns.runs_vad:  # pushing is cheap
                self.recognizer.push(audio)
                continue
            for start in range(0, len(audio), _FEED_SAMPLES):
                if start:
                    await asyncio.sleep(0)
                arrived_s = 0.0 if start else len(audio) / SAMPLE_RATE
                self.recognizer.push(audio[start : start + _FEED_SAMPLES], arrived_s)

    def drop_incoming(self) -> None:
        """Forget the audio of a message that failed."""
        self._incoming.clear()

    def _admit(self, size: int) -> bool:
        """Whether ``size`` bytes of audio are within the session's rate; audio over it is dropped,
        and the client hears of it once a second.

        Raises:
            VoxrtError: refused, and no refusal was reported in the last second.
        """
        if self._rate.take(size / self.format.bytes_per_sample / self.format.rate):
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

    def _detector(self, turn: TurnDetection | None) -> TurnDetector:
        """The turn detector ``turn`` asks for.

        Raises:
            VoxrtError: semantic_vad without an end-of-turn model.
        """
        if turn is None:
            return ManualTurns(self.settings.realtime.max_buffer_s)
        if turn.type == "server_vad":
            given = turn.model_dump(include={"threshold", "prefix_padding_ms", "silence_duration_ms"})
            options: VadSettings = self.settings.vad.model_copy(
                update={k: v for k, v in given.items() if v is not None}
            )
            return VadTurns(Segmenter(self._vad.stream(), self._vad.frame_samples, options))
        if self._end_of_turn is None:
            raise InvalidRequest(
                f"semantic_vad is not available: this server has no end-of-turn model ({INSTALL_HINT}).",
                param="session.audio.input.turn_detection.type",
            )
        max_wait_ms = _MAX_WAIT_MS[turn.eagerness]
        segmenter = Segmenter(
            self._vad.stream(), self._vad.frame_samples, self.settings.vad, max_silence_ms=max_wait_ms
        )
        check_ms = self.settings.vad.semantic_check_ms
        return SemanticTurns(segmenter, self._end_of_turn, self._engine.pool, check_ms=check_ms)


class _WireEvents:
    """The recognizer's events as wire events, handed to ``emit``. Apart from ``InputAudio`` so that
    the recognizer holds nothing that leads back to its session: with no reference cycle, a closed
    session's buffers are freed at once, not at the cyclic GC's next full collection."""

    def __init__(
        self,
        emit: Callable[..., None],
        log_transcripts: bool,
        on_event: Callable[[StreamEvent], None] | None,
        place_item: Callable[[str], str | None] | None,
    ) -> None:
        self._emit = emit
        self._log_transcripts = log_transcripts
        self._on_event = on_event
        # None: after the previous commit (looked up when used: a bound method of this object kept
        # here would make it a reference cycle)
        self._place_item = place_item
        self._previous_item: str | None = None

    def __call__(self, event: StreamEvent) -> None:
        self._emit(*self._to_wire(event))
        if self._on_event is not None:
            self._on_event(event)

    def _after_previous(self, item_id: str) -> str | None:
        previous, self._previous_item = self._previous_item, item_id
        return previous

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
                place = self._place_item or self._after_previous
                previous = place(item_id)
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
                if self._log_transcripts:
                    log.info("item %s: %r", item_id, transcript, extra={"item_id": item_id})
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
            case Settled() | Resumed():
                return []  # for the session's own use, not the client's
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


class InputSession(RealtimeSession):
    """A session kind that takes audio in: the base's hooks go to its ``InputAudio``."""

    input: InputAudio

    def receive_audio(self, data: bytes) -> None:
        self.input.append_bytes(data)

    async def after_event(self) -> None:
        await self.input.feed()

    def event_failed(self) -> None:
        self.input.drop_incoming()

    async def settle(self) -> None:
        await self.input.recognizer.settle()

    async def close(self) -> None:
        await self.input.recognizer.aclose()


class _WithInput(Protocol):
    input: InputAudio

    def emit(self, *events: dict[str, Any]) -> None: ...


input_router: EventRouter[_WithInput] = EventRouter()


@input_router.on("input_audio_buffer.append")
def _append(session: _WithInput, event: dict[str, Any]) -> None:
    session.input.append_base64(event.get("audio"))


@input_router.on("input_audio_buffer.commit")
def _commit(session: _WithInput, event: dict[str, Any]) -> None:
    session.input.recognizer.commit()


@input_router.on("input_audio_buffer.clear")
def _clear(session: _WithInput, event: dict[str, Any]) -> None:
    session.input.recognizer.clear()
    session.emit(server_event("input_audio_buffer.cleared"))


def _has_speech(vad: VADModel, threshold: float, min_speech_ms: int, audio: np.ndarray) -> bool:
    """Whether committed audio holds speech (blocking: run off the event loop)."""
    return any(scan_for_speech(vad, audio, threshold, min_speech_ms))


def _metrics(metrics: TurnMetrics) -> dict[str, Any]:
    def ms(value: float | None) -> float | None:
        return None if value is None else round(value, 1)

    return {
        "endpoint_ms": ms(metrics.endpoint_ms),
        "asr_final_ms": ms(metrics.asr_final_ms),
        "asr_partial_ms": [round(v, 1) for v in metrics.asr_partial_ms],
        "decode_ms": ms(metrics.decode_ms),
        "audio_ms": ms(metrics.audio_ms),
    }
