"""The models registry: one readiness for every configured model, an unusable language model left
out with its reason, one inference pool that close joins, and batch sizes reaching /metrics."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from importlib.machinery import ModuleSpec
from importlib.util import find_spec
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.fakes import ScriptedASR, ScriptedResponder
from voxrt.asr import ASREngine, Segment, TranscriptionOptions, create_asr_engine
from voxrt.asr.batcher import Batcher
from voxrt.config import Settings, load_settings
from voxrt.llm import llama_cpp
from voxrt.runtime import Priority
from voxrt.runtime.models import Models
from voxrt.server import create_app
from voxrt.server.state import state
from voxrt.tts import TTSEngine


def _settings(**overrides: Any) -> Settings:
    # the energy VAD has no model file: these tests load no model at all
    return load_settings(overrides={"vad": {"engine": "energy"}, "tts": {"engine": "none"}, **overrides})


class _SilentTTS(TTSEngine):
    name = "silent"
    sample_rate = 24000
    voices = ("quiet",)

    def _load(self) -> None:
        pass

    def _synthesize(self, text: str, voice: str, speed: float) -> Iterator[np.ndarray]:
        yield np.zeros(240, np.float32)


class _HeldResponder(ScriptedResponder):
    """A responder whose load waits until ``release`` is set."""

    def __init__(self) -> None:
        super().__init__(["Hi."])
        self.model_id = "held-llm"
        self.release = threading.Event()

    def _load(self) -> None:
        assert self.release.wait(10)


def _wait_for(condition: Any, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_ready_waits_for_every_configured_model() -> None:
    llm, tts, asr = _HeldResponder(), _SilentTTS(), ScriptedASR()
    app = create_app(_settings(), engine=asr, tts=tts, responder=llm)
    models = state(app).models
    assert (models.asr, models.tts, models.llm) == (asr, tts, llm) and models.vad is not None
    with TestClient(app) as client:
        _wait_for(lambda: asr.ready and tts.ready)
        assert not models.ready  # the language model still loads
        assert client.get("/ready").json() == {"status": "loading"}
        llm.release.set()
        _wait_for(lambda: client.get("/ready").status_code == 200)
        assert models.ready
        assert client.get("/ready").json() == {"status": "ready", "models": ["scripted", "silent"]}
        listed = client.get("/v1/models").json()["data"]
        assert [m["id"] for m in listed][:1] == ["scripted"]
        (language_model,) = [m for m in listed if m.get("voxrt", {}).get("kind") == "llm"]
        assert language_model == {
            "id": "held-llm",
            "object": "model",
            "created": state(app).started_at,
            "owned_by": "voxrt",
            "voxrt": {"kind": "llm", "engine": "llama_cpp", "loaded": True},
        }
        assert client.get("/v1/models/held-llm").json() == language_model


def test_a_failed_load_is_reported_by_ready() -> None:
    llm = ScriptedResponder(["Hi."])

    def broken() -> None:
        raise OSError("weights unreadable")

    llm._load = broken  # type: ignore[method-assign]
    with TestClient(create_app(_settings(), engine=ScriptedASR(), responder=llm)) as client:
        _wait_for(lambda: client.get("/ready").json()["status"] != "loading")
        assert client.get("/ready").json() == {"status": "failed", "error": "OSError: weights unreadable"}


def test_a_language_model_that_cannot_be_used_is_none_with_the_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def without_llama_cpp(name: str) -> ModuleSpec | None:
        return None if name == "llama_cpp" else find_spec(name)

    monkeypatch.setattr(llama_cpp, "find_spec", without_llama_cpp)
    app = create_app(_settings(), engine=ScriptedASR())
    models = state(app).models
    assert models.llm is None
    assert models.llm_unavailable == (
        "llm.engine = 'llama_cpp' needs llama-cpp-python: pip install 'voxrt[llm]'."
    )
    with TestClient(app) as client:  # the rest of the server does not wait for it
        _wait_for(lambda: client.get("/ready").status_code == 200)
        assert all(m.get("voxrt", {}).get("kind") != "llm" for m in client.get("/v1/models").json()["data"])

    voxtral = Models(_settings(llm={"engine": "voxtral"}), asr=ScriptedASR())
    assert voxtral.llm is None and "set asr.engine: voxtral" in (voxtral.llm_unavailable or "")
    asyncio.run(voxtral.aclose())


def test_llm_engine_none_loads_no_language_model_and_refuses_conversations() -> None:
    app = create_app(_settings(llm={"engine": "none"}), engine=ScriptedASR())
    assert state(app).models.llm is None
    with TestClient(app) as client:
        _wait_for(lambda: client.get("/ready").status_code == 200)
        assert all(m.get("voxrt", {}).get("kind") != "llm" for m in client.get("/v1/models").json()["data"])
        with client.websocket_connect("/v1/realtime") as ws:
            error = ws.receive_json()
        assert error["type"] == "error"
        assert error["error"]["code"] == "conversation_unavailable"
        assert error["error"]["message"].endswith("this server has none: llm.engine is none.")
        with client.websocket_connect("/v1/realtime?intent=transcription") as ws:
            assert ws.receive_json()["type"] == "session.created"  # transcription is unaffected


def test_engines_share_the_pool_and_close_joins_it() -> None:
    settings = _settings(asr={"num_workers": 3})
    models = Models(settings, asr=create_asr_engine(settings.asr, pool=None), llm=ScriptedResponder([]))
    assert models.pool.workers == 3 and models.asr.pool is not models.pool  # an injected engine's own
    models.asr.close()
    shared = create_asr_engine(settings.asr, models.pool)
    assert shared.pool is models.pool
    shared.close()  # an engine leaves a shared pool to its owner
    assert models.pool.alive()
    ran = threading.Event()

    def slow() -> None:
        time.sleep(0.2)
        ran.set()

    queued = [models.pool.submit(Priority.REST, slow) for _ in range(2)]
    asyncio.run(models.aclose())
    assert ran.is_set() and all(f.done() for f in queued)  # jobs queued before close ran
    assert not models.pool.alive()


class _BatchingASR(ASREngine):
    """Decodes gathered across callers by a real ``Batcher``, as voxtral's are; ``together``
    callers are prepared at once, so they form one batch."""

    def __init__(self, together: int) -> None:
        super().__init__("batching", max_parallel=4)
        self.batcher: Batcher[float, str] = Batcher(
            lambda items: ["hi"] * len(items),
            max_batch=4,
            wait_s=2.0,
            key=lambda _: 0,
            name="fake",
            on_batch=self._batch_ran,
        )
        self.barrier = threading.Barrier(together)

    def _load(self) -> None:
        pass

    def _decode(
        self, audio: np.ndarray, options: TranscriptionOptions
    ) -> tuple[str | None, Iterator[Segment]]:
        with self.batcher.preparing():
            self.barrier.wait(5)
            future = self.batcher.submit(len(audio) / 16000)
        text = future.result(5)
        return "en", iter([Segment(id=0, start=0.0, end=len(audio) / 16000, text=text)])

    def close(self) -> None:
        super().close()
        self.batcher.close()


def test_batch_sizes_reach_the_histogram() -> None:
    engine = _BatchingASR(together=2)
    app = create_app(_settings(), engine=engine, responder=ScriptedResponder([]))
    engine.load(warmup=False)
    audio = np.zeros(16000, np.float32)

    async def decode_twice_together() -> None:
        await asyncio.gather(*(engine.transcribe(audio, TranscriptionOptions()) for _ in range(2)))

    asyncio.run(decode_twice_together())
    engine.barrier = threading.Barrier(1)
    asyncio.run(engine.transcribe(audio, TranscriptionOptions()))
    asyncio.run(state(app).models.aclose())
    assert list(engine.batcher.batch_sizes) == [2, 1]
    registry = state(app).metrics.registry
    assert registry.get_sample_value("voxrt_inference_batch_size_count") == 2
    assert registry.get_sample_value("voxrt_inference_batch_size_sum") == 3
    assert registry.get_sample_value("voxrt_inference_batch_size_bucket", {"le": "1.0"}) == 1
