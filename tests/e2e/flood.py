"""A hostile realtime client, run as its own process so that its CPU use does not slow the test
that measures the server: it sends audio as fast as the connection takes it and prints a JSON
summary of what it sent and which errors came back.

    python -m tests.e2e.flood URL KEY PCM_FILE big|tiny SECONDS
"""

from __future__ import annotations

import asyncio
import base64
import collections
import json
import os
import sys
import time
from pathlib import Path

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

TINY_BYTES = 4  # two 16-bit samples per append
BIG_BYTES = 750_000  # ~1 MB once base64-encoded: the default realtime.max_message_bytes


async def flood(url: str, key: str, pcm: bytes, mode: str, seconds: float) -> dict[str, object]:
    errors: collections.Counter[str] = collections.Counter()
    size = TINY_BYTES if mode == "tiny" else BIG_BYTES
    chunks = [pcm[i : i + size] for i in range(0, len(pcm) - size + 1, size)]
    messages = [
        json.dumps({"type": "input_audio_buffer.append", "audio": base64.b64encode(c).decode()})
        for c in chunks
    ]
    sent = 0
    async with connect(url, additional_headers={"Authorization": f"Bearer {key}"}, max_size=None) as ws:

        async def read() -> None:
            async for raw in ws:
                event = json.loads(raw)
                if event.get("type") == "error":
                    errors[str(event["error"]["code"])] += 1

        reader = asyncio.create_task(read())
        end = time.perf_counter() + seconds
        try:
            while time.perf_counter() < end:
                await ws.send(messages[sent % len(messages)])
                sent += 1
        except ConnectionClosed:
            pass
        await asyncio.sleep(0.5)
        reader.cancel()
    return {
        "sent": sent,
        "rate_per_s": round(sent / seconds),
        "errors": dict(errors),
        "close_code": ws.close_code,
    }


if __name__ == "__main__":
    url, key, path, mode, seconds = sys.argv[1:6]
    # An attacker's CPU is elsewhere; on a 2-core test machine this process must not starve the server.
    os.nice(10)
    summary = asyncio.run(flood(url, key, Path(path).read_bytes(), mode, float(seconds)))
    print(json.dumps(summary))
