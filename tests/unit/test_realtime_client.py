"""The paced realtime client against a scripted in-process WebSocket server: the session setup,
the schedule, binary frames, trailing silence, and every event kept with its receive time."""

from __future__ import annotations

import base64
import contextlib
import json
import math
import time
from collections.abc import AsyncIterator

import pytest
from websockets.asyncio.server import ServerConnection, serve

from voxrt.bench.realtime_client import (
    RealtimeClient,
    append_event,
    pace,
    silence,
    split,
    transcription_session,
)

pytestmark = pytest.mark.anyio

RATE = 24000


class _Server:
    """Says session.created, answers session.update, echoes each audio chunk's size as an event
    (``audio.received``, with ``binary`` true for a binary frame) and keeps what it was sent."""

    def __init__(self, refuse: bool = False) -> None:
        self.refuse = refuse
        self.audio: list[bytes] = []

    async def handle(self, ws: ServerConnection) -> None:
        if self.refuse:
            await ws.send(json.dumps({"type": "error", "error": {"message": "too many sessions"}}))
            await ws.close()
            return
        await ws.send(json.dumps({"type": "session.created"}))
        async for message in ws:
            if isinstance(message, bytes):
                self.audio.append(message)
                await ws.send(json.dumps({"type": "audio.received", "bytes": len(message), "binary": True}))
                continue
            event = json.loads(message)
            if event["type"] == "session.update":
                await ws.send(json.dumps({"type": "session.updated", "session": event["session"]}))
            elif event["type"] == "input_audio_buffer.append":
                self.audio.append(base64.b64decode(event["audio"]))
                await ws.send(json.dumps({"type": "audio.received", "bytes": len(self.audio[-1])}))


@contextlib.asynccontextmanager
async def _serving(server: _Server) -> AsyncIterator[str]:
    async with serve(server.handle, "127.0.0.1", 0) as ws_server:
        port = next(iter(ws_server.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}/v1/realtime?intent=transcription"


def test_split_keeps_whole_samples() -> None:
    pcm = bytes(range(200))  # 100 samples
    chunks = split(pcm, 1000, 30)  # 30 samples a chunk
    assert [len(c) for c in chunks] == [60, 60, 60, 20]
    assert b"".join(chunks) == pcm
    assert [len(c) for c in split(bytes(8), RATE, 0.01)] == [2, 2, 2, 2]  # never less than a sample
    assert silence(40, RATE) == bytes(1920)


async def test_pace_follows_an_absolute_schedule() -> None:
    start = time.perf_counter() + 0.05
    got = [(due, item, time.perf_counter()) async for due, item in pace("abc", 0.02, start)]
    assert [item for _, item, _ in got] == ["a", "b", "c"]
    assert [due - start for due, _, _ in got] == pytest.approx([0.0, 0.02, 0.04])
    assert all(at >= due for due, _, at in got)
    late = [due async for due, _ in pace(range(3), 1.0, time.perf_counter() - 10)]
    assert late[-1] < time.perf_counter()  # items already due go at once


async def test_session_setup_streaming_at_a_speed_and_every_event_timed() -> None:
    server = _Server()
    async with _serving(server) as url:
        seen: list[str] = []
        client = await RealtimeClient.open(
            url, session=transcription_session(RATE, "fr"), on_event=lambda at, e: seen.append(e["type"])
        )
        assert client.of_type("session.updated")[0]["session"]["audio"]["input"] == {
            "format": {"type": "audio/pcm", "rate": RATE},
            "transcription": {"language": "fr"},
        }
        pcm = bytes(range(256)) * 15  # 3840 bytes: 80 ms at 24 kHz
        started = time.perf_counter()
        end = await client.stream(pcm, RATE, chunk_ms=20, speed=2.0)  # 4 chunks, 10 ms apart
        assert end == pytest.approx(started + 0.04, abs=0.01)
        assert [s.due - client.sent[0].due for s in client.sent] == pytest.approx([0, 0.01, 0.02, 0.03])
        assert all(s.lag_ms >= 0 for s in client.sent)
        await client.wait_for("audio.received", 4, timeout=5)
        assert b"".join(server.audio) == pcm
        kinds = [e["type"] for _, e in client.events]
        assert kinds == ["session.created", "session.updated"] + ["audio.received"] * 4 == seen
        times = [at for at, _ in client.events]
        assert times == sorted(times) and times[-1] <= time.perf_counter()
        await client.close()
        assert not client.connected and client.error is None


async def test_binary_frames_trailing_silence_and_an_early_stop() -> None:
    server = _Server()
    async with _serving(server) as url:
        client = await RealtimeClient.open(url)
        end = await client.stream(bytes([1]) * 960, RATE, chunk_ms=10, speed=math.inf, frame=bytes)
        await client.wait_for("audio.received", 2, timeout=5)
        assert all(e["binary"] for e in client.of_type("audio.received"))
        # the silence continues the schedule; it stops once two chunks of it went out
        await client.stream(silence(100, RATE), RATE, 10, start_at=end, until=lambda: len(client.sent) >= 4)
        await client.wait_for("audio.received", 4, timeout=5)
        assert len(client.sent) == 4 and client.sent[2].due == pytest.approx(end)
        assert server.audio[2:] == [bytes(480)] * 2
        await client.close()


async def test_a_refused_session_raises_with_the_servers_message() -> None:
    async with _serving(_Server(refuse=True)) as url:
        with pytest.raises(RuntimeError, match="too many sessions"):
            await RealtimeClient.open(url, session=transcription_session(RATE))


def test_append_event_is_the_realtime_append() -> None:
    event = json.loads(append_event(b"\x01\x02"))
    assert event == {"type": "input_audio_buffer.append", "audio": base64.b64encode(b"\x01\x02").decode()}
