"""Speech recognition engines."""

from voxrt.asr.base import ASREngine, Segment, Transcription, TranscriptionOptions, Word
from voxrt.config import AsrSettings
from voxrt.runtime import PriorityPool

__all__ = [
    "ASREngine",
    "Segment",
    "Transcription",
    "TranscriptionOptions",
    "Word",
    "create_asr_engine",
]


def create_asr_engine(settings: AsrSettings, pool: PriorityPool | None = None) -> ASREngine:
    """The engine named by ``asr.engine``, not yet loaded.

    ``pool`` (the server's one inference pool) is where faster_whisper decodes; without one it
    makes its own. voxtral and remote always keep their own pool: its threads wait on a GPU batch
    (``asr.max_batch`` of them) or on a server (``asr.remote_max_concurrency``), not on the CPU, so
    it is sized by how many requests they keep in flight.

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

    return FasterWhisperEngine(settings, pool)
