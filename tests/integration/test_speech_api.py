"""``POST /v1/audio/speech`` in-process with Piper: OpenAI's fields, SSE, the models list, and every
kind of bad input answered in OpenAI's error shape with the server going on."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from typing import Any

import av
import pytest
from fastapi.testclient import TestClient

from tests.integration.conftest import API_KEY, AUTH, serve_in_process
from voxrt.server.state import state

pytestmark = pytest.mark.integration

GOOD = {"model": "tts-1", "input": "Hello there.", "voice": "alloy", "response_format": "pcm"}


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with serve_in_process({"auth": {"api_keys": [API_KEY]}, "tts": {"engine": "piper"}}) as c:
        yield c


def _speech(client: TestClient, body: Any, **kwargs: Any) -> Any:
    return client.post("/v1/audio/speech", json=body, headers=AUTH, **kwargs)


def _assert_works(client: TestClient) -> None:
    response = _speech(client, GOOD)
    assert response.status_code == 200
    assert len(response.content) > 24000  # over half a second of 16-bit 24 kHz audio


@pytest.mark.parametrize(
    ("change", "status", "param"),
    [
        ({"input": ""}, 400, "input"),
        ({"input": "... ```\ncode only\n```"}, 400, "input"),
        ({"input": "x" * 4097}, 400, "input"),
        ({"voice": "no-such-voice"}, 400, "voice"),
        ({"voice": {"id": "no-such-voice"}}, 400, "voice"),
        ({"model": "no-such-model"}, 404, "model"),
        ({"response_format": "ogg"}, 400, "response_format"),
        ({"speed": 0.1}, 400, "speed"),
        ({"speed": 4.5}, 400, "speed"),
        ({"stream_format": "websocket"}, 400, "stream_format"),
        ({"input": 42}, 400, "input"),
        ({"input": ["a", "b"]}, 400, "input"),
        ({"speed": "fast"}, 400, "speed"),
        ({"voice": 7}, 400, "voice"),
        ({"model": None}, 400, "model"),
        ({"input": None}, 400, "input"),
    ],
)
def test_bad_input(client: TestClient, change: dict[str, Any], status: int, param: str) -> None:
    response = _speech(client, {**GOOD, **change})
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error" and error["param"] == param and error["message"]
    _assert_works(client)


@pytest.mark.parametrize("missing", ["model", "input", "voice"])
def test_missing_field(client: TestClient, missing: str) -> None:
    response = _speech(client, {k: v for k, v in GOOD.items() if k != missing})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == missing
    _assert_works(client)


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b""])
def test_body_not_a_json_object(client: TestClient, body: bytes) -> None:
    response = client.post(
        "/v1/audio/speech", content=body, headers={**AUTH, "Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
    _assert_works(client)


def test_needs_the_api_key(client: TestClient) -> None:
    response = client.post("/v1/audio/speech", json=GOOD)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"
    _assert_works(client)


def test_fields_and_voices(client: TestClient) -> None:
    """OpenAI and voxrt names for model and voice, a voice object, instructions (ignored)."""
    for change in (
        {"model": "piper"},
        {"model": "gpt-4o-mini-tts", "instructions": "Speak like a pirate."},
        {"voice": "en_US-joe-medium"},
        {"voice": {"id": "en_US-joe-medium"}},
        {"voice": "NOVA"},
        {"speed": 0.25},
        {"speed": 4.0},
    ):
        response = _speech(client, {**GOOD, **change})
        assert response.status_code == 200, (change, response.text)
        assert response.headers["content-type"] == "audio/pcm"
    slow = len(_speech(client, {**GOOD, "speed": 0.5}).content)
    fast = len(_speech(client, {**GOOD, "speed": 2.0}).content)
    assert fast < slow / 2


def test_wav_header_says_24_khz(client: TestClient) -> None:
    response = _speech(client, {**GOOD, "response_format": "wav"})
    assert response.headers["content-type"] == "audio/wav"
    with av.open(io.BytesIO(response.content), mode="r") as container:
        stream = container.streams.audio[0]
        assert (stream.rate, stream.channels) == (24000, 1)


def test_sse(client: TestClient) -> None:
    text = "This is the first sentence. And this is the second one, a little longer."
    with client.stream(
        "POST", "/v1/audio/speech", json={**GOOD, "input": text, "stream_format": "sse"}, headers=AUTH
    ) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = [json.loads(line[6:]) for line in r.iter_lines() if line.startswith("data: ")]
    assert [e["type"] for e in events[:-1]] == ["speech.audio.delta"] * (len(events) - 1)
    assert len(events) >= 3  # two chunks at least, then done
    done = events[-1]
    assert done["type"] == "speech.audio.done"
    pcm = b"".join(base64.b64decode(e["audio"]) for e in events[:-1])
    seconds = len(pcm) / 48000
    assert 2.0 < seconds < 12.0
    assert done["usage"] == {
        "input_tokens": len(text),
        "output_tokens": round(seconds / 0.02),
        "total_tokens": len(text) + round(seconds / 0.02),
    }


def test_models_list_speech(client: TestClient) -> None:
    listed = client.get("/v1/models", headers=AUTH).json()["data"]
    ids = [m["id"] for m in listed]
    assert {"piper", "tts-1", "tts-1-hd", "gpt-4o-mini-tts"} <= set(ids)
    model = client.get("/v1/models/tts-1", headers=AUTH).json()
    assert model["engine"] == "piper" and model["voices"] == ["en_US-joe-medium"]
    assert client.get("/ready").json()["models"][-1] == "piper"


def test_speech_off() -> None:
    with serve_in_process({"tts": {"engine": "none"}}) as client:
        response = client.post("/v1/audio/speech", json=GOOD)
        assert response.status_code == 404
        assert response.json()["error"]["param"] == "model"
        ids = [m["id"] for m in client.get("/v1/models").json()["data"]]
        assert "tts-1" not in ids


def test_prometheus_counts_speech(client: TestClient) -> None:
    _assert_works(client)
    text = client.get("/metrics", headers=AUTH).text
    count = next(
        ln for ln in text.splitlines() if ln.startswith('voxrt_tts_ttfb_seconds_count{engine="piper"}')
    )
    assert float(count.split()[-1]) >= 1
    audio = next(
        ln for ln in text.splitlines() if ln.startswith('voxrt_tts_audio_seconds_total{engine="piper"}')
    )
    assert float(audio.split()[-1]) > 0.5


def test_rest_slots_are_given_back(client: TestClient) -> None:
    slots = state(client.app).rest_slots
    for change in ({}, {"stream_format": "sse"}, {"response_format": "mp3"}):
        assert _speech(client, {**GOOD, **change}).status_code == 200
    assert slots.taken == 0
    slots.taken = slots.limit  # all taken: a speech request is refused, and says when to retry
    try:
        busy = _speech(client, GOOD)
    finally:
        slots.taken = 0
    assert busy.status_code == 503 and "retry-after" in busy.headers
    _assert_works(client)
