"""The REST transcription API in-process, with the real tiny.en model: errors and the happy path."""

from __future__ import annotations

import base64
import struct
import threading
import zlib
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.integration.conftest import API_KEY, AUTH, serve_in_process
from voxrt.audio.pcm import wav_bytes
from voxrt.bench.corpus import Utterance
from voxrt.bench.wer import wer

pytestmark = pytest.mark.integration

MAX_UPLOAD = 1_000_000


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with serve_in_process(
        {"auth": {"api_keys": [API_KEY]}, "limits": {"max_upload_bytes": MAX_UPLOAD, "max_audio_s": 20}}
    ) as c:
        yield c


def _post(client: TestClient, data: bytes | str, **fields: str):  # -> the TestClient's response
    if isinstance(data, str):
        return client.post("/v1/audio/transcriptions", data={"file": data, **fields}, headers=AUTH)
    return client.post(
        "/v1/audio/transcriptions", files={"file": ("audio.wav", data)}, data=fields, headers=AUTH
    )


def _png() -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\x00"))
        + chunk(b"IEND", b"")
    )


def _bad_requests(speech: bytes) -> list[tuple[str, bytes | str, dict[str, str], int, str, str | None]]:
    """(name, file, fields, status, code, param) for each bad input."""
    rng = np.random.default_rng(0)
    too_long = wav_bytes(np.zeros(8000 * 25, np.int16), 8000)  # 25 s > 20 s limit, under the byte limit
    return [
        ("empty file", b"", {}, 400, "invalid_audio", "file"),
        ("random bytes", rng.bytes(20000), {}, 400, "invalid_audio", "file"),
        ("truncated wav", speech[:30], {}, 400, "invalid_audio", "file"),
        ("image", _png(), {}, 415, "unsupported_media_type", "file"),
        ("oversized upload", b"\0" * (MAX_UPLOAD + 1), {}, 413, "payload_too_large", None),
        ("audio over the duration limit", too_long, {}, 400, "audio_too_long", "file"),
        (
            "unknown response_format",
            speech,
            {"response_format": "docx"},
            400,
            "invalid_value",
            "response_format",
        ),
        ("temperature out of range", speech, {"temperature": "3"}, 400, "invalid_value", "temperature"),
        (
            "stream with srt",
            speech,
            {"stream": "true", "response_format": "srt"},
            400,
            "invalid_value",
            "stream",
        ),
        ("server file path", "/etc/passwd", {}, 400, "invalid_audio", "file"),
        ("url input off", "http://127.0.0.1/a.wav", {}, 400, "url_input_disabled", "file"),
        ("no file", "", {}, 400, "invalid_value", "file"),
    ]


def test_bad_input_gets_documented_error_and_server_keeps_working(
    client: TestClient, corpus: list[Utterance]
) -> None:
    speech = corpus[0].path.read_bytes()
    for name, data, fields, status, code, param in _bad_requests(speech):
        response = _post(client, data, **fields)
        assert response.status_code == status, (name, response.text)
        error = response.json()["error"]
        assert error["code"] == code, name
        assert error["param"] == param, name
        assert error["type"] == "invalid_request_error" and error["message"], name
        good = _post(client, speech)
        assert good.status_code == 200, (name, good.text)
        assert wer([corpus[0].text], [good.json()["text"]]) <= 0.1


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "Missing API key"),
        ({"Authorization": "Bearer wrong"}, "Invalid API key"),
        ({"Authorization": API_KEY}, "Missing"),
    ],
)
def test_api_key_required(
    client: TestClient, corpus: list[Utterance], headers: dict[str, str], message: str
) -> None:
    files = {"file": ("a.wav", corpus[0].path.read_bytes())}
    response = client.post("/v1/audio/transcriptions", files=files, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"]["code"] == "invalid_api_key"
    assert message in response.json()["error"]["message"]
    assert client.get("/v1/models", headers=headers).status_code == 401
    assert client.get("/health").status_code == 200  # health stays open for probes
    assert _post(client, corpus[0].path.read_bytes()).status_code == 200


def test_models_and_ready(client: TestClient) -> None:
    models = client.get("/v1/models", headers=AUTH).json()
    # the loaded recognizer first, then the other installed ones (base: the dev extra installs it),
    # then the language model (voxrt.kind: llm) and the speech models, which list their voices
    recognizers = [m for m in models["data"] if "voices" not in m and m["voxrt"].get("kind") != "llm"]
    assert models["object"] == "list" and [m["id"] for m in recognizers] == ["tiny.en", "base"]
    assert [m["voxrt"] for m in recognizers] == [
        {"loaded": True, "english_only": True},
        {"loaded": False, "english_only": False},
    ]
    assert client.get("/v1/models/tiny.en", headers=AUTH).json()["id"] == "tiny.en"
    assert client.get("/v1/models/base", headers=AUTH).json()["voxrt"]["loaded"] is False
    missing = client.get("/v1/models/whisper-9", headers=AUTH)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert client.get("/ready").json() == {"status": "ready", "models": ["tiny.en", "piper"]}


def test_base64_and_data_uri(client: TestClient, corpus: list[Utterance]) -> None:
    encoded = base64.b64encode(corpus[1].path.read_bytes()).decode()
    for value in (encoded, f"data:audio/wav;base64,{encoded}"):
        response = _post(client, value)
        assert response.status_code == 200, response.text
        assert wer([corpus[1].text], [response.json()["text"]]) <= 0.1


@pytest.fixture(scope="module")
def file_server(corpus: list[Utterance]) -> Iterator[str]:
    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    handler = partial(Quiet, directory=str(corpus[0].path.parent))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_url_input(file_server: str, corpus: list[Utterance]) -> None:
    url = f"{file_server}/{corpus[2].path.name}"
    with serve_in_process({"audio": {"allow_url_input": True}}) as refusing:
        response = refusing.post("/v1/audio/transcriptions", data={"file": url})
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "url_not_allowed"
        assert "127.0.0.1" in response.json()["error"]["message"]
    with serve_in_process({"audio": {"allow_url_input": True, "url_allowlist": ["127.0.0.0/8"]}}) as allowing:
        response = allowing.post("/v1/audio/transcriptions", data={"file": url})
        assert response.status_code == 200, response.text
        assert wer([corpus[2].text], [response.json()["text"]]) <= 0.1
        missing = allowing.post("/v1/audio/transcriptions", data={"file": f"{file_server}/absent.wav"})
        assert missing.status_code == 400 and missing.json()["error"]["code"] == "url_fetch_failed"


def test_temperature_prompt_language_accepted(client: TestClient, corpus: list[Utterance]) -> None:
    response = _post(
        client,
        corpus[3].path.read_bytes(),
        temperature="0.2",
        prompt="Weather report.",
        language="en",
        model="whisper-1",
    )
    assert response.status_code == 200, response.text
    assert wer([corpus[3].text], [response.json()["text"]]) <= 0.15


def test_cors_off_by_default_and_on_when_configured(client: TestClient) -> None:
    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
    assert "access-control-allow-origin" not in client.options("/v1/models", headers=preflight).headers
    with serve_in_process({"server": {"cors_origins": ["https://app.example"]}}) as cors:
        response = cors.options("/v1/models", headers=preflight)
        assert response.headers["access-control-allow-origin"] == "https://app.example"
