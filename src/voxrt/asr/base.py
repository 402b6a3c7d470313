"""The speech-recognizer base: the public methods own threading, timing and logging;
an engine implements ``_load`` and ``_decode``."""

from __future__ import annotations

import contextlib
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, replace

import numpy as np

from voxrt.audio.decode import SAMPLE_RATE
from voxrt.errors import ModelNotReady
from voxrt.runtime import Priority, PriorityPool, iterate

__all__ = ["ASREngine", "Segment", "Transcription", "TranscriptionOptions", "Word"]

log = logging.getLogger(__name__)

_CLOSE_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class TranscriptionOptions:
    """What a caller may ask of one decode."""

    language: str | None = None
    prompt: str | None = None
    temperature: float = 0.0
    word_timestamps: bool = False
    # False lets an engine skip segment timing (one segment spans the audio) when that is faster
    timestamps: bool = True
    # decoded for a live session, where latency counts: an engine may trade a little accuracy for it
    realtime: bool = False
    # a partial hypothesis that a final decode will replace: an engine may trade accuracy for speed
    draft: bool = False


@dataclass(frozen=True)
class Word:
    start: float
    end: float
    word: str
    probability: float


@dataclass(frozen=True)
class Segment:
    """One decoded stretch of audio; times in seconds from the start of the audio."""

    id: int
    start: float
    end: float
    text: str
    tokens: tuple[int, ...] = ()
    temperature: float = 0.0
    avg_logprob: float = 0.0
    compression_ratio: float = 0.0
    no_speech_prob: float = 0.0
    words: tuple[Word, ...] = ()


@dataclass(frozen=True)
class Transcription:
    """A finished decode, with the options that really ran and how long it took."""

    text: str
    language: str | None
    duration: float
    segments: tuple[Segment, ...]
    options: TranscriptionOptions
    processing_s: float

    @property
    def rtf(self) -> float:
        """Processing time over audio duration."""
        return self.processing_s / self.duration if self.duration else 0.0


@dataclass
class _Run:
    """What one decode reports besides its segments."""

    language: str | None = None


class ASREngine(ABC):
    """A batch recognizer: float32 mono 16 kHz audio in, segments out.

    Models load once (``load``), are shared by every caller, and decode in a worker pool so the
    event loop never blocks: ``pool`` when given (the server's one inference pool, which its owner
    shuts down), else a pool of the engine's own with ``max_parallel`` threads.
    """

    def __init__(self, model_id: str, max_parallel: int = 1, pool: PriorityPool | None = None) -> None:
        self.model_id = model_id
        self._own_pool = pool is None
        self._pool = pool or PriorityPool(max_parallel, name="asr")
        self._ready = False
        # called with the size of each batch an engine that batches across callers runs (metrics)
        self.on_batch: Callable[[int], None] | None = None

    @property
    def ready(self) -> bool:
        return self._ready

    @property
    def pool(self) -> PriorityPool:
        """The worker pool decodes run in."""
        return self._pool

    def _batch_ran(self, size: int) -> None:
        """Report one batch of ``size`` requests run together (engines that batch call this)."""
        if self.on_batch is not None:
            self.on_batch(size)

    def load(self, warmup: bool = True) -> None:
        """Load the model (blocking) and, if asked, run one decode so the first request is fast."""
        started = time.perf_counter()
        self._load()
        if warmup:
            silence = np.zeros(SAMPLE_RATE, np.float32)
            for options in (TranscriptionOptions(), TranscriptionOptions(timestamps=False)):
                for _ in self._decode(silence, options)[1]:
                    pass
        self._ready = True
        log.info("asr model %s loaded in %.2f s", self.model_id, time.perf_counter() - started)

    def close(self) -> None:
        """Stop decoding: queued decodes that were not abandoned run first (blocking, bounded). A
        shared pool is left to its owner, who shuts it down before closing the engine."""
        if self._own_pool:
            self._pool.shutdown(timeout_s=_CLOSE_TIMEOUT_S)

    def pending(self) -> int:
        """Jobs queued in the engine's pool and not yet started (all priorities)."""
        return self._pool.pending()

    def check_options(self, options: TranscriptionOptions) -> None:
        """Refuse options this engine cannot honour, before any decode is queued.

        Raises:
            VoxrtError: an option the model cannot serve (e.g. a language it does not know).
        """
        del options  # every option is acceptable unless an engine says otherwise

    def applied_options(self, options: TranscriptionOptions) -> TranscriptionOptions:
        """The options this engine really applies to a request: it drops what it cannot do."""
        return options

    async def stream(
        self, audio: np.ndarray, options: TranscriptionOptions, priority: Priority = Priority.FINAL
    ) -> AsyncIterator[Segment]:
        """Decode ``audio``, yielding segments as the model produces them.

        Raises:
            ModelNotReady: called before ``load`` finished.
        """
        async for segment in self._run(audio, options, priority, _Run()):
            yield segment

    async def transcribe(
        self,
        audio: np.ndarray,
        options: TranscriptionOptions,
        on_segment: Callable[[Segment], None] | None = None,
        priority: Priority = Priority.FINAL,
    ) -> Transcription:
        """Decode ``audio`` in full; ``on_segment`` sees each segment as it comes (for progress).

        Raises:
            ModelNotReady: called before ``load`` finished.
        """
        started = time.perf_counter()
        run = _Run()
        segments = []
        async for segment in self._run(audio, options, priority, run):
            segments.append(segment)
            if on_segment is not None:
                on_segment(segment)
        elapsed = time.perf_counter() - started
        result = Transcription(
            text="".join(s.text for s in segments).strip(),
            language=run.language,
            duration=len(audio) / SAMPLE_RATE,
            segments=tuple(segments),
            options=self.applied_options(options),
            processing_s=elapsed,
        )
        log.debug("asr decoded %.2f s of audio in %.3f s (rtf %.3f)", result.duration, elapsed, result.rtf)
        return result

    async def _run(
        self, audio: np.ndarray, options: TranscriptionOptions, priority: Priority, run: _Run
    ) -> AsyncIterator[Segment]:
        if not self._ready:
            raise ModelNotReady("The speech recognition model is still loading; retry shortly.")
        self.check_options(options)

        def decode() -> Iterator[Segment]:
            run.language, segments = self._decode(audio, options)
            return segments

        duration = len(audio) / SAMPLE_RATE
        floor = 0.0
        async with contextlib.aclosing(iterate(self._pool, priority, decode)) as segments:
            async for segment in segments:
                clamped = _clamp(segment, floor, duration)
                floor = clamped.start
                yield clamped

    @abstractmethod
    def _load(self) -> None:
        """Load the model weights (blocking)."""

    @abstractmethod
    def _decode(
        self, audio: np.ndarray, options: TranscriptionOptions
    ) -> tuple[str | None, Iterator[Segment]]:
        """Start a decode in the calling (worker) thread: the language and a lazy segment iterator."""


def _clamp(segment: Segment, floor: float, duration: float) -> Segment:
    """Times kept inside the audio and never going backwards (models overshoot the end)."""
    start = min(max(segment.start, floor), duration)
    end = min(max(segment.end, start), duration)
    words: list[Word] = []
    for w in segment.words:
        w_start = min(max(w.start, words[-1].end if words else start), end)
        words.append(replace(w, start=w_start, end=min(max(w.end, w_start), end)))
    return replace(segment, start=start, end=end, words=tuple(words))
