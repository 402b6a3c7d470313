"""Every speech synthesis engine, real models: what it says transcribes back through tiny.en, it
streams, resamples, follows speed, and refuses unknown voices."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from voxrt.asr import ASREngine, TranscriptionOptions, create_asr_engine
from voxrt.bench.wer import wer
from voxrt.config import AsrSettings, ConfigError, TtsSettings
from voxrt.errors import InvalidRequest
from voxrt.tts import ENGINES, SynthesisMetrics, TTSEngine, create_tts_engine

pytestmark = pytest.mark.integration

MAX_WER = 0.10
# Eight short sentences (Kokoro runs at about real time here); a number and an abbreviation go
# through the chunker's normalization on the way.
SENTENCES = (
    "The cat sat on the warm mat.",
    "Please close the door quietly.",
    "We walked to the old station.",
    "She bought 3 green apples.",
    "The river is very cold today.",
    "Dr. Brown answered the phone.",
    "My brother plays the piano.",
    "The bus was late again.",
)
# Kokoro in an English voice; the others in their defaults.
VOICES = {"kokoro": "af_heart", "piper": None, "espeak": None}


@pytest.fixture(scope="module")
def asr() -> Iterator[ASREngine]:
    engine = create_asr_engine(AsrSettings(unpadded_encoder=False))
    engine.load(warmup=False)
    yield engine
    engine.close()


@pytest.fixture(scope="module", params=ENGINES)
def tts(request: pytest.FixtureRequest) -> Iterator[TTSEngine]:
    engine = create_tts_engine(TtsSettings(threads=2), request.param)
    engine.load(warmup=False)
    yield engine
    engine.close()


async def _speak(engine: TTSEngine, text: str, **kwargs: object) -> tuple[np.ndarray, SynthesisMetrics]:
    metrics: list[SynthesisMetrics] = []
    chunks = [c async for c in engine.synthesize(text, on_metrics=metrics.append, **kwargs)]  # type: ignore[arg-type]
    return np.concatenate(chunks), metrics[0]


def test_speech_transcribes_back(tts: TTSEngine, asr: ASREngine) -> None:
    """The eight sentences as one text, as a reply is spoken: chunked, synthesized, joined."""
    text = " ".join(SENTENCES)

    async def run() -> str:
        audio, _ = await _speak(tts, text, voice=VOICES[tts.name], sample_rate=16000)
        return (await asr.transcribe(audio, TranscriptionOptions(language="en"))).text

    heard = asyncio.run(run())
    assert wer([text], [heard]) <= MAX_WER, heard


def test_metrics_and_rate(tts: TTSEngine) -> None:
    text = "Good morning. The meeting starts in ten minutes, in the small room."
    native, metrics = asyncio.run(_speak(tts, text, voice=VOICES[tts.name]))
    resampled, _ = asyncio.run(_speak(tts, text, voice=VOICES[tts.name], sample_rate=24000))
    assert metrics.engine == tts.name and metrics.characters == len(text)
    assert 2.0 < metrics.audio_s < 10.0
    assert metrics.audio_s == pytest.approx(len(native) / tts.sample_rate)
    assert 0 < metrics.tts_ttfb_ms <= metrics.elapsed_s * 1000
    assert native.dtype == np.float32 and np.abs(native).max() <= 1.05 and np.abs(native).max() > 0.05
    # Kokoro and Piper are sampled, not deterministic: compare durations loosely
    assert len(resampled) / 24000 == pytest.approx(len(native) / tts.sample_rate, rel=0.15)


def test_speed_changes_duration(tts: TTSEngine) -> None:
    text = "This sentence is read at two different speeds."
    normal, _ = asyncio.run(_speak(tts, text, voice=VOICES[tts.name], speed=1.0))
    fast, _ = asyncio.run(_speak(tts, text, voice=VOICES[tts.name], speed=2.0))
    assert len(fast) < 0.75 * len(normal)


def test_long_text_streams_in_chunks(tts: TTSEngine) -> None:
    text = "First, a short clause. " + " ".join(SENTENCES[:2])  # two chunks

    async def run() -> tuple[int, float, float]:
        chunks = 0
        first = 0.0
        loop = asyncio.get_running_loop()
        started = loop.time()
        async for _ in tts.synthesize(text, VOICES[tts.name]):
            chunks += 1
            first = first or loop.time() - started
        return chunks, first, loop.time() - started

    chunks, first, total = asyncio.run(run())
    assert chunks >= 2
    assert first < total


def test_abandoned_synthesis_stops(tts: TTSEngine) -> None:
    async def run() -> None:
        stream = tts.synthesize(" ".join(SENTENCES), VOICES[tts.name])
        async with contextlib.aclosing(stream):  # type: ignore[type-var]
            async for _ in stream:
                break
        # the engine is free again at once: another request completes
        audio, _ = await _speak(tts, "Still here.", voice=VOICES[tts.name])
        assert len(audio) > 0

    asyncio.run(run())


def test_voices(tts: TTSEngine) -> None:
    assert tts.default_voice in tts.voices
    mapped = tts.openai_voice_map()
    assert set(mapped) >= {"alloy", "echo", "nova", "shimmer"}
    assert set(mapped.values()) <= set(tts.voices)
    assert tts.resolve_voice("alloy") == mapped["alloy"]
    assert tts.resolve_voice(tts.voices[-1]) == tts.voices[-1]
    with pytest.raises(InvalidRequest) as error:
        tts.resolve_voice("no-such-voice")
    assert error.value.param == "voice"


def test_config_errors_name_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"tts\.kokoro_voices = .*voxrt setup kokoro"):
        create_tts_engine(TtsSettings(engine="kokoro", kokoro_voices=tmp_path / "missing.npz"))
    with pytest.raises(ConfigError, match=r"tts\.model = .*no such Piper voice"):
        create_tts_engine(TtsSettings(engine="piper", model=tmp_path / "missing.onnx"))
    (tmp_path / "voice.onnx").write_bytes(b"")
    with pytest.raises(ConfigError, match=r"voice\.onnx\.json is missing"):
        create_tts_engine(TtsSettings(engine="piper", model=tmp_path / "voice.onnx"))
    engine = create_tts_engine(TtsSettings(engine="espeak", voice="no-such-voice"))
    with pytest.raises(ConfigError, match=r"tts\.voice = 'no-such-voice'"):
        engine.load(warmup=False)
    engine.close()


def test_serve_stops_on_a_bad_tts_config(tmp_path: Path) -> None:
    env = {**os.environ, "VOXRT_TTS__ENGINE": "kokoro", "VOXRT_TTS__KOKORO_VOICES": str(tmp_path / "x.npz")}
    done = subprocess.run(
        [sys.executable, "-m", "voxrt.cli", "serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2 and "tts.kokoro_voices" in done.stderr, done.stderr
