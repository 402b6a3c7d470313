"""A streaming recognizer composed of a VAD segmenter and a batch recognizer.

Audio goes in with ``push``; ``on_event`` hears what happened, per utterance:
``SpeechStarted`` -> ``Partial``* -> ``SpeechStopped`` -> ``Committed`` -> ``Completed`` | ``Failed``.
Without a segmenter (manual turns) only ``commit`` ends an utterance, and it
yields ``Committed`` -> ``Completed`` | ``Failed``.

Partials: while speech goes on, the growing utterance is re-decoded, at least
``partial_interval_ms`` of new audio apart and never faster than 1.5x the last
decode took (so partials back off under load; they also queue behind every
final). Only text that two consecutive decodes agree on is sent
(LocalAgreement-2), so deltas rarely need taking back; the final decode of the
whole utterance is the transcript, and where it differs from the deltas it wins.

Speculative finalization: once the speech has been followed by the trailing
pad's worth of silence, the final decode starts on exactly the audio the
utterance will carry if it ends there; if speech resumes it is dropped, if the
silence window closes it is the final, already done or nearly so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from voxrt.asr.base import ASREngine, Transcription, TranscriptionOptions
from voxrt.audio.decode import SAMPLE_RATE
from voxrt.errors import InvalidRequest, VoxrtError
from voxrt.runtime.pool import Priority
from voxrt.vad import Segmenter
from voxrt.vad import SpeechStarted as VadStarted
from voxrt.vad import SpeechStopped as VadStopped

__all__ = [
    "Committed",
    "Completed",
    "Failed",
    "Partial",
    "SpeechStarted",
    "SpeechStopped",
    "StreamEvent",
    "StreamingRecognizer",
    "TurnMetrics",
]

log = logging.getLogger(__name__)

_MIN_PARTIAL_AUDIO_S = 0.6  # shorter audio gives Whisper too little to go on
_MIN_COMMIT_MS = 100  # as OpenAI: a shorter buffer is refused


@dataclass(frozen=True)
class SpeechStarted:
    item_id: str
    audio_start_ms: int


@dataclass(frozen=True)
class Partial:
    item_id: str
    delta: str


@dataclass(frozen=True)
class SpeechStopped:
    item_id: str
    audio_end_ms: int


@dataclass(frozen=True)
class Committed:
    item_id: str


@dataclass(frozen=True)
class TurnMetrics:
    """Latencies of one utterance, in ms (names as in DESIGN.md)."""

    endpoint_ms: float | None
    asr_final_ms: float | None
    asr_partial_ms: tuple[float, ...]
    decode_ms: float
    audio_ms: float


@dataclass(frozen=True)
class Completed:
    item_id: str
    transcript: str
    audio_s: float
    metrics: TurnMetrics


@dataclass(frozen=True)
class Failed:
    item_id: str
    error: VoxrtError


StreamEvent = SpeechStarted | Partial | SpeechStopped | Committed | Completed | Failed


def _new_item_id() -> str:
    return "item_" + secrets.token_hex(10)


@dataclass
class _Utterance:
    item_id: str
    started_ms: int
    partial_ms: list[float] = field(default_factory=list)
    hypothesis: list[str] = field(default_factory=list)
    stable: list[str] = field(default_factory=list)
    decoded_samples: int = 0
    speculation: asyncio.Task[Transcription] | None = None
    speculated_samples: int = 0

    def drop_speculation(self) -> None:
        if self.speculation is not None:
            self.speculation.cancel()
            self.speculation = None


class StreamingRecognizer:
    """Per-session streaming transcription over a shared batch ``engine``; ``on_event`` is called
    (on the event loop) with each event as it happens."""

    def __init__(
        self,
        engine: ASREngine,
        segmenter: Segmenter | None,
        options: TranscriptionOptions,
        on_event: Callable[[StreamEvent], None],
        *,
        partials: bool = True,
        speculative_final: bool = True,
        partial_interval_ms: int = 300,
        max_buffer_s: float = 60.0,
    ) -> None:
        self.engine = engine
        self.options = options
        self._segmenter = segmenter
        self._partials = partials
        self._speculative = speculative_final
        self._interval_s = self._base_interval_s = partial_interval_ms / 1000
        self._max_buffer = int(max_buffer_s * SAMPLE_RATE)
        self._emit = on_event
        self._utterance: _Utterance | None = None
        self._manual: list[np.ndarray] = []
        self._manual_samples = 0
        self._audio_ms = 0.0  # audio pushed so far, on the session's time line
        self._base_ms = 0.0  # where the current segmenter's clock started
        self._arrivals: deque[tuple[float, float]] = deque(maxlen=4096)  # (audio ms, wall s)
        self._partial_task: asyncio.Task[None] | None = None
        self._finals: asyncio.Task[None] | None = None

    @property
    def audio_ms(self) -> float:
        return self._audio_ms

    def push(self, audio: np.ndarray) -> None:
        """Take float32 16 kHz audio.

        Raises:
            VoxrtError: manual-turn audio over the buffer limit (the audio is refused, not kept).
        """
        if self._segmenter is None:
            if self._manual_samples + len(audio) > self._max_buffer:
                raise InvalidRequest(
                    f"The input audio buffer holds more than {self._max_buffer / SAMPLE_RATE:g} s; "
                    "commit or clear it.",
                    code="input_audio_buffer_full",
                )
            self._manual.append(audio)
            self._manual_samples += len(audio)
        self._audio_ms += 1000 * len(audio) / SAMPLE_RATE
        self._arrivals.append((self._audio_ms, time.perf_counter()))
        if self._segmenter is not None:
            self._handle(self._segmenter.push(audio))
            self._maybe_speculate()
            self._maybe_partial()

    def commit(self) -> None:
        """End the current turn now (``input_audio_buffer.commit``).

        Raises:
            VoxrtError: less than 100 ms of audio to commit.
        """
        if self._segmenter is not None:
            if not self._segmenter.in_speech:
                raise InvalidRequest(
                    "There is no speech in the buffer to commit.", code="input_audio_buffer_commit_empty"
                )
            self._handle(self._segmenter.flush())
            return
        if self._manual_samples < _MIN_COMMIT_MS * SAMPLE_RATE // 1000:
            raise InvalidRequest(
                f"The buffer holds less than {_MIN_COMMIT_MS} ms of audio; nothing to commit.",
                code="input_audio_buffer_commit_empty",
            )
        audio = np.concatenate(self._manual)
        self._manual, self._manual_samples = [], 0
        item_id = _new_item_id()
        self._emit(Committed(item_id))
        self._start_final(_Utterance(item_id, int(self._audio_ms - 1000 * len(audio) / SAMPLE_RATE)), audio)

    def clear(self) -> None:
        """Drop buffered audio and any utterance in progress (``input_audio_buffer.clear``)."""
        self._manual, self._manual_samples = [], 0
        self._cancel_partial()
        if self._utterance is not None:
            self._utterance.drop_speculation()
        self._utterance = None
        if self._segmenter is not None:
            self._segmenter.reset()
            self._base_ms = self._audio_ms

    def replace_segmenter(self, segmenter: Segmenter | None) -> None:
        """New turn detection settings: an utterance in progress is finished first."""
        if self._segmenter is not None:
            self._handle(self._segmenter.flush())
        elif self._manual_samples:
            self._manual, self._manual_samples = [], 0
        self._segmenter = segmenter
        self._base_ms = self._audio_ms

    async def settle(self) -> None:
        """Return once every committed utterance has its ``Completed`` or ``Failed`` event."""
        while self._finals is not None and not self._finals.done():
            await asyncio.wait({self._finals})

    async def aclose(self) -> None:
        """Stop every decode of this session (disconnect): nothing is left running."""
        self._cancel_partial()
        if self._utterance is not None:
            self._utterance.drop_speculation()
        if self._finals is not None:
            self._finals.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._finals

    # -- internals -------------------------------------------------------------------------

    def _handle(self, events: list[VadStarted | VadStopped]) -> None:
        for event in events:
            if isinstance(event, VadStarted):
                start = int(self._base_ms + event.audio_start_ms)
                self._utterance = _Utterance(_new_item_id(), start)
                self._interval_s = self._base_interval_s
                self._emit(SpeechStarted(self._utterance.item_id, start))
            elif self._utterance is not None:
                utterance, self._utterance = self._utterance, None
                self._cancel_partial()
                end_ms = self._base_ms + event.audio_end_ms
                self._emit(SpeechStopped(utterance.item_id, int(end_ms)))
                self._emit(Committed(utterance.item_id))
                endpoint_ms = 1000 * (time.perf_counter() - self._arrival(end_ms))
                self._start_final(utterance, event.audio, end_ms, endpoint_ms)

    def _maybe_speculate(self) -> None:
        utterance = self._utterance
        if not self._speculative or utterance is None or self._segmenter is None:
            return
        settled = self._segmenter.settled_audio()
        if settled is None:  # speech goes on (or resumed): any guess at the final is void
            utterance.drop_speculation()
        elif utterance.speculation is None or len(settled) != utterance.speculated_samples:
            utterance.drop_speculation()
            self._cancel_partial()  # the speculative final supersedes partials of this utterance
            utterance.speculated_samples = len(settled)
            utterance.speculation = asyncio.create_task(
                self.engine.transcribe(settled, self.options, priority=Priority.FINAL)
            )

    def _arrival(self, audio_ms: float) -> float:
        """Wall time at which the audio at ``audio_ms`` had arrived."""
        for end_ms, wall in self._arrivals:
            if end_ms >= audio_ms:
                return wall
        return time.perf_counter()

    def _start_final(
        self,
        utterance: _Utterance,
        audio: np.ndarray,
        end_ms: float | None = None,
        endpoint_ms: float | None = None,
    ) -> None:
        if utterance.speculation is not None and utterance.speculated_samples == len(audio):
            decode, utterance.speculation = utterance.speculation, None  # the guess was right
        else:
            utterance.drop_speculation()
            decode = asyncio.create_task(self.engine.transcribe(audio, self.options, priority=Priority.FINAL))
        previous = self._finals
        self._finals = asyncio.create_task(self._final(utterance, decode, end_ms, endpoint_ms, previous))

    async def _final(
        self,
        utterance: _Utterance,
        decode: asyncio.Task[Transcription],
        end_ms: float | None,
        endpoint_ms: float | None,
        previous: asyncio.Task[None] | None,
    ) -> None:
        try:
            result = await decode
        except VoxrtError as exc:
            outcome: Completed | Failed = Failed(utterance.item_id, exc)
        except Exception as exc:
            log.exception("final decode failed")
            outcome = Failed(
                utterance.item_id, VoxrtError(f"The transcription failed: {type(exc).__name__}.")
            )
        else:
            final_ms = 1000 * (time.perf_counter() - self._arrival(end_ms)) if end_ms is not None else None
            metrics = TurnMetrics(
                endpoint_ms=endpoint_ms,
                asr_final_ms=final_ms,
                asr_partial_ms=tuple(utterance.partial_ms),
                decode_ms=1000 * result.processing_s,
                audio_ms=1000 * result.duration,
            )
            outcome = Completed(utterance.item_id, result.text, result.duration, metrics)
        if previous is not None:  # completions leave in the order the utterances ended
            with contextlib.suppress(asyncio.CancelledError):
                await previous
        self._emit(outcome)

    def _maybe_partial(self) -> None:
        utterance = self._utterance
        if not self._partials or utterance is None or self._segmenter is None or utterance.speculation:
            return
        if self._partial_task is not None and not self._partial_task.done():
            return
        audio = self._segmenter.utterance_audio()
        new_s = (len(audio) - utterance.decoded_samples) / SAMPLE_RATE
        if len(audio) < _MIN_PARTIAL_AUDIO_S * SAMPLE_RATE or new_s < self._interval_s:
            return
        utterance.decoded_samples = len(audio)
        self._partial_task = asyncio.create_task(self._partial(utterance, audio, self._audio_ms))

    async def _partial(self, utterance: _Utterance, audio: np.ndarray, covered_ms: float) -> None:
        started = time.perf_counter()
        try:
            draft = replace(self.options, draft=True)
            result = await self.engine.transcribe(audio, draft, priority=Priority.PARTIAL)
        except Exception:
            log.debug("partial decode failed", exc_info=True)
            return
        self._interval_s = max(self._base_interval_s, 1.5 * (time.perf_counter() - started))
        if self._utterance is not utterance:
            return  # the utterance ended while this decode ran: the final takes over
        words = result.text.split()
        agreed = _common_prefix(utterance.hypothesis, words)
        utterance.hypothesis = words
        stable = len(utterance.stable)
        if len(agreed) <= stable or _common_prefix(utterance.stable, agreed) != agreed[:stable]:
            return  # nothing new, or the decodes now disagree with text already sent
        new = agreed[stable:]
        delta = (" " if utterance.stable else "") + " ".join(new)
        utterance.stable = agreed
        utterance.partial_ms.append(1000 * (time.perf_counter() - self._arrival(covered_ms)))
        self._emit(Partial(utterance.item_id, delta))

    def _cancel_partial(self) -> None:
        if self._partial_task is not None:
            self._partial_task.cancel()
            self._partial_task = None


def _common_prefix(a: list[str], b: list[str]) -> list[str]:
    """The words two hypotheses share from the start (compared without case or punctuation);
    the words of ``b`` are kept, since the newer decode spells them best."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if _bare(x) != _bare(y):
            break
        n += 1
    return b[:n]


def _bare(word: str) -> str:
    return "".join(ch for ch in word.lower() if ch.isalnum())
