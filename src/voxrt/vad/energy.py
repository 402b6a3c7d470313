"""A model-free fallback VAD: a frame's RMS level in dBFS through a logistic curve.

It cannot tell speech from any other sound of the same loudness; use it where
the input is clean (headset, close-talk microphone) or no model can load.
"""

from __future__ import annotations

import numpy as np

from voxrt.vad.base import VADModel, VADStream

__all__ = ["EnergyVAD"]

FRAME_SAMPLES = 320
# Keeps log10 finite on digital silence (-200 dBFS).
_FLOOR = 1e-10


def level_dbfs(frames: np.ndarray) -> np.ndarray:
    """RMS level of each row of ``frames`` in dB relative to full scale (a full-scale square wave = 0)."""
    rms = np.sqrt(np.mean(np.square(frames, dtype=np.float64), axis=-1))
    return np.asarray(20.0 * np.log10(np.maximum(rms, _FLOOR)), dtype=np.float64)


class EnergyVAD(VADModel):
    """Probability 0.5 at ``level_dbfs``, rising by a factor e every ``width_db`` above it."""

    frame_samples = FRAME_SAMPLES

    def __init__(self, level_dbfs: float = -40.0, width_db: float = 3.0) -> None:
        """
        Raises:
            ValueError: ``width_db`` is not positive.
        """
        if width_db <= 0:
            raise ValueError(f"energy VAD width_db must be positive, got {width_db!r}")
        self.level_dbfs = level_dbfs
        self.width_db = width_db

    def stream(self) -> EnergyStream:
        return EnergyStream(self.level_dbfs, self.width_db)


class EnergyStream(VADStream):
    """Stateless: every frame is judged on its own level."""

    def __init__(self, level: float, width: float) -> None:
        super().__init__(FRAME_SAMPLES)
        self._level = level
        self._width = width

    def reset(self) -> None:
        pass

    def _probabilities(self, frames: np.ndarray) -> np.ndarray:
        x = np.clip((level_dbfs(frames) - self._level) / self._width, -60.0, 60.0)
        return (1.0 / (1.0 + np.exp(-x))).astype(np.float32)
