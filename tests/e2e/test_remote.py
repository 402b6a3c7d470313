"""The remote engine over real HTTP on loopback: a voxrt in front of a second voxrt process, and in
front of a small local server that fails on demand (5xx, too slow, refusing the key), or of a
port where nothing listens. Clients get clear errors; servers and sessions carry on."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.speech import pcm16, sentences, speech_stream
from voxrt.bench.corpus import SENTENCES, Utterance
from voxrt.bench.realtime_client import RealtimeClient
from voxrt.bench.server import ServerProcess, free_port, running_server
from voxrt.bench.wer import wer

pytestmark = pytest.mark.e2e

UPSTREAM_KEY = "upstream-key"
STUB_KEY = "stub-key"
RETRIES = 2
TIMEOUT_S = 1.0


def _front(directory: Path, remote_url: str, **asr: Any) -> Any:
    config = directory / "voxrt.yaml"
    settings = {"engine": "remote", "remote_url": remote_url, "remote_backoff_s": 0.05, **asr}
    config.write_text(yaml.safe_dump({"asr": settings}))
    return running_server(directory / "server.log", config=config)


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    directory = tmp_path_factory.mktemp("upstream")
    (directory / "voxrt.yaml").write_text(yaml.safe_dump({"auth": {"api_keys": [UPSTREAM_KEY]}}))
    with running_server(directory / "server.log", config=directory / "voxrt.yaml") as process:
        yield process


@pytest.fixture(scope="module")
def front(tmp_path_factory: pytest.TempPathFactory, upstream: ServerProcess) -> Iterator[ServerProcess]:
    directory = tmp_path_factory.mktemp("front")
    with _front(directory, f"{upstream.base_url}/v1", remote_api_key=UPSTREAM_KEY, model="whisper-1") as p:
        yield p


def _post(server: ServerProcess, path: Path, **fields: str) -> httpx.Response:
    files = {"file": ("a.wav", path.read_bytes())}
    return httpx.post(f"{server.base_url}/v1/audio/transcriptions", files=files, data=fields, timeout=60)


def test_rest_through_a_second_voxrt(front: ServerProcess, corpus: list[Utterance]) -> None:
    texts = [_post(front, u.path).json()["text"] for u in corpus[:3]]
    assert wer([u.text for u in corpus[:3]], texts) <= 0.1, texts
    verbose = _post(
        front, corpus[3].path, response_format="verbose_json", **{"timestamp_granularities[]": "word"}
    )
    body = verbose.json()
    assert verbose.status_code == 200 and body["segments"] and body["words"]
    assert body["segments"][-1]["end"] <= body["duration"]
    srt = _post(front, corpus[3].path, response_format="srt")
    assert srt.text.startswith("1\n00:00:00,000 --> ")
    models = httpx.get(f"{front.base_url}/v1/models").json()
    # the loaded recognizer first; speech models list their voices
    assert models["data"][0]["id"] == "whisper-1" and models["data"][0]["voxrt"]["loaded"]


def test_realtime_through_a_second_voxrt(front: ServerProcess) -> None:
    speech = speech_stream(gaps_ms=(1200,), lead_ms=500, tail_ms=1500)

    async def run() -> list[str]:
        client = await RealtimeClient.open(front.realtime_url)
        await client.stream(pcm16(speech.audio, 24000), 24000, chunk_ms=40, speed=2)
        done = await client.wait_for("conversation.item.input_audio_transcription.completed", 2)
        await client.close()
        return [e["transcript"] for e in done]

    transcripts = asyncio.run(run())
    assert wer(list(SENTENCES[:2]), transcripts) <= 0.15, transcripts


class _Stub:
    """A transcription server on loopback whose behaviour the test sets: ok, error, slow, refuse."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.verbose_json = False  # as vLLM: json and text only
        self.requests: list[tuple[dict[str, str], bytes]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                stub.requests.append((dict(self.headers), body))
                if b"verbose_json" in body and not stub.verbose_json:
                    stub.mode = "no-verbose"
                status, answer = {
                    "ok": (200, {"text": "stub transcript"}),
                    "slow": (200, {"text": "too late"}),
                    "error": (500, {"error": {"message": "stub failure"}}),
                    "refuse": (401, {"error": {"message": "bad key"}}),
                    "no-verbose": (400, {"object": "error", "message": "verbose_json is not supported"}),
                }[stub.mode]
                if stub.mode == "no-verbose":
                    stub.mode = "ok"
                if stub.mode == "slow":
                    time.sleep(3 * TIMEOUT_S)
                data = json.dumps(answer).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the client gave up waiting
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def set(self, mode: str) -> None:
        self.mode = mode
        self.requests.clear()


@pytest.fixture(scope="module")
def stub() -> Iterator[_Stub]:
    made = _Stub()
    yield made
    made.server.shutdown()


@pytest.fixture(scope="module")
def stub_front(tmp_path_factory: pytest.TempPathFactory, stub: _Stub) -> Iterator[ServerProcess]:
    directory = tmp_path_factory.mktemp("stub-front")
    settings = {"remote_api_key": STUB_KEY, "remote_retries": RETRIES, "remote_timeout_s": TIMEOUT_S}
    with _front(directory, stub.url, **settings) as process:
        yield process


def _error(response: httpx.Response) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["error"]
    assert error["type"] == "server_error" and error["message"]
    return error


def test_what_the_remote_is_sent(stub_front: ServerProcess, stub: _Stub, corpus: list[Utterance]) -> None:
    stub.set("ok")
    response = _post(stub_front, corpus[0].path, language="en", prompt="Weather.")
    assert response.status_code == 200 and response.json()["text"] == "stub transcript"
    ((headers, body),) = stub.requests
    assert headers["Authorization"] == f"Bearer {STUB_KEY}"
    for field, value in [
        ("model", "mistralai/Voxtral-Mini-3B-2507"),
        ("language", "en"),
        ("prompt", "Weather."),
    ]:
        assert f'name="{field}"\r\n\r\n{value}\r\n'.encode() in body
    assert b'name="response_format"\r\n\r\njson\r\n' in body and b"RIFF" in body


@pytest.mark.parametrize(
    ("mode", "status", "code", "tries", "message"),
    [
        ("error", 502, "upstream_error", RETRIES + 1, "failed (HTTP 500: stub failure)"),
        ("slow", 504, "upstream_timeout", RETRIES + 1, "did not answer in time (ReadTimeout)"),
        ("refuse", 502, "upstream_auth_failed", 1, "refused the request (HTTP 401: bad key)"),
    ],
)
def test_a_failing_remote_is_a_clear_error_and_the_server_goes_on(
    stub_front: ServerProcess,
    stub: _Stub,
    corpus: list[Utterance],
    mode: str,
    status: int,
    code: str,
    tries: int,
    message: str,
) -> None:
    stub.set(mode)
    started = time.perf_counter()
    response = _post(stub_front, corpus[0].path)
    elapsed = time.perf_counter() - started
    assert response.status_code == status, response.text
    error = _error(response)
    assert error["code"] == code and message in error["message"], error
    assert len(stub.requests) == tries  # retried only what a retry can fix, and boundedly
    if mode == "slow":
        assert elapsed < tries * (TIMEOUT_S + 1) + 1
    stub.set("ok")
    assert _post(stub_front, corpus[0].path).json()["text"] == "stub transcript"


def test_a_realtime_session_goes_on_after_a_failed_transcription(
    stub_front: ServerProcess, stub: _Stub
) -> None:
    sentence = pcm16(sentences()[0], 16000)

    async def turn(client: RealtimeClient, kind: str, count: int) -> dict[str, Any]:
        step = len(sentence) // 8 // 2 * 2
        for offset in range(0, len(sentence), step):
            await client.append(sentence[offset : offset + step])
        await client.send({"type": "input_audio_buffer.commit"})
        return (await client.wait_for(f"conversation.item.input_audio_transcription.{kind}", count))[-1]

    async def run() -> tuple[dict[str, Any], dict[str, Any]]:
        client = await RealtimeClient.open(stub_front.realtime_url)
        update = {"format": {"type": "audio/pcm", "rate": 16000}, "turn_detection": None}
        await client.send({"type": "session.update", "session": {"audio": {"input": update}}})
        await client.wait_for("session.updated")
        stub.set("error")
        failed = await turn(client, "failed", 1)
        stub.set("ok")
        completed = await turn(client, "completed", 1)
        await client.close()
        return failed, completed

    failed, completed = asyncio.run(run())
    assert failed["error"]["code"] == "upstream_error" and "HTTP 500" in failed["error"]["message"]
    assert completed["transcript"] == "stub transcript"


def test_a_remote_that_is_down_is_a_clear_error(tmp_path: Path, corpus: list[Utterance]) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}/v1"
    with _front(tmp_path, nowhere, remote_retries=1) as front_down:
        assert httpx.get(f"{front_down.base_url}/ready").status_code == 200  # serving, not blocked
        response = _post(front_down, corpus[0].path)
        assert response.status_code == 502
        error = _error(response)
        assert error["code"] == "upstream_unavailable"
        assert "could not be reached (ConnectError)" in error["message"] and nowhere[7:21] in error["message"]
        again = _post(front_down, corpus[0].path, response_format="text")
        assert again.status_code == 502  # each request reports it; the server keeps answering


def test_a_server_without_verbose_json_still_serves_subtitles(
    stub_front: ServerProcess, stub: _Stub, corpus: list[Utterance]
) -> None:
    stub.set("ok")
    first = _post(stub_front, corpus[1].path, response_format="srt")
    assert first.status_code == 200, first.text
    assert first.text.startswith("1\n00:00:00,000 --> 00:00:0") and "stub transcript" in first.text
    assert len(stub.requests) == 2  # verbose_json refused, then json
    stub.set("ok")
    again = _post(stub_front, corpus[1].path, response_format="verbose_json").json()
    assert [s["text"] for s in again["segments"]] == [" stub transcript"]
    assert len(stub.requests) == 1  # it remembered
