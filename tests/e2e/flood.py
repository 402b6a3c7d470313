"""A hostile realtime client, run as its own process so that its CPU use does not slow the test
that measures the server: it sends audio as fast as the connection takes it and prints a JSON
summary of what it sent and which errors came back.

    python -m tests.e2e.flood URL KEY PCM_FILE big|tiny SECONDS
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import json
import os
import sys
import time
from pathlib import Path

from websockets.exceptions import ConnectionClosed

from voxrt.bench.realtime_client import RealtimeClient, append_event

TINY_BYTES = 4  # two 16-bit samples per append
BIG_BYTES = 750_000  # ~1 MB once base64-encoded: the default realtime.max_message_bytes


async def flood(url: str, key: str, pcm: bytes, mode: str, seconds: float) -> dict[str, object]:
    size = TINY_BYTES if mode == "tiny" else BIG_BYTES
    # encoded before the clock starts: the flood's rate is the socket's, not base64's
    messages = [append_event(pcm[i : i + size]) for i in range(0, len(pcm) - size + 1, size)]
    client = await RealtimeClient.open(url, key)
    end = time.perf_counter() + seconds
    with contextlib.suppress(ConnectionClosed):  # the server may well hang up
        await client.send_paced(itertools.cycle(messages), 0.0, until=lambda: time.perf_counter() >= end)
    await asyncio.sleep(0.5)
    await client.close()
    errors = collections.Counter(str(e["error"]["code"]) for e in client.of_type("error"))
    return {
        "sent": len(client.sent),
        "rate_per_s": round(len(client.sent) / seconds),
        "errors": dict(errors),
        "close_code": client.ws.close_code,
    }


if __name__ == "__main__":
    url, key, path, mode, seconds = sys.argv[1:6]
    # An attacker's CPU is elsewhere; on a 2-core test machine this process must not starve the server.
    os.nice(10)
    summary = asyncio.run(flood(url, key, Path(path).read_bytes(), mode, float(seconds)))
    print(json.dumps(summary))
