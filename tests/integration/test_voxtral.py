"""The voxtral engine on a tiny random-weight Voxtral saved in a temp dir and loaded through the
engine's real from_pretrained path: decoding, token limits, batching across callers, audio
understanding, the REST API, and the errors raised at start.

Random weights emit arbitrary tokens, so these tests check the flow and the limits, not words;
where they count tokens the audio is seeded noise (Piper's speech differs a little run to run, and
so would the random model's tokens).
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.integration.conftest import serve_in_process
from tests.speech import RATE, noise, sentences
from voxrt.asr import TranscriptionOptions, create_asr_engine
from voxrt.asr.voxtral import VoxtralEngine
from voxrt.audio.pcm import wav_bytes
from voxrt.config import ConfigError, load_settings
from voxrt.errors import InvalidRequest
from voxrt.server.state import state

pytestmark = pytest.mark.integration

MAX_NEW_TOKENS = 10


def _audio(seconds: float, seed: int = 0) -> np.ndarray:
    return noise(int(seconds * RATE), -20.0, "pink", seed)


def _settings(model: Path | str, **asr: Any) -> Any:
    return load_settings(overrides={"asr": {"engine": "voxtral", "model": str(model), **asr}}).asr


@pytest.fixture(scope="module")
def engine(tiny_voxtral: Path) -> Iterator[VoxtralEngine]:
    # a long batch window: the batching test must not depend on this machine's speed
    made = create_asr_engine(_settings(tiny_voxtral, max_new_tokens=MAX_NEW_TOKENS, batch_wait_ms=1000))
    assert isinstance(made, VoxtralEngine)
    made.load()
    yield made
    made.close()


def test_loads_on_cpu_in_float32_and_transcribes_speech(engine: VoxtralEngine) -> None:
    assert (engine.device, engine.dtype, engine.attn_implementation) == ("cpu", "float32", "sdpa")
    assert engine.model_id == "tiny-voxtral"
    options = TranscriptionOptions(language="en", prompt="ignored", word_timestamps=True)
    result = asyncio.run(engine.transcribe(_audio(3.0), options))
    assert isinstance(result.text, str) and result.text
    assert result.language == "en"
    # the options that really ran: Voxtral's transcription mode has no prompt and no word timings
    assert result.options.prompt is None and result.options.word_timestamps is False
    assert len(result.segments) == 1 and result.segments[0].end == pytest.approx(result.duration)
    tokens = [len(s.tokens) for s in result.segments]
    assert max(tokens) == MAX_NEW_TOKENS  # random weights run to the limit, and stop there


def test_long_audio_is_decoded_in_pieces_cut_at_pauses(engine: VoxtralEngine) -> None:
    speech = _audio(75.0)  # no pause at all
    audio = np.concatenate([speech[: 27 * RATE], np.zeros(RATE // 2, np.float32), speech[27 * RATE :]])
    result = asyncio.run(engine.transcribe(audio, TranscriptionOptions()))
    spans = [(s.start, s.end) for s in result.segments]
    assert len(spans) >= 3 and spans[0][0] == 0.0 and spans[-1][1] == pytest.approx(len(audio) / RATE)
    assert 27.0 <= spans[0][1] <= 27.5  # the first cut is in the inserted pause
    assert all(end - start <= 30.0 for start, end in spans)
    assert all(len(s.tokens) <= MAX_NEW_TOKENS for s in result.segments)


def test_concurrent_decodes_run_as_one_batch_each_with_its_own_result(engine: VoxtralEngine) -> None:
    first, second = _audio(2.0, seed=1), _audio(6.0, seed=2)
    options = TranscriptionOptions()

    async def alone() -> list[str]:
        return [(await engine.transcribe(audio, options)).text for audio in (first, second)]

    async def together() -> list[str]:
        results = await asyncio.gather(engine.transcribe(first, options), engine.transcribe(second, options))
        return [r.text for r in results]

    solo = asyncio.run(alone())
    assert solo[0] != solo[1]  # the random model's output depends on the audio
    before = len(engine.batch_sizes)
    assert asyncio.run(together()) == solo
    assert engine.batch_sizes[before:] == [2]


def test_audio_understanding_answers_an_instruction(engine: VoxtralEngine) -> None:
    before = len(engine.batch_sizes)
    answer = asyncio.run(engine.understand(_audio(3.0), "What does the speaker ask?", max_new_tokens=8))
    assert isinstance(answer, str) and answer
    assert len(engine.batch_sizes) == before + 1


def test_a_language_voxtral_cannot_take_is_a_clear_request_error(engine: VoxtralEngine) -> None:
    with pytest.raises(InvalidRequest, match="not an ISO 639-1") as caught:
        asyncio.run(engine.transcribe(_audio(2.0), TranscriptionOptions(language="klingon")))
    assert caught.value.param == "language"
    assert asyncio.run(engine.transcribe(_audio(2.0), TranscriptionOptions())).text  # still works


@pytest.fixture(scope="module")
def client(tiny_voxtral: Path) -> Iterator[TestClient]:
    # The audio is noise (random weights read nothing anyway): keep the REST VAD gate from
    # answering "" for it, so the tests reach the model.
    overrides = {
        "asr": {"engine": "voxtral", "model": str(tiny_voxtral), "max_new_tokens": 6},
        "audio": {"rest_vad": False},
    }
    with serve_in_process(overrides) as made:
        yield made


def test_rest_transcription_through_voxtral(client: TestClient) -> None:
    speech = wav_bytes(_audio(3.0), RATE)
    post = client.post
    plain = post("/v1/audio/transcriptions", files={"file": ("a.wav", speech)})
    assert plain.status_code == 200, plain.text
    assert isinstance(plain.json()["text"], str) and plain.json()["text"]
    verbose = post(
        "/v1/audio/transcriptions",
        files={"file": ("a.wav", speech)},
        data={"response_format": "verbose_json"},
    )
    body = verbose.json()
    assert verbose.status_code == 200 and body["segments"]
    assert all(0 < len(s["tokens"]) <= 6 for s in body["segments"])
    srt = post("/v1/audio/transcriptions", files={"file": ("a.wav", speech)}, data={"response_format": "srt"})
    assert srt.status_code == 200 and srt.text.startswith("1\n00:00:00,000 --> ")
    stream = post("/v1/audio/transcriptions", files={"file": ("a.wav", speech)}, data={"stream": "true"})
    events = [json.loads(line[6:]) for line in stream.text.splitlines() if line.startswith("data: ")]
    assert events[-1]["type"] == "transcript.text.done"
    assert "".join(e["delta"] for e in events[:-1]) == events[-1]["text"]
    assert client.get("/v1/models").json()["data"][0]["id"] == "tiny-voxtral"


def test_batch_sizes_reach_metrics(client: TestClient) -> None:
    engine = state(client.app).models.asr
    assert isinstance(engine, VoxtralEngine)
    speech = wav_bytes((_audio(2.0) * 32767).astype(np.int16), RATE)
    assert client.post("/v1/audio/transcriptions", files={"file": ("a.wav", speech)}).status_code == 200
    registry = state(client.app).metrics.registry
    # warm-up decodes count too: the histogram is wired before the model loads
    assert registry.get_sample_value("voxrt_inference_batch_size_count") == len(engine.batch_sizes) > 0
    assert registry.get_sample_value("voxrt_inference_batch_size_sum") == sum(engine.batch_sizes)


# -- errors at start -----------------------------------------------------------------------------


def _copy(source: Path, target: Path, leave_out: str) -> Path:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(leave_out))
    return target


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing", "no such directory"),
        ("no weights", "no weights in it"),
        ("no config", "no config.json"),
        ("no tokenizer", "no tekken.json"),
        ("not voxtral", "a 'whisper' model, not voxtral"),
        ("uncached id", "not in the local Hugging Face cache"),
    ],
)
def test_an_unusable_model_fails_at_start_naming_the_key(
    case: str, message: str, tiny_voxtral: Path, tmp_path: Path
) -> None:
    if case == "missing":
        model: Path | str = tmp_path / "absent"
    elif case == "no weights":
        model = _copy(tiny_voxtral, tmp_path / "m", "*.safetensors")
    elif case == "no config":
        model = _copy(tiny_voxtral, tmp_path / "m", "config.json")
    elif case == "no tokenizer":
        model = _copy(tiny_voxtral, tmp_path / "m", "tekken.json")
    elif case == "not voxtral":
        model = _copy(tiny_voxtral, tmp_path / "m", "")
        (model / "config.json").write_text(json.dumps({"model_type": "whisper"}))
    else:
        model = "voxrt-tests/never-downloaded"
    with pytest.raises(ConfigError, match=message) as caught:
        create_asr_engine(_settings(model))
    assert "asr.model" in str(caught.value)


def test_a_model_id_is_taken_from_the_local_cache_only(
    tiny_voxtral: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import constants

    repo = tmp_path / "hub" / "models--voxrt-tests--tiny-voxtral"
    shutil.copytree(tiny_voxtral, repo / "snapshots" / "0123abcd")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abcd")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    made = create_asr_engine(_settings("voxrt-tests/tiny-voxtral"))
    assert made.model_id == "voxrt-tests/tiny-voxtral"
    made.close()


def test_cuda_asked_for_but_absent_fails_at_start(tiny_voxtral: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is visible here")
    with pytest.raises(ConfigError, match=r"asr\.device = 'cuda'.*sees no CUDA device"):
        create_asr_engine(_settings(tiny_voxtral, device="cuda"))
    with pytest.raises(ConfigError, match="flash_attention_2' needs CUDA and the flash-attn"):
        create_asr_engine(_settings(tiny_voxtral, attn_implementation="flash_attention_2"))
    auto = create_asr_engine(_settings(tiny_voxtral, device="auto"))
    assert isinstance(auto, VoxtralEngine) and auto.device == "cpu"
    auto.close()


def test_streaming_sessions_run_partial_decodes_on_voxtral(
    engine: VoxtralEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from voxrt.asr.streaming import Completed, SpeechStopped, StreamEvent, StreamingRecognizer
    from voxrt.asr.turns import VadTurns
    from voxrt.config import VadSettings
    from voxrt.runtime.pool import Priority
    from voxrt.vad import Segmenter, create_vad

    decodes: list[tuple[Priority, bool]] = []  # (priority, did the utterance already end)
    events: list[StreamEvent] = []
    transcribe = engine.transcribe

    def spy(audio: np.ndarray, options: TranscriptionOptions, **kwargs: Any) -> Any:
        decodes.append(
            (kwargs.get("priority", Priority.FINAL), any(isinstance(e, SpeechStopped) for e in events))
        )
        return transcribe(audio, options, **kwargs)

    monkeypatch.setattr(engine, "transcribe", spy)
    speech = np.concatenate([np.zeros(RATE // 2, np.float32), sentences()[4], np.zeros(RATE, np.float32)])

    async def run() -> None:
        vad = create_vad("silero")
        segmenter = Segmenter(vad.stream(), vad.frame_samples, VadSettings())
        recognizer = StreamingRecognizer(
            engine,
            VadTurns(segmenter),
            TranscriptionOptions(timestamps=False),
            events.append,
            new_item_id=lambda: f"item_{len(events)}",
        )
        for offset in range(0, len(speech), RATE // 10):  # 100 ms at a time, at 2x real time
            recognizer.push(speech[offset : offset + RATE // 10])
            await asyncio.sleep(0.05)
        while not any(isinstance(e, Completed) for e in events):
            await asyncio.sleep(0.05)
        await recognizer.aclose()

    asyncio.run(asyncio.wait_for(run(), 60))
    assert (Priority.PARTIAL, False) in decodes  # partials ran while the person was speaking
    assert decodes[-1][0] == Priority.FINAL
