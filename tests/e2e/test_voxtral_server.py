"""``voxrt serve`` and ``voxrt transcribe`` on the voxtral engine (a tiny random-weight Voxtral):
realtime sessions with partials, REST token limits, a model id from the local cache, and the
errors that stop the start."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.speech import RATE, noise, pcm16, speech_stream
from voxrt.audio.pcm import wav_bytes
from voxrt.bench.corpus import Utterance
from voxrt.bench.realtime_client import RealtimeClient
from voxrt.bench.server import ServerProcess, running_server

pytestmark = pytest.mark.e2e

MAX_NEW_TOKENS = 8


@pytest.fixture(scope="module")
def voxtral_server(tmp_path_factory: pytest.TempPathFactory, tiny_voxtral: Path) -> Iterator[ServerProcess]:
    directory = tmp_path_factory.mktemp("voxtral-server")
    config = directory / "voxrt.yaml"
    asr = {"engine": "voxtral", "model": str(tiny_voxtral), "max_new_tokens": MAX_NEW_TOKENS}
    # the test audio is noise (random weights read nothing anyway): no upload VAD gate
    config.write_text(yaml.safe_dump({"asr": asr, "audio": {"rest_vad": False}}))
    with running_server(directory / "server.log", config=config) as process:
        yield process


def test_realtime_utterances_flow_through_voxtral(voxtral_server: ServerProcess) -> None:
    speech = speech_stream(gaps_ms=(1200,), lead_ms=500, tail_ms=1500)

    async def run() -> RealtimeClient:
        client = await RealtimeClient.open(voxtral_server.realtime_url)
        await client.stream(pcm16(speech.audio, 24000), 24000, chunk_ms=40)
        await client.wait_for("conversation.item.input_audio_transcription.completed", 2)
        await client.wait_for("voxrt.metrics", 2)
        await client.close()
        return client

    client = asyncio.run(run())
    items: dict[str, list[str]] = {}
    for _, event in client.events:
        if "item_id" in event and event["type"] != "voxrt.metrics":
            items.setdefault(event["item_id"], []).append(event["type"])
    assert len(items) == 2, [e["type"] for _, e in client.events]
    for types in items.values():
        deltas = [t for t in types if t.endswith(".delta")]
        assert types == [
            "input_audio_buffer.speech_started",
            *deltas,
            "input_audio_buffer.speech_stopped",
            "input_audio_buffer.committed",
            "conversation.item.input_audio_transcription.completed",
        ], types
    completed = client.of_type("conversation.item.input_audio_transcription.completed")
    assert all(isinstance(e["transcript"], str) for e in completed)
    assert all(m["decode_ms"] > 0 for m in client.of_type("voxrt.metrics"))


def test_rest_answers_within_the_token_limit(voxtral_server: ServerProcess) -> None:
    # seeded noise: the random model's tokens follow the audio, and Piper's speech varies a little
    audio = noise(3 * RATE, -20.0, "pink")
    files = {"file": ("a.wav", wav_bytes(audio, RATE))}
    url = f"{voxtral_server.base_url}/v1/audio/transcriptions"
    plain = httpx.post(url, files=files, timeout=60)
    assert plain.status_code == 200 and isinstance(plain.json()["text"], str)
    verbose = httpx.post(url, files=files, data={"response_format": "verbose_json"}, timeout=60).json()
    assert [len(s["tokens"]) for s in verbose["segments"]] == [MAX_NEW_TOKENS]


def _voxrt(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VOXRT_")}
    return subprocess.run(
        [sys.executable, "-m", "voxrt.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**clean, **env},
    )


def test_transcribe_takes_a_model_id_from_the_local_cache(
    tiny_voxtral: Path, tmp_path: Path, corpus: list[Utterance]
) -> None:
    repo = tmp_path / "hub" / "models--voxrt-tests--tiny-voxtral"
    shutil.copytree(tiny_voxtral, repo / "snapshots" / "0123abcd")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abcd")
    env = {
        "HF_HUB_CACHE": str(tmp_path / "hub"),
        "VOXRT_ASR__ENGINE": "voxtral",
        "VOXRT_ASR__MODEL": "voxrt-tests/tiny-voxtral",
    }
    done = _voxrt("transcribe", str(corpus[0].path), env=env)
    assert done.returncode == 0, done.stderr  # loaded from the cache and decoded (random words)
    missing = _voxrt("transcribe", str(corpus[0].path), env={**env, "VOXRT_ASR__MODEL": "voxrt-tests/absent"})
    assert missing.returncode == 2
    assert "asr.model = 'voxrt-tests/absent': not a directory, and not in the local Hugging Face cache" in (
        missing.stderr
    )


@pytest.mark.parametrize(
    ("asr", "message"),
    [
        ({"model": "/nonexistent/voxtral"}, "asr.model = '/nonexistent/voxtral': no such directory"),
        ({"device": "cuda"}, "asr.device = 'cuda': torch"),
    ],
)
def test_serve_refuses_to_start_with_a_clear_error(
    asr: dict[str, str], message: str, tiny_voxtral: Path, tmp_path: Path
) -> None:
    import torch

    if asr.get("device") == "cuda" and torch.cuda.is_available():
        pytest.skip("a CUDA device is visible here")
    config = tmp_path / "voxrt.yaml"
    config.write_text(yaml.safe_dump({"asr": {"engine": "voxtral", "model": str(tiny_voxtral), **asr}}))
    done = _voxrt("serve", "--config", str(config), "--port", "1", env={})
    assert done.returncode == 2
    assert message in done.stderr


def test_bench_engine_runs_on_a_random_weight_model(tmp_path: Path) -> None:
    output = tmp_path / "engine.json"
    args = ["bench", "engine", "--random-weights", "--random-size", "tiny", "--durations", "1,31"]
    done = subprocess.run(
        [sys.executable, "-m", "voxrt.cli", *args, "--repeats", "1", "--output", str(output)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "RANDOM-WEIGHT timings" in done.stdout and "decode tok/s" in done.stdout
    report = json.loads(output.read_text())
    assert report["random_weights"] is True and [r["audio_s"] for r in report["rows"]] == [1, 31]
    assert all(r["latency_ms"]["p50"] > 0 and r["decode_tokens_per_s"] > 0 for r in report["rows"])
    assert report["batch"]["size"] == 8
