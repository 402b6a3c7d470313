"""faster-whisper (CTranslate2 Whisper) recognizer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from voxrt.asr.base import ASREngine, Segment, TranscriptionOptions, Word
from voxrt.asr.models import MODEL_NAMES, named_model_dir
from voxrt.audio.decode import SAMPLE_RATE
from voxrt.config import AsrSettings, ConfigError
from voxrt.errors import InvalidRequest
from voxrt.runtime import PriorityPool

__all__ = ["FasterWhisperEngine", "resolve_model_dir"]

EMBEDDED_MODEL_ID = "tiny.en"
_WINDOW_S = 30  # Whisper's input window
_TOKENS_PER_S = 8  # generous: fast speech is ~4 tokens/s
_NO_SPEECH, _LOW_LOGPROB = 0.6, -1.0  # faster-whisper's defaults for dropping silent segments
# Silence after the speech in an unpadded encode: without it, utterances over ~12 s ran on into
# repeated phrases (WER 8% -> 2% over 1-5 sentence utterances; see the README).
_TRAILING_SILENCE_S = 3.0


def resolve_model_dir(settings: AsrSettings) -> tuple[Path, str]:
    """The CTranslate2 model directory and its model id: a named model (``tiny.en``, ``base``;
    empty means tiny.en) or a directory.

    Raises:
        ConfigError: the named model is not installed, or the directory holds no CTranslate2 model.
    """
    name = settings.model or EMBEDDED_MODEL_ID
    named = named_model_dir(name)
    path = named if named is not None else Path(name).expanduser()
    model_id = settings.model_id or (name if named is not None else path.name)
    if not (path / "model.bin").is_file():
        raise ConfigError(
            f"asr.model = {str(path)!r}: not a CTranslate2 Whisper model directory (no model.bin). "
            f"Name one of {', '.join(MODEL_NAMES)} or a directory made with ct2-transformers-converter."
        )
    return path, model_id


class FasterWhisperEngine(ASREngine):
    """Whisper through faster-whisper; any CTranslate2 Whisper directory, int8 on CPU by default.

    Decodes run in ``pool`` (the server's one inference pool) when given, else in a pool of the
    engine's own with ``asr.num_workers`` threads.
    """

    def __init__(self, settings: AsrSettings, pool: PriorityPool | None = None) -> None:
        self._dir, model_id = resolve_model_dir(settings)
        super().__init__(model_id, max_parallel=settings.num_workers, pool=pool)
        self._settings = settings
        self._model: Any = None
        self._multilingual = True  # known once loaded

    def check_options(self, options: TranscriptionOptions) -> None:
        """English-only models (``*.en``) refuse any other language.

        Raises:
            InvalidRequest: a language other than English for an English-only model.
        """
        language = options.language or self._settings.language
        if not self._multilingual and language and language.lower() not in ("en", "english"):
            raise InvalidRequest(
                f"The model {self.model_id} is English-only; language {language!r} needs a multilingual "
                "model (asr.model: base).",
                param="language",
                code="unsupported_language",
            )

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
        self._multilingual = bool(self._model.model.is_multilingual)

    def _decode(
        self, audio: np.ndarray, options: TranscriptionOptions
    ) -> tuple[str | None, Iterator[Segment]]:
        s = self._settings
        if s.unpadded_encoder and not options.timestamps and len(audio) < _WINDOW_S * SAMPLE_RATE:
            return self._decode_unpadded(audio, options)
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

    def _decode_unpadded(
        self, audio: np.ndarray, options: TranscriptionOptions
    ) -> tuple[str | None, Iterator[Segment]]:
        """One decode of audio under 30 s, encoded at its own length plus a few seconds of silence
        (at least ``min_encoder_s``) instead of the 30 s window: the encoder's cost follows the
        audio."""
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        s, model = self._settings, self._model
        duration = len(audio) / SAMPLE_RATE
        if options.draft:
            min_s = s.partial_min_encoder_s
        else:
            min_s = s.realtime_min_encoder_s if options.realtime else s.min_encoder_s
        encoded_s = min(_WINDOW_S, max(min_s, duration + _TRAILING_SILENCE_S))
        padded = np.pad(audio, (0, max(0, int(encoded_s * SAMPLE_RATE) - len(audio))))
        features = model.feature_extractor(padded)
        encoded = model.encode(features[:, : features.shape[-1] // 2 * 2])  # the encoder halves frames
        language = options.language or s.language
        if language is None and model.model.is_multilingual:
            language = model.model.detect_language(encoded)[0][0][0][2:-2]
        tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual, "transcribe", language or "en")
        previous = tokenizer.encode(" " + options.prompt.strip()) if options.prompt else []
        prompt = model.get_prompt(tokenizer, previous, without_timestamps=True)
        result = model.model.generate(
            encoded,
            [prompt],
            beam_size=s.beam_size,
            # a bound on tokens for the audio's length: a decode that starts repeating stops early
            max_length=len(prompt) + int(10 + _TOKENS_PER_S * duration),
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=get_suppressed_tokens(tokenizer, [-1]),
            sampling_temperature=options.temperature or 1.0,
            sampling_topk=0 if options.temperature else 1,
        )[0]
        tokens = result.sequences_ids[0]
        avg_logprob = result.scores[0] * len(tokens) / (len(tokens) + 1)
        text = tokenizer.decode(tokens)
        if not text.strip() or (result.no_speech_prob > _NO_SPEECH and avg_logprob < _LOW_LOGPROB):
            return language, iter([])  # as faster-whisper does: silence, not words
        segment = Segment(
            id=0,
            start=0.0,
            end=duration,
            text=text,
            tokens=tuple(tokens),
            temperature=options.temperature,
            avg_logprob=avg_logprob,
            no_speech_prob=result.no_speech_prob,
        )
        return language, iter([segment])


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
