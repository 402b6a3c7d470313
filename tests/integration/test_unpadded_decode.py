"""The unpadded decode (realtime finals, REST json/text) on real speech from one sentence to ~20 s:
it must read as well as Whisper's own 30 s window decode at every length."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tests.speech import speech_stream
from voxrt.asr import ASREngine, TranscriptionOptions, create_asr_engine
from voxrt.bench.corpus import SENTENCES
from voxrt.bench.wer import wer
from voxrt.config import load_settings


@pytest.fixture(scope="module")
def engine() -> Iterator[ASREngine]:
    engine = create_asr_engine(load_settings().asr)
    engine.load(warmup=False)
    yield engine
    engine.close()


# Utterances of 1-5 sentences with pauses inside them: about 2 s to 21 s of audio.
@pytest.mark.parametrize(("count", "gap_ms"), [(1, 0), (2, 500), (3, 800), (4, 1200), (5, 1200), (5, 2000)])
def test_unpadded_decode_reads_long_utterances(engine: ASREngine, count: int, gap_ms: int) -> None:
    audio = speech_stream(gaps_ms=(gap_ms,) * (count - 1), lead_ms=300, tail_ms=300).audio
    result = asyncio.run(engine.transcribe(audio, TranscriptionOptions(timestamps=False)))
    assert len(result.segments) == 1  # the unpadded path: one segment spanning the audio
    assert wer([" ".join(SENTENCES[:count])], [result.text]) <= 0.07, result.text
