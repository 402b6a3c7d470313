"""A live server against hostile HTTP clients: slowloris headers and bodies, a full REST queue,
abandoned requests, and ten concurrent near-limit uploads beside a live realtime session."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import time
from collections.abc import Iterator

import httpx
import numpy as np
import pytest
import yaml

from tests.speech import RATE, pcm16, speech_stream
from voxrt.audio import resample
from voxrt.audio.pcm import wav_bytes
from voxrt.bench.realtime_client import RealtimeClient
from voxrt.bench.server import ServerProcess, running_server
from voxrt.bench.soak import process_resources

pytestmark = pytest.mark.e2e

KEY = "hostile-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
HEADER_TIMEOUT_S = 2
BODY_TIMEOUT_S = 3
MAX_PENDING = 2


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    directory = tmp_path_factory.mktemp("hostile")
    config = directory / "voxrt.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "auth": {"api_keys": [KEY]},
                "server": {"header_timeout_s": HEADER_TIMEOUT_S, "body_timeout_s": BODY_TIMEOUT_S},
                "limits": {"max_pending_requests": MAX_PENDING},
            }
        )
    )
    with running_server(directory / "server.log", config=config) as process:
        yield process


def _connect(server: ServerProcess) -> socket.socket:
    host, port = server.base_url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=1)


def _drip(sock: socket.socket, data: bytes, interval_s: float, limit_s: float) -> tuple[float, bytes]:
    """Send ``data`` one byte per ``interval_s`` until the server closes the connection or
    ``limit_s`` passes: (seconds the connection stayed open, what the server sent)."""
    started = time.monotonic()
    received = b""
    for byte in data:
        if time.monotonic() - started > limit_s:
            break
        try:
            sock.sendall(bytes([byte]))
            chunk = sock.recv(65536)
            if not chunk:
                return time.monotonic() - started, received
            received += chunk
            while chunk:  # the server answered: read the rest of its answer, send no more
                chunk = sock.recv(65536)
                received += chunk
            return time.monotonic() - started, received
        except TimeoutError:
            continue  # nothing from the server within the 1 s socket timeout: keep dripping
        except OSError:
            return time.monotonic() - started, received
        time.sleep(interval_s)
    return time.monotonic() - started, received


def _request_head(content_length: int) -> bytes:
    return (
        b"POST /v1/audio/transcriptions HTTP/1.1\r\nHost: localhost\r\n"
        + f"Authorization: Bearer {KEY}\r\nContent-Type: multipart/form-data; boundary=b\r\n".encode()
        + f"Content-Length: {content_length}\r\n\r\n".encode()
    )


_PART_HEAD = b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n'


def test_headers_sent_a_byte_at_a_time_are_cut_off(server: ServerProcess) -> None:
    with _connect(server) as sock:
        open_s, received = _drip(sock, _request_head(100) * 50, interval_s=0.2, limit_s=4 * HEADER_TIMEOUT_S)
    assert open_s < HEADER_TIMEOUT_S + 4, f"still open after {open_s:.1f} s"  # margin: a busy CPU
    assert received == b""
    assert httpx.get(f"{server.base_url}/health").status_code == 200


def test_a_body_sent_a_byte_at_a_time_gets_a_408_and_is_cut_off(server: ServerProcess) -> None:
    with _connect(server) as sock:
        sock.sendall(_request_head(100_000) + _PART_HEAD)
        open_s, received = _drip(sock, b"x" * 1000, interval_s=0.2, limit_s=4 * BODY_TIMEOUT_S)
    assert open_s < BODY_TIMEOUT_S + 4, f"still open after {open_s:.1f} s"  # margin: a busy CPU
    assert received.startswith(b"HTTP/1.1 408"), received[:200]
    assert b'"code":"request_timeout"' in received


def test_a_full_rest_queue_answers_503_with_retry_after(server: ServerProcess) -> None:
    holders = [_connect(server) for _ in range(MAX_PENDING)]
    try:
        for sock in holders:  # each is admitted, then uploads slowly
            sock.sendall(_request_head(100_000) + _PART_HEAD)
        time.sleep(0.5)
        refused = httpx.post(
            f"{server.base_url}/v1/audio/transcriptions", files={"file": ("a.wav", b"RIFF")}, headers=AUTH
        )
        assert refused.status_code == 503
        assert refused.headers["retry-after"].isdigit() and int(refused.headers["retry-after"]) > 0
        error = refused.json()["error"]
        assert (error["type"], error["code"]) == ("server_error", "server_busy")
    finally:
        for sock in holders:
            sock.close()
    time.sleep(0.5)  # the server sees the disconnects and frees the slots
    after = httpx.post(
        f"{server.base_url}/v1/audio/transcriptions", files={"file": ("a.wav", b"RIFF")}, headers=AUTH
    )
    assert after.status_code == 400, after.text  # admitted again: a bad file, not a busy server


def _multipart(data: bytes) -> bytes:
    return _PART_HEAD + data + b"\r\n--b--\r\n"


def test_an_abandoned_request_is_cancelled(server: ServerProcess) -> None:
    speech = np.tile(speech_stream().audio, 4)  # ~80 s of speech: seconds of decoding
    body = _multipart(wav_bytes(speech, RATE))
    with _connect(server) as sock:
        sock.sendall(_request_head(len(body)) + body)
        time.sleep(1.0)  # the upload is in and being worked on
    deadline = time.monotonic() + 10
    while "transcription request abandoned by the client" not in server.log():
        assert time.monotonic() < deadline, server.log()[-2000:]
        time.sleep(0.1)
    time.sleep(3)
    assert not re.search(r"transcribed 8\d\.\d\d s of audio", server.log())


def _rss_mb(pid: int) -> float:
    return process_resources(pid)["rss_mb"]


NEAR_LIMIT_S = 240


@pytest.fixture(scope="module")
def loaded_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server at the default admission limit, uploads up to 4 MB and 250 s."""
    directory = tmp_path_factory.mktemp("loaded")
    config = directory / "voxrt.yaml"
    limits = {"max_upload_bytes": 4_000_000, "max_audio_s": NEAR_LIMIT_S + 10}
    config.write_text(yaml.safe_dump({"auth": {"api_keys": [KEY]}, "limits": limits}))
    with running_server(directory / "server.log", config=config) as process:
        yield process


def test_ten_near_limit_uploads_keep_memory_bounded_and_a_live_session_on_time(
    loaded_server: ServerProcess,
) -> None:
    speech = speech_stream(gaps_ms=(1200, 1200, 1200, 1200), lead_ms=500, tail_ms=1500)
    long = np.tile(speech.audio, NEAR_LIMIT_S * RATE // len(speech.audio) + 1)[: NEAR_LIMIT_S * RATE]
    upload = wav_bytes(resample(long, RATE, 8000), 8000)  # 3.8 MB
    pid = loaded_server.process.pid
    baseline = _rss_mb(pid)
    peak = baseline
    statuses: list[int] = []

    async def post(http: httpx.AsyncClient) -> None:
        files = {"file": ("long.wav", upload)}
        with contextlib.suppress(httpx.HTTPError):
            response = await http.post("/v1/audio/transcriptions", files=files, headers=AUTH)
            statuses.append(response.status_code)

    async def sample() -> None:
        nonlocal peak
        while True:
            peak = max(peak, _rss_mb(pid))
            await asyncio.sleep(0.1)

    async def run() -> list[float]:
        async with httpx.AsyncClient(base_url=loaded_server.base_url, timeout=600) as http:
            sampler = asyncio.create_task(sample())
            uploads = [asyncio.create_task(post(http)) for _ in range(10)]
            await asyncio.sleep(2)  # the uploads are in and being decoded
            client = await RealtimeClient.open(loaded_server.realtime_url, KEY)
            await client.stream(pcm16(speech.audio), 24000)
            metrics = await client.wait_for("voxrt.metrics", count=5, timeout=20)
            await client.close()
            await asyncio.sleep(1)
            for task in uploads:  # leave: the server cancels what is left of them
                task.cancel()
            await asyncio.gather(*uploads, return_exceptions=True)
            sampler.cancel()
        return [float(m["asr_final_ms"]) for m in metrics]

    finals = asyncio.run(run())
    p95 = float(np.percentile(finals, 95))
    print(f"asr_final_ms {finals}, p95 {p95:.0f}; RSS {baseline:.0f} -> peak {peak:.0f} MB; {statuses}")
    assert p95 < 1500, finals
    assert peak - baseline < 600, f"RSS grew by {peak - baseline:.0f} MB"
    assert statuses.count(503) >= 2  # at most limits.max_pending_requests (8) admitted at once
    assert httpx.get(f"{loaded_server.base_url}/health").status_code == 200
