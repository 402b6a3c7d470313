"""What a streaming recognizer reports, per utterance: ``SpeechStarted`` -> ``Partial``* ->
``SpeechStopped`` -> ``Committed`` -> ``Completed`` | ``Failed`` (manual turns: the last two);
``Settled`` / ``Resumed`` say when a speculative final is ready and when it is void."""

from __future__ import annotations

from dataclasses import dataclass

from voxrt.errors import VoxrtError

__all__ = [
    "Committed",
    "Completed",
    "Failed",
    "Partial",
    "Resumed",
    "Settled",
    "SpeechStarted",
    "SpeechStopped",
    "StreamEvent",
    "TurnMetrics",
]


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


@dataclass(frozen=True)
class Settled:
    """The speculative final of an utterance still open is ready: if the silence goes on, this is
    its transcript (not a wire event; a conversation may start its reply on it)."""

    item_id: str
    transcript: str


@dataclass(frozen=True)
class Resumed:
    """Speech resumed after a ``Settled``: that transcript is void (not a wire event)."""

    item_id: str


StreamEvent = SpeechStarted | Partial | Settled | Resumed | SpeechStopped | Committed | Completed | Failed
