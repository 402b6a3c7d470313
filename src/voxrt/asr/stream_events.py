"""What a streaming recognizer reports, per utterance: ``SpeechStarted`` -> ``Partial``* ->
``SpeechStopped`` -> ``Committed`` -> ``Completed`` | ``Failed`` (manual turns: the last two)."""

from __future__ import annotations

from dataclasses import dataclass

from voxrt.errors import VoxrtError

__all__ = [
    "Committed",
    "Completed",
    "Failed",
    "Partial",
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


StreamEvent = SpeechStarted | Partial | SpeechStopped | Committed | Completed | Failed
