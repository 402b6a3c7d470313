"""The voice-activity-detection base: a model shared by every session, and a stream per session.

A ``VADModel`` holds what is expensive (an ONNX session) and says which frame
size it classifies; ``stream()`` gives each session its own recurrent state.
``VADStream.probabilities`` owns input checking; an engine implements
``_probabilities`` and ``reset``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

__all__ = ["VADModel", "VADStream"]


class VADStream(ABC):
    """Per-session state of a VAD: consecutive 16 kHz frames in, speech probabilities out.

    Frames passed to successive ``probabilities`` calls are one continuous
    stream: calling once with n frames or n times with one frame gives the
    same probabilities. Not thread-safe; one stream belongs to one session.
    """

    def __init__(self, frame_samples: int) -> None:
        self.frame_samples = frame_samples

    def probabilities(self, frames: np.ndarray) -> np.ndarray:
        """Classify consecutive frames.

        Args:
            frames: float32 samples in [-1, 1], shaped ``(n, frame_samples)``; n may be 0.

        Returns:
            n float32 speech probabilities in [0, 1], one per frame.

        Raises:
            ValueError: ``frames`` is not shaped ``(n, frame_samples)``.
        """
        frames = np.asarray(frames, dtype=np.float32)
        if frames.ndim != 2 or frames.shape[1] != self.frame_samples:
            raise ValueError(f"expected frames shaped (n, {self.frame_samples}), got {tuple(frames.shape)}")
        if len(frames) == 0:
            return np.zeros(0, np.float32)
        probs = np.asarray(self._probabilities(np.ascontiguousarray(frames)), dtype=np.float32)
        return np.clip(probs.reshape(len(frames)), 0.0, 1.0)

    @abstractmethod
    def reset(self) -> None:
        """Forget all history, as if the stream were new."""

    @abstractmethod
    def _probabilities(self, frames: np.ndarray) -> np.ndarray:
        """Engine part of ``probabilities``: frames are checked, contiguous float32, n >= 1."""


class VADModel(ABC):
    """A VAD engine, loaded once and shared by every session.

    ``frame_samples`` is the frame size, in samples at 16 kHz, that its
    streams classify.
    """

    frame_samples: int

    @abstractmethod
    def stream(self) -> VADStream:
        """A new stream with fresh per-session state."""
