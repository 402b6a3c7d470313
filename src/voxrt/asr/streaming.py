"""A streaming recognizer composed of a turn detector and a batch recognizer.

Audio goes in with ``push``; ``on_event`` hears what happened, per utterance:
``SpeechStarted`` -> ``Partial``* -> ``SpeechStopped`` -> ``Committed`` -> ``Completed`` | ``Failed``.
With manual turns (no VAD) only ``commit`` ends an utterance, and it yields
``Committed`` -> ``Completed`` | ``Failed``. Where turns start and end is the
``TurnDetector``'s business (``voxrt.asr.turns``); this module decodes them.

Partials: while speech goes on, the growing utterance is re-decoded, at least
``partial_interval_ms`` of new audio apart and never faster than 1.5x the last
decode took (so partials back off under load; they also queue behind every
final). Only text that two consecutive decodes agree on is sent
(LocalAgreement-2), so deltas rarely need taking back; the final decode of the
whole utterance is the transcript, and where it differs from the deltas it wins.
Audio running more than 2 s ahead of real time (a file sent whole, a flood)
gets neither partials nor speculative finals.

Bounds: at most ``max_pending`` utterances of a session wait for their final
transcript; a manual commit past that is refused, an utterance the VAD ends
past it fails at once. ``aclose`` cancels every decode of the session: queued
ones never start, a running one stops at its next segment. A final queued
behind another of the same session's runs at partial priority: a backlog
waits behind every other session's finals. ``speech_gate`` checks manually
committed audio (off the event loop); without speech, the transcript is empty.

Speculative finalization: once the speech has been followed by the trailing
pad's worth of silence, the final decode starts on exactly the audio the
utterance will carry if it ends there; if speech resumes it is dropped, if the
silence window closes it is the final, already done or nearly so.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace

import numpy as np

from voxrt.asr.agreement import common_prefix
from voxrt.asr.base import ASREngine, Transcription, TranscriptionOptions
from voxrt.asr.stream_events import (
    Committed,
    Completed,
    Failed,
    Partial,
    Resumed,
    Settled,
    SpeechStarted,
    SpeechStopped,
    StreamEvent,
    TurnMetrics,
)
from voxrt.asr.turns import BufferCommitted, TurnDetector, TurnEvent
from voxrt.audio.decode import SAMPLE_RATE
from voxrt.errors import InvalidRequest, VoxrtError
from voxrt.runtime.pool import Priority
from voxrt.vad import SpeechStarted as VadStarted

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
# Audio this far ahead of real time is a file or a flood, not a person speaking: partials and
# speculative finals of it would only take the recognizer from other sessions. The lead drains
# at 1.5x real time.
_AHEAD_S = 2.0
_LEAD_DRAIN = 1.5


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
    settled: bool = False  # its speculation was reported (``Settled``)

    def drop_speculation(self) -> None:
        if self.speculation is not None:
            self.speculation.cancel()
            self.speculation = None


def _ignore(event: object) -> None:
    pass


class StreamingRecognizer:
    """Per-session streaming transcription over a shared batch ``engine``; ``on_event`` is called
    (on the event loop) with each event as it happens."""

    def __init__(
        self,
        engine: ASREngine,
        turns: TurnDetector,
        options: TranscriptionOptions,
        on_event: Callable[[StreamEvent], None],
        *,
        new_item_id: Callable[[], str],
        partials: bool = True,
        speculative_final: bool = True,
        partial_interval_ms: int = 300,
        max_pending: int = 4,
        speech_gate: Callable[[np.ndarray], bool] | None = None,
    ) -> None:
        self.engine = engine
        self.options = options
        self.turns = turns
        turns.listen(self._handle)
        self._partials = partials
        self._speculative = speculative_final
        self._interval_s = self._base_interval_s = partial_interval_ms / 1000
        self._emit = on_event
        self._new_item_id = new_item_id  # ids are the protocol layer's
        self._utterance: _Utterance | None = None
        self._audio_ms = 0.0  # audio pushed so far, on the session's time line
        self._base_ms = 0.0  # where the turn detector's clock started
        self._arrivals: deque[tuple[float, float]] = deque(maxlen=4096)  # (audio ms, wall s)
        self._lead_s = 0.0  # how far the audio has run ahead of real time
        self._partial_task: asyncio.Task[None] | None = None
        self._max_pending = max_pending
        self._gate = speech_gate
        self._last_final: asyncio.Task[None] | None = None  # completions leave in this chain's order
        self._finals: set[asyncio.Task[None]] = set()  # utterances not yet completed or failed
        self._decodes: set[asyncio.Task[Transcription]] = set()  # final and speculative decodes

    @property
    def audio_ms(self) -> float:
        return self._audio_ms

    @property
    def pending(self) -> int:
        """Utterances waiting for their final transcript."""
        return len(self._finals)

    def push(self, audio: np.ndarray, arrived_s: float | None = None) -> None:
        """Take float32 16 kHz audio; ``arrived_s``: how much audio arrived with it (default: its
        length; a caller pushing one message in slices counts the whole message with the first).

        Raises:
            VoxrtError: manual-turn audio over the buffer limit (the audio is refused, not kept).
        """
        # First, so refused audio is not counted; a turn event inside this audio finds no arrival
        # stamp for it yet, and takes the time now, when it arrived.
        self.turns.push(audio)
        self._audio_ms += 1000 * len(audio) / SAMPLE_RATE
        now = time.perf_counter()
        if self._arrivals:
            self._lead_s = max(0.0, self._lead_s - _LEAD_DRAIN * (now - self._arrivals[-1][1]))
        self._lead_s += len(audio) / SAMPLE_RATE if arrived_s is None else arrived_s
        self._arrivals.append((self._audio_ms, now))
        self._maybe_speculate()
        self._maybe_partial()

    def commit(self) -> None:
        """End the current turn now (``input_audio_buffer.commit``).

        Raises:
            VoxrtError: no speech (VAD) or less than 100 ms of audio (manual) to commit, or
                ``max_pending`` utterances are still waiting for their transcripts (manual turns;
                the buffer is kept).
        """
        self.turns.commit()

    def clear(self) -> None:
        """Drop buffered audio and any utterance in progress (``input_audio_buffer.clear``)."""
        self._cancel_partial()
        if self._utterance is not None:
            self._utterance.drop_speculation()
        self._utterance = None
        self.turns.clear()
        self._base_ms = self._audio_ms

    def replace_turns(self, turns: TurnDetector) -> None:
        """New turn detection settings: an utterance in progress is finished first (a manual
        buffer not committed is dropped)."""
        self.turns.finish()
        self.turns = turns
        turns.listen(self._handle)
        self._base_ms = self._audio_ms

    async def settle(self) -> None:
        """Return once every committed utterance has its ``Completed`` or ``Failed`` event."""
        while self._finals:  # completions leave in order: the last one waits for all before it
            await asyncio.wait(self._finals)

    async def aclose(self) -> None:
        """Stop every decode of this session (disconnect): queued ones never start, a running one
        stops at its next segment; returns once none is left running."""
        self.turns.clear()  # no turn ends after this: an end-of-turn question in flight is dropped
        self._cancel_partial()
        if self._utterance is not None:
            self._utterance.drop_speculation()
        tasks = [*self._finals, *self._decodes]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # Nothing is heard or told after this. Letting go of both callbacks also breaks the cycles
        # they close (detector -> recognizer, recognizer -> session), so the session's buffers are
        # freed when it goes, not at the cyclic GC's next full collection.
        self.turns.listen(_ignore)
        self._emit = _ignore

    # -- internals -------------------------------------------------------------------------

    def _handle(self, event: TurnEvent) -> None:
        if isinstance(event, BufferCommitted):
            if len(self._finals) >= self._max_pending:
                raise self._too_many_pending()  # the manual buffer is kept
            item_id = self._new_item_id()
            self._emit(Committed(item_id))
            started_ms = int(self._audio_ms - 1000 * len(event.audio) / SAMPLE_RATE)
            self._start_final(_Utterance(item_id, started_ms), event.audio, gated=True)
        elif isinstance(event, VadStarted):
            start = int(self._base_ms + event.audio_start_ms)
            self._utterance = _Utterance(self._new_item_id(), start)
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
        if not self._speculative or utterance is None:
            return
        if self._lead_s > _AHEAD_S:  # no one is waiting on this audio in real time
            return
        settled = self.turns.settled_audio()
        if settled is None:  # speech goes on (or resumed): any guess at the final is void
            self._void_speculation(utterance)
        elif utterance.speculation is None or len(settled) != utterance.speculated_samples:
            self._void_speculation(utterance)
            self._cancel_partial()  # the speculative final supersedes partials of this utterance
            utterance.speculated_samples = len(settled)
            utterance.speculation = self._decode(settled, gated=False)
            utterance.speculation.add_done_callback(functools.partial(self._speculated, utterance))

    def _void_speculation(self, utterance: _Utterance) -> None:
        utterance.drop_speculation()
        if utterance.settled:
            utterance.settled = False
            self._emit(Resumed(utterance.item_id))

    def _speculated(self, utterance: _Utterance, task: asyncio.Task[Transcription]) -> None:
        """A speculative final finished: while it is still the guess, say what it heard."""
        if utterance.speculation is not task or self._utterance is not utterance or task.cancelled():
            return
        if task.exception() is None:
            utterance.settled = True
            self._emit(Settled(utterance.item_id, task.result().text))

    def _arrival(self, audio_ms: float) -> float:
        """Wall time at which the audio at ``audio_ms`` had arrived."""
        for end_ms, wall in self._arrivals:
            if end_ms >= audio_ms:
                return wall
        return time.perf_counter()

    def _too_many_pending(self) -> VoxrtError:
        return InvalidRequest(
            f"{self._max_pending} utterances of this session are still waiting for their transcripts; "
            "wait for one before committing another.",
            code="too_many_pending_commits",
        )

    def _start_final(
        self,
        utterance: _Utterance,
        audio: np.ndarray,
        end_ms: float | None = None,
        endpoint_ms: float | None = None,
        gated: bool = False,
    ) -> None:
        if len(self._finals) >= self._max_pending:  # an utterance the VAD ended: not queued
            utterance.drop_speculation()
            self._chain(self._fail(Failed(utterance.item_id, self._too_many_pending()), self._last_final))
            return
        if utterance.speculation is not None and utterance.speculated_samples == len(audio):
            decode, utterance.speculation = utterance.speculation, None  # the guess was right
        else:
            utterance.drop_speculation()
            decode = self._decode(audio, gated)
        self._chain(self._final(utterance, decode, end_ms, endpoint_ms, self._last_final))

    def _chain(self, completion: Awaitable[None]) -> None:
        task = asyncio.ensure_future(completion)
        self._last_final = task
        self._finals.add(task)
        task.add_done_callback(self._finals.discard)

    def _decode(self, audio: np.ndarray, gated: bool) -> asyncio.Task[Transcription]:
        # Behind a final of its own, a session's next one waits with the partials: a session that
        # sends speech faster than it is decoded yields to the others instead of queueing ahead.
        priority = Priority.PARTIAL if self._finals else Priority.FINAL
        task = asyncio.create_task(self._transcribe(audio, gated, priority))
        self._decodes.add(task)
        task.add_done_callback(self._decodes.discard)
        return task

    async def _transcribe(self, audio: np.ndarray, gated: bool, priority: Priority) -> Transcription:
        if gated and self._gate is not None and not await asyncio.to_thread(self._gate, audio):
            return Transcription(
                text="",
                language=None,
                duration=len(audio) / SAMPLE_RATE,
                segments=(),
                options=self.options,
                processing_s=0.0,
            )
        return await self.engine.transcribe(audio, self.options, priority=priority)

    async def _fail(self, outcome: Failed, previous: asyncio.Task[None] | None) -> None:
        await _after(previous)
        self._emit(outcome)

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
        await _after(previous)  # completions leave in the order the utterances ended
        self._emit(outcome)

    def _maybe_partial(self) -> None:
        utterance = self._utterance
        if not self._partials or utterance is None or utterance.speculation:
            return
        if self._lead_s > _AHEAD_S:
            return
        if self._partial_task is not None and not self._partial_task.done():
            return
        audio = self.turns.utterance_audio()
        if audio is None:
            return
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
        agreed = common_prefix(utterance.hypothesis, words)
        utterance.hypothesis = words
        stable = len(utterance.stable)
        if len(agreed) <= stable or common_prefix(utterance.stable, agreed) != agreed[:stable]:
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


async def _after(previous: asyncio.Task[None] | None) -> None:
    """Wait until ``previous`` is over, however it ends; a cancellation of the caller still ends it."""
    if previous is not None:
        await asyncio.wait([previous])
