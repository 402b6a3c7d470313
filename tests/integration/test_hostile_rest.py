"""The REST API against hostile uploads, in-process with the real tiny.en model: playlist and
network demuxers in every way a file can arrive, silence, and the UI's security headers."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.integration.conftest import API_KEY, AUTH, serve_in_process
from tests.unit.test_decode_hostile import FFCONCAT, SDP
from voxrt.audio.pcm import wav_bytes
from voxrt.bench.corpus import Utterance
from voxrt.server.routers.web import CSP
from voxrt.server.state import state

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with serve_in_process({"auth": {"api_keys": [API_KEY]}, "limits": {"max_upload_bytes": 4_000_000}}) as c:
        yield c


@pytest.fixture
def secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, corpus: list[Utterance]) -> Path:
    """Real speech as ``secret.wav`` in the server's working directory."""
    path = tmp_path / "secret.wav"
    path.write_bytes(corpus[0].path.read_bytes())
    monkeypatch.chdir(tmp_path)
    return path


def _post(client: TestClient, data: bytes | str, **fields: str):  # -> the TestClient's response
    if isinstance(data, str):
        return client.post("/v1/audio/transcriptions", data={"file": data, **fields}, headers=AUTH)
    return client.post("/v1/audio/transcriptions", files={"file": ("a.wav", data)}, data=fields, headers=AUTH)


def _refused_fast(client: TestClient, data: bytes | str) -> dict[str, str]:
    started = time.perf_counter()
    response = _post(client, data)
    assert time.perf_counter() - started < 1.0
    assert 400 <= response.status_code < 500, response.text
    error: dict[str, str] = response.json()["error"]
    assert "unsupported or unrecognised audio" in error["message"].lower()
    return error


@pytest.mark.parametrize("playlist", [FFCONCAT, SDP], ids=["ffconcat", "sdp"])
@pytest.mark.parametrize("how", ["multipart", "base64", "data-uri"])
def test_playlist_and_sdp_uploads_are_refused_fast_and_read_nothing(client, secret, playlist, how):
    encoded = base64.b64encode(playlist).decode()
    data = {"multipart": playlist, "base64": encoded, "data-uri": f"data:audio/wav;base64,{encoded}"}[how]
    present = _refused_fast(client, data)
    secret.unlink()
    assert _refused_fast(client, data) == present  # no oracle for whether a server file exists
    assert "secret" not in present["message"] and str(secret.parent) not in present["message"]
    assert state(client.app).rest_slots.taken == 0  # refused requests give their slot back


@pytest.fixture
def playlist_server(secret: Path) -> Iterator[str]:
    (secret.parent / "list.ffconcat").write_bytes(FFCONCAT)

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(secret.parent)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/list.ffconcat"
    server.shutdown()
    server.server_close()


def test_a_fetched_playlist_is_refused(playlist_server):
    overrides = {"audio": {"allow_url_input": True, "url_allowlist": ["127.0.0.0/8"]}}
    with serve_in_process(overrides) as fetching:
        response = fetching.post("/v1/audio/transcriptions", data={"file": playlist_server})
    assert response.status_code == 415, response.text
    assert "unsupported or unrecognised audio" in response.json()["error"]["message"].lower()


def _silence(seconds: float, rate: int = 16000) -> bytes:
    """Near-silence as a recorder gives it: faint noise, no speech."""
    noise = np.random.default_rng(0).normal(0, 30, int(seconds * rate))
    return wav_bytes(noise.astype(np.int16), rate)


@pytest.mark.parametrize("response_format", ["json", "text", "verbose_json", "srt"])
def test_a_file_without_speech_gets_an_empty_transcript(client, response_format):
    response = _post(client, _silence(60), response_format=response_format)
    assert response.status_code == 200, response.text
    if response_format == "json":
        assert response.json()["text"] == ""
    elif response_format == "verbose_json":
        body = response.json()
        assert (body["text"], body["segments"], body["duration"]) == ("", [], pytest.approx(60, abs=0.1))
    else:
        assert response.text.strip() == ""


def test_a_streamed_file_without_speech_gets_only_the_done_event(client):
    response = _post(client, _silence(20), stream="true")
    assert response.status_code == 200
    assert response.text == 'data: {"type": "transcript.text.done", "text": ""}\n\n'
    assert state(client.app).rest_slots.taken == 0  # the stream gave its admission slot back


def test_speech_passes_the_gate(client, corpus: list[Utterance]):
    response = _post(client, corpus[4].path.read_bytes())
    assert response.status_code == 200
    assert len(response.json()["text"].split()) >= 3


@pytest.mark.parametrize("path", ["/", "/static/app.js", "/static/style.css"])
def test_the_ui_is_served_with_security_headers(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-security-policy"] == CSP
    assert "frame-ancestors 'none'" in CSP and "'unsafe-inline'" not in CSP
