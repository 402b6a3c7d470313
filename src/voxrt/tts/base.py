"""The speech synthesis engine base: ``synthesize`` owns chunking, resampling, the worker pool and
the metrics; an engine implements ``_load``, ``_synthesize`` (blocking) and lists its voices."""

from __future__ import annotations

import contextlib
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass

import numpy as np
import soxr

from voxrt.errors import InvalidRequest, ModelNotReady
from voxrt.runtime import Priority, PriorityPool, iterate
from voxrt.tts.chunker import split_text

__all__ = ["OPENAI_VOICES", "SynthesisMetrics", "TTSEngine"]

log = logging.getLogger(__name__)

# The voice names of OpenAI's speech API; each engine maps them onto voices of its own.
OPENAI_VOICES = (
    "alloy",
    "ash",
    "ballad",
    "coral",
    "echo",
    "fable",
    "onyx",
    "nova",
    "sage",
    "shimmer",
    "verse",
    "marin",
    "cedar",
)


@dataclass(frozen=True)
class SynthesisMetrics:
    """One ``synthesize`` call: ``tts_ttfb_ms`` from the call to the first audio, the audio's
    length, the time taken and the characters spoken."""

    engine: str
    voice: str
    characters: int
    tts_ttfb_ms: float
    audio_s: float
    elapsed_s: float

    @property
    def rtf(self) -> float:
        """Processing time / audio duration."""
        return self.elapsed_s / self.audio_s if self.audio_s else 0.0


class TTSEngine(ABC):
    """A speech synthesizer shared by every request; call ``load`` once, then ``synthesize``."""

    name: str
    """Engine name in config and in ``/v1/models``."""
    sample_rate: int
    """The rate the engine renders at (before any resampling ``synthesize`` does)."""
    voices: tuple[str, ...]
    """Voice ids this engine speaks; the first is the default unless configured."""

    def __init__(self, default_voice: str | None = None, pool: PriorityPool | None = None) -> None:
        self._default_voice = default_voice
        self._own_pool = pool is None
        self._pool = pool or PriorityPool(1, name=f"tts-{self.name}")
        self._ready = False

    @property
    def ready(self) -> bool:
        """Whether ``load`` has finished."""
        return self._ready

    @property
    def default_voice(self) -> str:
        """The voice used when a request names none (or one of OpenAI's without a mapping)."""
        return self._default_voice or self.voices[0]

    def load(self, warmup: bool = True) -> None:
        """Load the model (blocking) and, with ``warmup``, synthesize one short sentence.

        Raises:
            ConfigError: the model or voices are missing or unusable.
        """
        self._load()
        if self.default_voice not in self.voices:
            from voxrt.config import ConfigError

            raise ConfigError(
                f"tts.voice = {self.default_voice!r}: not a voice of the {self.name} engine "
                f"(`voxrt voices` lists them)"
            )
        if warmup:
            for _ in self._synthesize("Ready.", self.default_voice, 1.0):
                pass
        self._ready = True

    def close(self) -> None:
        """Stop the engine's own worker pool (a shared pool is left to its owner), waiting (bounded)
        for a synthesis still running: native code running at interpreter exit can abort it."""
        if self._own_pool:
            self._pool.shutdown(timeout_s=10.0)

    def openai_voice_map(self) -> dict[str, str]:
        """Which of this engine's voices each OpenAI voice name speaks with."""
        return dict.fromkeys(OPENAI_VOICES, self.default_voice)

    def resolve_voice(self, voice: str | None) -> str:
        """The engine voice for ``voice``: one of its own ids, an OpenAI name, or None (default).

        Raises:
            InvalidRequest: an unknown voice.
        """
        if voice is None or voice == "":
            return self.default_voice
        if voice in self.voices:
            return voice
        mapped = self.openai_voice_map().get(voice.lower())
        if mapped is None:
            raise InvalidRequest(
                f"Unknown voice {voice!r}: use one of OpenAI's ({', '.join(OPENAI_VOICES)}) or of this "
                f"server's ({', '.join(self.voices[:8])}{', ...' if len(self.voices) > 8 else ''}; "
                "GET /v1/models lists them).",
                param="voice",
                code="invalid_voice",
            )
        return mapped

    async def synthesize(
        self,
        text: str,
        voice: str | None = None,
        speed: float = 1.0,
        *,
        sample_rate: int | None = None,
        priority: Priority = Priority.REST,
        on_metrics: Callable[[SynthesisMetrics], None] | None = None,
    ) -> AsyncIterator[np.ndarray]:
        """Speak ``text``: mono float32 chunks in [-1, 1], the first after the first clause is done.

        The text is normalized (markdown stripped, numbers spelled out) and split into chunks; each
        runs in the worker pool at ``priority``. Leaving the iteration early stops the synthesis
        after the chunk in progress.

        Args:
            text: what to say.
            voice: a voice id, an OpenAI voice name, or None for the default.
            speed: 1.0 is normal; engines clamp it to what they support.
            sample_rate: resample to this rate; None keeps ``self.sample_rate``.
            priority: the pool priority (the active reply of a conversation outranks REST).
            on_metrics: called with the call's metrics once the last chunk is out.

        Raises:
            ModelNotReady: called before ``load`` finished.
            InvalidRequest: an unknown voice.
        """
        if not self._ready:
            raise ModelNotReady("The speech synthesis model is still loading; retry shortly.")
        voice_id = self.resolve_voice(voice)
        started = time.perf_counter()
        first: float | None = None
        samples = 0
        rate = sample_rate or self.sample_rate
        resampler = (
            None
            if rate == self.sample_rate
            else soxr.ResampleStream(self.sample_rate, rate, 1, dtype="float32", quality="HQ")
        )
        chunks = split_text(text)

        def produce() -> Iterator[np.ndarray]:
            for chunk in chunks:
                yield from self._synthesize(chunk, voice_id, speed)

        async with contextlib.aclosing(iterate(self._pool, priority, produce)) as audio:
            async for part in audio:
                out = part if resampler is None else resampler.resample_chunk(part)
                if len(out) == 0:
                    continue
                if first is None:
                    first = time.perf_counter()
                samples += len(out)
                yield np.asarray(out, dtype=np.float32)
        if resampler is not None:
            tail = np.asarray(resampler.resample_chunk(np.zeros(0, np.float32), last=True), np.float32)
            if len(tail):
                samples += len(tail)
                yield tail
        metrics = SynthesisMetrics(
            engine=self.name,
            voice=voice_id,
            characters=len(text),
            tts_ttfb_ms=((first or time.perf_counter()) - started) * 1000,
            audio_s=samples / rate,
            elapsed_s=time.perf_counter() - started,
        )
        log.debug(
            "tts %s: %d chars -> %.2f s audio, first audio %.0f ms, rtf %.2f",
            self.name,
            metrics.characters,
            metrics.audio_s,
            metrics.tts_ttfb_ms,
            metrics.rtf,
        )
        if on_metrics is not None:
            on_metrics(metrics)

    @abstractmethod
    def _load(self) -> None:
        """Load the model and voices (blocking, once)."""

    @abstractmethod
    def _synthesize(self, text: str, voice: str, speed: float) -> Iterator[np.ndarray]:
        """Speak one normalized chunk of text (blocking): float32 mono at ``sample_rate``."""
