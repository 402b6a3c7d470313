"""Fakes that subclass the real bases, for tests where what a model says does not matter."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncGenerator, Iterator

import numpy as np

from voxrt.asr import ASREngine, Segment, TranscriptionOptions
from voxrt.audio.decode import SAMPLE_RATE
from voxrt.llm import ChatMessage, Delta, Responder, ResponseOptions, Usage
from voxrt.tts import TTSEngine
from voxrt.vad import VADModel, VADStream
from voxrt.vad.smart_turn import EndOfTurnModel

__all__ = ["FakeVAD", "ScriptedASR", "ScriptedEndOfTurn", "ScriptedResponder", "ToneTTS"]


class ScriptedASR(ASREngine):
    """A recognizer that answers every decode with ``text`` after ``delay_s``, counting decodes.

    A fake rather than tiny.en because the session tests run thousands of events (a real decode
    takes ~0.3 s here) and check protocol handling, bounds and cancellation, not words. The
    default text is what Whisper makes of silence, so a decode that should not have run shows.
    """

    def __init__(self, text: str = "you you you", delay_s: float = 0.0) -> None:
        super().__init__("scripted")
        self.text = text
        self.delay_s = delay_s
        self.started = 0
        self.finished = 0
        self._lock = threading.Lock()

    def _load(self) -> None:
        pass

    def _decode(
        self, audio: np.ndarray, options: TranscriptionOptions
    ) -> tuple[str | None, Iterator[Segment]]:
        with self._lock:
            self.started += 1
        return "en", self._segments(len(audio) / SAMPLE_RATE)

    def _segments(self, duration: float) -> Iterator[Segment]:
        time.sleep(self.delay_s)
        with self._lock:
            self.finished += 1
        yield Segment(id=0, start=0.0, end=duration, text=self.text)


class ScriptedResponder(Responder):
    """A responder that replies with ``deltas``, ``gap_s`` apart, then raises ``error`` if set;
    ``closed`` tells whether its stream was closed (completed, left or cancelled)."""

    def __init__(self, deltas: list[Delta], gap_s: float = 0.0, error: Exception | None = None) -> None:
        super().__init__("scripted")
        self.deltas, self.gap_s, self.error = deltas, gap_s, error
        self.closed = False
        self.seen: list[list[ChatMessage]] = []  # the messages of each reply asked for
        self.asked_at: list[float] = []  # when (perf_counter)
        self.prefilled: list[tuple[float, str]] = []  # when each prefill came, its last message's text

    def _load(self) -> None:
        pass

    async def aclose(self) -> None:
        pass

    async def prefill(self, messages: list[ChatMessage], options: ResponseOptions) -> None:
        self.prefilled.append((time.perf_counter(), messages[-1].content))

    async def _stream(
        self, messages: list[ChatMessage], options: ResponseOptions, usage: Usage
    ) -> AsyncGenerator[Delta, None]:
        self.seen.append(messages)
        self.asked_at.append(time.perf_counter())
        self.closed = False
        try:
            for delta in self.deltas:
                await asyncio.sleep(self.gap_s)
                yield delta
            if self.error is not None:
                raise self.error
            usage.prompt_tokens, usage.completion_tokens = 5, 7
        finally:
            self.closed = True


class ToneTTS(TTSEngine):
    """A synthesizer that speaks each chunk as a tone, ``s_per_char`` seconds a character, after
    ``delay_s``: a fake because the conversation tests check timing and order, not voices."""

    name = "tone"
    sample_rate = 24000
    voices = ("tone",)

    def __init__(self, s_per_char: float = 0.06, delay_s: float = 0.0) -> None:
        super().__init__()
        self.s_per_char, self.delay_s = s_per_char, delay_s
        self.spoken: list[str] = []
        self.started_at: list[float] = []  # when each chunk's synthesis started (perf_counter)

    def _load(self) -> None:
        pass

    def _synthesize(self, text: str, voice: str, speed: float) -> Iterator[np.ndarray]:
        self.started_at.append(time.perf_counter())
        time.sleep(self.delay_s)
        self.spoken.append(text)
        n = int(len(text) * self.s_per_char * self.sample_rate)
        yield (0.2 * np.sin(np.arange(n) * 2 * np.pi * 220 / self.sample_rate)).astype(np.float32)


class FakeVAD(VADModel):
    """A VAD whose every stream plays ``script``, spans of (ms, speech probability) in order from
    its start (and again after a reset), then 0: turn detection tests say where speech is
    instead of synthesizing it. The audio itself is ignored."""

    def __init__(self, script: list[tuple[int, float]], frame_samples: int = 320) -> None:
        self.frame_samples = frame_samples
        frame_ms = 1000 * frame_samples // SAMPLE_RATE
        self.probabilities = np.concatenate(
            [np.full(ms // frame_ms, prob, np.float32) for ms, prob in script]
        )

    def stream(self) -> VADStream:
        return _ScriptedStream(self.frame_samples, self.probabilities)


class _ScriptedStream(VADStream):
    def __init__(self, frame_samples: int, probabilities: np.ndarray) -> None:
        super().__init__(frame_samples)
        self._script = probabilities
        self.reset()

    def reset(self) -> None:
        self._position = 0

    def _probabilities(self, frames: np.ndarray) -> np.ndarray:
        out = np.zeros(len(frames), np.float32)
        played = self._script[self._position : self._position + len(frames)]
        out[: len(played)] = played
        self._position += len(frames)
        return out


class ScriptedEndOfTurn(EndOfTurnModel):
    """An end-of-turn model that calls a turn finished once it holds ``complete_after_s`` of
    audio, after ``delay_s``; ``asked`` lists the length in seconds of each turn it was asked about."""

    def __init__(self, complete_after_s: float = float("inf"), delay_s: float = 0.0) -> None:
        self.complete_after_s = complete_after_s
        self.delay_s = delay_s
        self.asked: list[float] = []

    def _probability(self, audio: np.ndarray) -> float:
        time.sleep(self.delay_s)
        self.asked.append(len(audio) / SAMPLE_RATE)
        return 0.9 if self.asked[-1] >= self.complete_after_s else 0.1
