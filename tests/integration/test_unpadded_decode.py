"""The unpadded decode (realtime finals, REST json/text) on real speech from one sentence to ~20 s:
it must read about as well as Whisper's own 30 s window decode at every length."""

from __future__ import annotations

import asyncio

from tests.speech import speech_stream
from voxrt.asr import TranscriptionOptions, create_asr_engine
from voxrt.bench.corpus import SENTENCES
from voxrt.bench.wer import wer
from voxrt.config import load_settings

# Utterances of 1-5 sentences with pauses inside them: about 2 s to 21 s of audio.
UTTERANCES = [(1, 0), (2, 500), (3, 800), (4, 1200), (5, 1200), (5, 2000)]


def test_unpadded_decode_reads_long_utterances() -> None:
    engine = create_asr_engine(load_settings().asr)
    engine.load(warmup=False)
    references, hypotheses = [], []
    try:
        for count, gap_ms in UTTERANCES:
            audio = speech_stream(gaps_ms=(gap_ms,) * (count - 1), lead_ms=300, tail_ms=300).audio
            result = asyncio.run(engine.transcribe(audio, TranscriptionOptions(timestamps=False)))
            assert len(result.segments) == 1  # the unpadded path: one segment spanning the audio
            reference = " ".join(SENTENCES[:count])
            # Piper's speech varies from run to run; one misheard word is 11% of one sentence.
            assert wer([reference], [result.text]) <= 0.15, result.text
            references.append(reference)
            hypotheses.append(result.text)
    finally:
        engine.close()
    # Padding to 10 s only: 8% here, from utterances over ~12 s running on into repeated phrases.
    assert wer(references, hypotheses) <= 0.04, hypotheses
