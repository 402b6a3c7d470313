"""End-of-turn models: whether a person has finished their turn, judged from how it sounds.

``SmartTurn`` runs Smart Turn v3.2 (pipecat-ai, BSD-2), an audio classifier trained on where
people stop and where they only pause: its input is the Whisper log-mel spectrogram (80 bins)
of the last 8 s of the turn at 16 kHz, left-padded with zeros, the waveform normalised to zero
mean and unit variance first; its output is the probability that the turn is complete. The
ONNX file ships inside the ``pipecat-ai`` wheel; it is read from the installed files without
importing pipecat (whose import pulls its own dependencies, which voxrt does not install).
"""

from __future__ import annotations

import importlib.metadata
import logging
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import numpy as np

from voxrt.audio.decode import SAMPLE_RATE

__all__ = ["INSTALL_HINT", "EndOfTurnModel", "SmartTurn", "default_model_path", "load_smart_turn"]

log = logging.getLogger(__name__)

PIPECAT_VERSION = "1.14.0"  # the pipecat-ai release whose model file voxrt was measured with
_MODEL_FILE = "pipecat/audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx"
_WINDOW_S = 8
_NORM_EPS = 1e-7  # as transformers' WhisperFeatureExtractor(do_normalize=True)
INSTALL_HINT = f"pip install --no-deps pipecat-ai=={PIPECAT_VERSION}"


class EndOfTurnModel(ABC):
    """A model that tells a finished turn from a pause, loaded once and shared by every session.

    ``probability`` is blocking (tens of ms for Smart Turn): call it off the event loop.
    """

    threshold = 0.5  # a probability above it means the turn is complete

    def probability(self, audio: np.ndarray) -> float:
        """How likely the turn is over.

        Args:
            audio: the turn so far, float32 mono 16 kHz, silence after the speech included.

        Returns:
            A probability in [0, 1].

        Raises:
            ValueError: ``audio`` is not one-dimensional.
        """
        samples = np.asarray(audio, dtype=np.float32)
        if samples.ndim != 1:
            raise ValueError(f"expected mono audio (one dimension), got shape {samples.shape}")
        return min(1.0, max(0.0, float(self._probability(samples))))

    @abstractmethod
    def _probability(self, audio: np.ndarray) -> float:
        """Engine part of ``probability``: ``audio`` is checked, float32 and one-dimensional."""


def default_model_path() -> Path:
    """Where the installed ``pipecat-ai`` distribution keeps ``smart-turn-v3.2-cpu.onnx``.

    Raises:
        RuntimeError: pipecat-ai is not installed, or its files lack the model.
    """
    try:
        distribution = importlib.metadata.distribution("pipecat-ai")
    except importlib.metadata.PackageNotFoundError:
        raise RuntimeError(f"semantic_vad needs the Smart Turn model: {INSTALL_HINT}") from None
    path = Path(str(distribution.locate_file(_MODEL_FILE)))
    if not path.is_file():
        raise RuntimeError(f"pipecat-ai {distribution.version} has no {_MODEL_FILE}: {INSTALL_HINT}")
    return path


class SmartTurn(EndOfTurnModel):
    """Smart Turn v3.2 on onnxruntime (CPU); ``run`` is thread-safe, so sessions share it."""

    def __init__(self, model_path: Path | None = None) -> None:
        """Load the model (blocking, ~50 ms).

        Raises:
            RuntimeError: the model file is missing or cannot be loaded.
        """
        import onnxruntime
        from faster_whisper.feature_extractor import FeatureExtractor

        path = model_path or default_model_path()
        opts = onnxruntime.SessionOptions()
        # One call is ~70 ms on one thread; more threads would take cores from the recognizer.
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        try:
            self._session: Any = onnxruntime.InferenceSession(
                str(path), sess_options=opts, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:
            raise RuntimeError(f"cannot load the Smart Turn model {path}: {exc}") from exc
        self.model_path = path
        # faster-whisper's numpy log-mel: the same features as transformers' WhisperFeatureExtractor
        # (within 1e-6) for 80 bins, n_fft 400, hop 160, once the trailing frame is dropped.
        self._features = FeatureExtractor(feature_size=80, chunk_length=_WINDOW_S)

    def _probability(self, audio: np.ndarray) -> float:
        window = _WINDOW_S * SAMPLE_RATE
        audio = audio[-window:]
        audio = np.pad(audio, (window - len(audio), 0))
        audio = (audio - audio.mean()) / np.sqrt(audio.var() + _NORM_EPS)
        features = self._features(audio, padding=0).astype(np.float32)
        (logits,) = self._session.run(None, {"input_features": features[None]})
        return float(np.asarray(logits).reshape(-1)[0])  # the graph ends in a sigmoid


def load_smart_turn() -> SmartTurn | None:
    """Smart Turn, or ``None`` (logged) where its model is not installed: semantic_vad is then
    refused with an error that says how to install it, and every other mode works."""
    try:
        return SmartTurn()
    except RuntimeError as exc:
        log.warning("semantic_vad is unavailable: %s", exc)
        return None
