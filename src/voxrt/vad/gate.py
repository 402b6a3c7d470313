"""Does a whole recording hold any speech? The gate in front of REST decodes.

Whisper writes text into silence ("you you you", "Thank you."), so a file with
no speech must not reach the recognizer. The scan runs in blocks so that a
worker pool can interleave it with more urgent work, and stops at the first
stretch of speech.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from voxrt.audio.decode import SAMPLE_RATE
from voxrt.vad.base import VADModel

__all__ = ["scan_for_speech"]

_BLOCK_S = 10.0
# A block whose loudest sample is below -60 dBFS holds no speech: no need to run the model on it.
_QUIET_PEAK = 1e-3


def scan_for_speech(
    model: VADModel, audio: np.ndarray, threshold: float, min_speech_ms: int
) -> Iterator[bool]:
    """Scan 16 kHz ``audio`` for speech, one block of about 10 s per item.

    Args:
        model: the VAD; a fresh stream of it classifies the audio.
        threshold: speech probability at or above which a frame is speech.
        min_speech_ms: the least run of consecutive speech frames that counts as speech.

    Yields:
        False after each block without speech; True once speech is found, and then stops.
    """
    stream = model.stream()
    frame = model.frame_samples
    need = max(1, math.ceil(min_speech_ms * SAMPLE_RATE / 1000 / frame))
    block = int(_BLOCK_S * SAMPLE_RATE) // frame * frame
    usable = len(audio) // frame * frame
    run = 0
    for start in range(0, usable, block):
        chunk = audio[start : min(start + block, usable)]
        if float(np.max(np.abs(chunk))) < _QUIET_PEAK:
            run = 0
            yield False
            continue
        for speech in stream.probabilities(chunk.reshape(-1, frame)) >= threshold:
            run = run + 1 if speech else 0
            if run >= need:
                yield True
                return
        yield False
