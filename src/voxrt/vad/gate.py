"""Whether a stretch of audio holds speech at all: the check in front of a decode that would
otherwise turn silence into words ("you you you")."""

from __future__ import annotations

import numpy as np

from voxrt.audio.decode import SAMPLE_RATE
from voxrt.vad.base import VADModel

__all__ = ["has_speech"]


def has_speech(vad: VADModel, audio: np.ndarray, threshold: float, min_speech_ms: int) -> bool:
    """Whether at least ``min_speech_ms`` of ``audio`` (float32, 16 kHz) is classified as speech.

    Blocking (Silero: ~0.2 ms per 32 ms of audio); uses a fresh stream, so any thread may call it.
    """
    stream = vad.stream()
    frame = stream.frame_samples
    count = len(audio) // frame
    if count == 0:
        return False
    probs = stream.probabilities(np.asarray(audio[: count * frame], np.float32).reshape(count, frame))
    voiced_ms = int(np.count_nonzero(probs >= threshold)) * frame * 1000 / SAMPLE_RATE
    return voiced_ms >= max(min_speech_ms, 1)
