"""Silero VAD v6 on onnxruntime, from the copy of the model shipped in faster-whisper's assets.

The v6 ONNX graph takes a batch of frames (each 512 samples at 16 kHz, led by
the last 64 samples of the frame before) plus the LSTM state ``h``/``c``, and
runs the LSTM across the batch in order: n frames cost one ``run`` call. The
stream carries the state and the 64-sample context between calls.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from voxrt.vad.base import VADModel, VADStream

__all__ = ["SileroVAD", "default_model_path"]

FRAME_SAMPLES = 512
CONTEXT_SAMPLES = 64
_STATE_SHAPE = (1, 1, 128)
# Bounds the memory of one run() when a client pushes minutes of audio at once.
_MAX_BATCH = 4096


def default_model_path() -> Path:
    """Where faster-whisper ships ``silero_vad_v6.onnx``.

    Raises:
        RuntimeError: faster-whisper is not installed.
    """
    try:
        import faster_whisper
    except ImportError as exc:
        raise RuntimeError("the silero VAD needs faster-whisper's model file: pip install voxrt") from exc
    return Path(faster_whisper.__file__).parent / "assets" / "silero_vad_v6.onnx"


class SileroVAD(VADModel):
    """One onnxruntime session, shared by every stream (``run`` is thread-safe)."""

    frame_samples = FRAME_SAMPLES

    def __init__(self, model_path: Path | None = None) -> None:
        """Load the model (blocking, tens of ms).

        Raises:
            RuntimeError: onnxruntime is missing or the model file cannot be loaded.
        """
        try:
            import onnxruntime
        except ImportError as exc:
            raise RuntimeError("the silero VAD needs onnxruntime: pip install onnxruntime") from exc
        path = model_path or default_model_path()
        if not path.is_file():
            raise RuntimeError(f"silero VAD model not found at {path}")
        opts = onnxruntime.SessionOptions()
        # Each frame is tiny; more threads only add synchronisation cost across many sessions.
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        self.model_path = path
        self._session: Any = onnxruntime.InferenceSession(
            str(path), sess_options=opts, providers=["CPUExecutionProvider"]
        )

    def stream(self) -> SileroStream:
        return SileroStream(self._session)


class SileroStream(VADStream):
    """The LSTM state and the last 64 samples of one session's audio."""

    def __init__(self, session: Any) -> None:
        super().__init__(FRAME_SAMPLES)
        self._session = session
        self.reset()

    def reset(self) -> None:
        self._h = np.zeros(_STATE_SHAPE, np.float32)
        self._c = np.zeros(_STATE_SHAPE, np.float32)
        self._context = np.zeros(CONTEXT_SAMPLES, np.float32)

    def _probabilities(self, frames: np.ndarray) -> np.ndarray:
        out = [self._run(frames[i : i + _MAX_BATCH]) for i in range(0, len(frames), _MAX_BATCH)]
        return np.concatenate(out)

    def _run(self, frames: np.ndarray) -> np.ndarray:
        # Each row is led by the tail of the row before it; the first by the previous call's tail.
        context = np.concatenate([self._context[None, :], frames[:-1, -CONTEXT_SAMPLES:]])
        batch = np.concatenate([context, frames], axis=1)
        probs, self._h, self._c = self._session.run(None, {"input": batch, "h": self._h, "c": self._c})
        self._context = frames[-1, -CONTEXT_SAMPLES:].copy()
        return np.asarray(probs, dtype=np.float32).reshape(len(frames))
