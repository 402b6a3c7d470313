"""Speech recognition engines."""

from voxrt.asr.base import ASREngine, Segment, Transcription, TranscriptionOptions, Word
from voxrt.config import AsrSettings

__all__ = [
    "ASREngine",
    "Segment",
    "Transcription",
    "TranscriptionOptions",
    "Word",
    "create_asr_engine",
]


def create_asr_engine(settings: AsrSettings) -> ASREngine:
    """The engine named by ``asr.engine``, not yet loaded.

    Raises:
        ConfigError: the model is missing or unusable.
    """
    if settings.engine == "voxtral":
        from voxrt.asr.voxtral import VoxtralEngine

        return VoxtralEngine(settings)
    if settings.engine == "remote":
        from voxrt.asr.remote import RemoteEngine

        return RemoteEngine(settings)
    from voxrt.asr.faster_whisper import FasterWhisperEngine

    return FasterWhisperEngine(settings)
