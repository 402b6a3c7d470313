"""Turn detection: where a person's turn starts and ends, for the streaming recognizer.

A ``TurnDetector`` takes one session's audio (``push``) and the client's ``commit`` / ``clear``,
and reports turn boundaries to its listener:

* ``ManualTurns`` (no VAD): the client decides; ``commit`` hands over the whole buffer
  (``BufferCommitted``).
* ``VadTurns`` (``server_vad``): the segmenter's ``SpeechStarted`` / ``SpeechStopped``; a turn
  ends after ``silence_duration_ms`` of silence.
* ``SemanticTurns`` (``semantic_vad``): the segmenter finds speech, an end-of-turn model decides
  when it is over. Once the speech has been followed by ``check_ms`` of silence the model is
  asked (in the worker pool) whether the turn sounds finished, and again each time the silence
  doubles; the first "finished" ends the turn as soon as it comes back, while speech resuming
  drops any question in flight. A turn the model never calls finished ends after
  ``max_wait_ms`` of silence.

A listener may refuse a ``BufferCommitted`` by raising: the buffer is then kept.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np

from voxrt.audio.decode import SAMPLE_RATE
from voxrt.errors import InvalidRequest
from voxrt.runtime import Priority, PriorityPool
from voxrt.vad import Segmenter, SpeechStarted, SpeechStopped
from voxrt.vad.smart_turn import EndOfTurnModel

__all__ = [
    "BufferCommitted",
    "ManualTurns",
    "SemanticTurns",
    "TurnDetector",
    "TurnEvent",
    "VadTurns",
]

log = logging.getLogger(__name__)

_MIN_COMMIT_MS = 100  # as OpenAI: a shorter buffer is refused


@dataclass(frozen=True)
class BufferCommitted:
    """The client committed the buffer (manual turns); ``audio`` is all of it (float32, 16 kHz)."""

    audio: np.ndarray = field(repr=False, compare=False)


TurnEvent = SpeechStarted | SpeechStopped | BufferCommitted


def _ignore(event: TurnEvent) -> None:
    pass


class TurnDetector(ABC):
    """One session's turn detection; events reach the callable given to ``listen``, on the
    event loop (during ``push`` / ``commit``, or when a decision made off the loop comes back).
    Times in events are ms of audio since the detector was created or last cleared."""

    runs_vad = True  # whether each push runs a model (callers feed large appends in slices)

    def __init__(self) -> None:
        self._listener: Callable[[TurnEvent], None] = _ignore

    def listen(self, listener: Callable[[TurnEvent], None]) -> None:
        self._listener = listener

    @abstractmethod
    def push(self, audio: np.ndarray) -> None:
        """Take float32 16 kHz audio."""

    @abstractmethod
    def commit(self) -> None:
        """End the turn now (``input_audio_buffer.commit``).

        Raises:
            VoxrtError: nothing to commit, or the listener refused the commit.
        """

    @abstractmethod
    def clear(self) -> None:
        """Drop buffered audio and any turn in progress, without an event; times restart at 0."""

    @abstractmethod
    def finish(self) -> None:
        """This detector is being replaced: a turn in progress ends now (or is dropped, for a
        manual buffer)."""

    def utterance_audio(self) -> np.ndarray | None:
        """The turn in progress so far, for partial transcripts; ``None`` when turns are manual."""
        return None

    def settled_audio(self) -> np.ndarray | None:
        """The turn as it would end if it ended now, once the speech has been followed by the
        trailing pad of silence (a speculative final can start on it); else ``None``."""
        return None

    def _emit(self, events: list[SpeechStarted | SpeechStopped]) -> None:
        for event in events:
            self._listener(event)


class ManualTurns(TurnDetector):
    """No turn detection: audio is buffered until the client commits or clears it."""

    runs_vad = False

    def __init__(self, max_buffer_s: float) -> None:
        super().__init__()
        self._max = int(max_buffer_s * SAMPLE_RATE)
        self._chunks: list[np.ndarray] = []
        self._samples = 0

    def push(self, audio: np.ndarray) -> None:
        """Buffer ``audio``.

        Raises:
            VoxrtError: the buffer would hold more than ``max_buffer_s`` (the audio is refused).
        """
        if self._samples + len(audio) > self._max:
            raise InvalidRequest(
                f"The input audio buffer holds more than {self._max / SAMPLE_RATE:g} s; commit or clear it.",
                code="input_audio_buffer_full",
            )
        self._chunks.append(audio)
        self._samples += len(audio)

    def commit(self) -> None:
        if self._samples < _MIN_COMMIT_MS * SAMPLE_RATE // 1000:
            raise InvalidRequest(
                f"The buffer holds less than {_MIN_COMMIT_MS} ms of audio; nothing to commit.",
                code="input_audio_buffer_commit_empty",
            )
        self._listener(BufferCommitted(np.concatenate(self._chunks)))
        self.clear()  # only once the listener took it: a refused commit keeps the buffer

    def clear(self) -> None:
        self._chunks, self._samples = [], 0

    def finish(self) -> None:
        self.clear()


class VadTurns(TurnDetector):
    """``server_vad``: the segmenter's utterances are the turns."""

    def __init__(self, segmenter: Segmenter) -> None:
        super().__init__()
        self.segmenter = segmenter

    def push(self, audio: np.ndarray) -> None:
        self._emit(self.segmenter.push(audio))

    def commit(self) -> None:
        if not self.segmenter.in_speech:
            raise InvalidRequest(
                "There is no speech in the buffer to commit.", code="input_audio_buffer_commit_empty"
            )
        self._emit(self.segmenter.flush())

    def clear(self) -> None:
        self.segmenter.reset()

    def finish(self) -> None:
        self._emit(self.segmenter.flush())

    def utterance_audio(self) -> np.ndarray | None:
        return self.segmenter.utterance_audio()

    def settled_audio(self) -> np.ndarray | None:
        return self.segmenter.settled_audio()


class SemanticTurns(VadTurns):
    """``semantic_vad``: the segmenter (built with ``max_silence_ms=max_wait_ms``) finds speech,
    ``model`` decides when a turn is over; see the module docstring."""

    def __init__(
        self, segmenter: Segmenter, model: EndOfTurnModel, pool: PriorityPool, *, check_ms: int
    ) -> None:
        super().__init__(segmenter)
        self._model = model
        self._pool = pool
        self._check_ms = check_ms
        self._next_check_ms = float(check_ms)
        self._speech_end_ms: float | None = None  # the speech the next question is about
        self._question: asyncio.Future[float] | None = None

    def push(self, audio: np.ndarray) -> None:
        events = self.segmenter.push(audio)
        speech_end = self.segmenter.speech_end_ms
        if events or speech_end != self._speech_end_ms:  # a new turn, or more speech: ask afresh
            self._drop_question()
            self._speech_end_ms, self._next_check_ms = speech_end, self._check_ms
        self._emit(events)
        silence = self.segmenter.trailing_silence_ms
        if self.segmenter.in_speech and self._question is None and silence >= self._next_check_ms:
            self._next_check_ms = 2 * silence
            self._ask()

    def commit(self) -> None:
        self._drop_question()
        super().commit()

    def clear(self) -> None:
        self._drop_question()
        super().clear()

    def finish(self) -> None:
        self._drop_question()
        super().finish()

    def _ask(self) -> None:
        audio = self.segmenter.utterance_audio()
        job: Future[float] = self._pool.submit(Priority.FINAL, lambda: self._model.probability(audio))
        question = self._question = asyncio.wrap_future(job)
        question.add_done_callback(self._answered)

    def _answered(self, question: asyncio.Future[float]) -> None:
        if question is not self._question or question.cancelled():
            return  # dropped: speech resumed, or the turn ended another way
        self._question = None
        if question.exception() is not None:
            log.warning(
                "the end-of-turn model failed; the turn ends after the longest wait",
                exc_info=question.exception(),
            )
            return
        if question.result() > self._model.threshold and self.segmenter.in_speech:
            self._emit(self.segmenter.flush())

    def _drop_question(self) -> None:
        if self._question is not None:
            self._question.cancel()  # a question not yet started never runs
            self._question = None
