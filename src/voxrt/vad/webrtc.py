"""WebRTC's GMM voice-activity detector (``webrtcvad``): 30 ms frames, a yes/no per frame."""

from __future__ import annotations

from typing import Any

import numpy as np

from voxrt.audio.pcm import to_int16
from voxrt.vad.base import VADModel, VADStream

__all__ = ["WebRtcVAD"]

FRAME_SAMPLES = 480
_RATE = 16000


class WebRtcVAD(VADModel):
    """The WebRTC VAD; ``mode`` 0 (least) to 3 (most) aggressive at calling frames non-speech."""

    frame_samples = FRAME_SAMPLES

    def __init__(self, mode: int = 3) -> None:
        """Check that webrtcvad is importable.

        Raises:
            ValueError: ``mode`` is not 0, 1, 2 or 3.
            RuntimeError: webrtcvad is missing.
        """
        if mode not in (0, 1, 2, 3):
            raise ValueError(f"webrtc VAD mode must be 0, 1, 2 or 3, got {mode!r}")
        try:
            import webrtcvad
        except ImportError as exc:
            raise RuntimeError("the webrtc VAD needs webrtcvad: pip install webrtcvad-wheels") from exc
        self.mode = mode
        self._module: Any = webrtcvad

    def stream(self) -> WebRtcStream:
        return WebRtcStream(self._module, self.mode)


class WebRtcStream(VADStream):
    """One ``webrtcvad.Vad`` per session: it adapts its noise estimate to the audio it has seen."""

    def __init__(self, module: Any, mode: int) -> None:
        super().__init__(FRAME_SAMPLES)
        self._module = module
        self._mode = mode
        self.reset()

    def reset(self) -> None:
        self._vad = self._module.Vad(self._mode)

    def _probabilities(self, frames: np.ndarray) -> np.ndarray:
        pcm = to_int16(frames)
        return np.array([float(self._vad.is_speech(row.tobytes(), _RATE)) for row in pcm], np.float32)
