"""Voice activity detection: engines (silero ONNX, webrtc, energy) and the utterance segmenter."""

from __future__ import annotations

from typing import Literal

from voxrt.vad.base import VADModel, VADStream
from voxrt.vad.segmenter import Segmenter, SegmenterEvent, SpeechStarted, SpeechStopped

__all__ = [
    "Segmenter",
    "SegmenterEvent",
    "SpeechStarted",
    "SpeechStopped",
    "VADModel",
    "VADStream",
    "VadEngine",
    "create_vad",
]

VadEngine = Literal["silero", "webrtc", "energy"]


def create_vad(engine: VadEngine) -> VADModel:
    """Load the named engine with its default settings (blocking; silero takes tens of ms).

    Raises:
        ValueError: ``engine`` is not a known engine name.
        RuntimeError: the engine's package or model file is missing.
    """
    # Engines import lazily: `import voxrt.vad` must not load onnxruntime.
    if engine == "silero":
        from voxrt.vad.silero import SileroVAD

        return SileroVAD()
    if engine == "webrtc":
        from voxrt.vad.webrtc import WebRtcVAD

        return WebRtcVAD()
    if engine == "energy":
        from voxrt.vad.energy import EnergyVAD

        return EnergyVAD()
    raise ValueError(f"unknown VAD engine {engine!r}; expected silero, webrtc or energy")
