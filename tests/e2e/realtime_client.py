"""A minimal realtime client for the tests: raw WebSocket, events recorded with arrival times."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
from typing import Any

import numpy as np
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from voxrt.audio import resample
from voxrt.bench.server import ServerProcess

Event = dict[str, Any]


def ws_url(server: ServerProcess) -> str:
    """The realtime transcription endpoint of a running server."""
    return server.base_url.replace("http://", "ws://") + "/v1/realtime?intent=transcription"


def pcm16(audio_16k: np.ndarray, rate: int = 24000) -> bytes:
    """float32 16 kHz audio as 16-bit little-endian PCM at ``rate``."""
    audio = resample(audio_16k, 16000, rate) if rate != 16000 else audio_16k
    return bytes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())


class Client:
    """One realtime connection; ``events`` fills in as the server sends."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.events: list[tuple[float, Event]] = []
        self._new = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, url: str, key: str | None = None, **kwargs: Any) -> Client:
        headers = {"Authorization": f"Bearer {key}"} if key else None
        ws = await connect(url, additional_headers=headers, max_size=None, **kwargs)
        return cls(ws)

    async def _read(self) -> None:
        with contextlib.suppress(ConnectionClosed):  # how it closed is the test's business
            async for message in self.ws:
                self.events.append((time.perf_counter(), json.loads(message)))
                self._new.set()
        self._new.set()

    async def send(self, event: Event) -> None:
        await self.ws.send(json.dumps(event))

    async def append(self, data: bytes) -> None:
        await self.send({"type": "input_audio_buffer.append", "audio": base64.b64encode(data).decode()})

    async def stream(self, data: bytes, rate: int, chunk_ms: int = 40, speed: float = 1.0) -> list[float]:
        """Send ``data`` (16-bit PCM at ``rate``) in chunks on a real-time schedule (``speed``x);
        returns the wall time each chunk was sent."""
        step = rate * 2 * chunk_ms // 1000
        start = time.perf_counter()
        sent = []
        for k, offset in enumerate(range(0, len(data), step)):
            delay = start + k * chunk_ms / 1000 / speed - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            await self.append(data[offset : offset + step])
            sent.append(time.perf_counter())
        return sent

    def of_type(self, kind: str) -> list[Event]:
        return [e for _, e in self.events if e["type"] == kind]

    async def wait_for(self, kind: str, count: int = 1, timeout: float = 30.0) -> list[Event]:
        """Wait until ``count`` events of ``kind`` have arrived.

        Raises:
            TimeoutError: they did not, within ``timeout`` seconds.
        """
        async with asyncio.timeout(timeout):
            while len(self.of_type(kind)) < count:
                self._new.clear()
                if self._reader.done():
                    raise ConnectionError(f"closed after {[e['type'] for _, e in self.events]}")
                await self._new.wait()
        return self.of_type(kind)

    async def closed(self, timeout: float = 10.0) -> tuple[int | None, str]:
        """Wait for the server to close; the close code and reason."""
        async with asyncio.timeout(timeout):
            await self.ws.wait_closed()
        return self.ws.close_code, self.ws.close_reason or ""

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()
