"""SIGTERM during live sessions: committed utterances finish, nothing new is taken, the process exits.
The server logs JSON here: every line parses, session records carry the session id, no transcript."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import time

import httpx
import pytest
import yaml
from websockets.exceptions import ConnectionClosed

from tests.speech import pcm16, speech_stream
from voxrt.bench.realtime_client import RealtimeClient
from voxrt.bench.server import running_server

pytestmark = pytest.mark.e2e

COMPLETED = "conversation.item.input_audio_transcription.completed"
DRAIN_S = 20.0  # generous: on a loaded 2-core machine a final can take seconds


def test_sigterm_drains_four_sessions(tmp_path) -> None:
    config = tmp_path / "voxrt.yaml"
    config.write_text(yaml.safe_dump({"server": {"drain_timeout_s": DRAIN_S}, "logging": {"format": "json"}}))
    speech = speech_stream(gaps_ms=(800, 800), lead_ms=300, tail_ms=600)
    data = pcm16(speech.audio)

    with running_server(tmp_path / "server.log", config=config) as server:

        async def scenario() -> tuple[list[RealtimeClient], float, list[int], dict[str, object]]:
            clients = [await RealtimeClient.open(server.realtime_url) for _ in range(4)]

            async def talk(client: RealtimeClient) -> None:
                with contextlib.suppress(ConnectionClosed):
                    await client.stream(data, 24000)

            talking = [asyncio.create_task(talk(c)) for c in clients]
            for client in clients:  # every session has an utterance committed
                await client.wait_for("input_audio_buffer.committed", 1, timeout=60)
            server.process.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            async with httpx.AsyncClient(base_url=server.base_url) as http:
                ready = [(await http.get("/ready")).status_code for _ in range(3)]
                refused = await http.get("/v1/models")
            late = await RealtimeClient.open(server.realtime_url)
            late_error = (await late.wait_for("error"))[0]["error"]
            await asyncio.gather(*talking)
            for client in clients:
                await client.closed(timeout=DRAIN_S + 5)
            return clients, signalled, ready, {"rest": refused, "late": late_error}

        clients, signalled, ready, refusals = asyncio.run(scenario())
        exit_code = server.process.wait(timeout=DRAIN_S + 10)
        exited_after = time.monotonic() - signalled
        log = [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]
        other = [line for line in server.log().splitlines() if line and not line.startswith("{")]

    assert ready == [503, 503, 503]
    rest = refusals["rest"]
    assert isinstance(rest, httpx.Response)
    assert rest.status_code == 503 and rest.headers["Retry-After"]
    assert rest.json()["error"]["code"] == "server_shutting_down"
    assert refusals["late"]["code"] == "server_shutting_down"  # type: ignore[index]
    for client in clients:
        committed = {e["item_id"] for e in client.of_type("input_audio_buffer.committed")}
        done = {e["item_id"] for e in client.of_type("conversation.item.input_audio_transcription.completed")}
        assert committed and committed <= done  # every committed utterance got its final event
        assert client.ws.close_code == 1012 and client.ws.close_reason
    assert exit_code == 0 and exited_after < DRAIN_S + 5

    opened = {e["session_id"] for e in log if e["message"].startswith("realtime session opened")}
    closed = {e["session_id"] for e in log if e["message"] == "realtime session closed"}
    assert len(opened) == 4 and closed == opened  # the refused fifth never opened
    transcripts = [e["transcript"] for c in clients for e in c.of_type(COMPLETED)]
    assert not any(t and t in json.dumps(log) for t in transcripts)  # transcripts are not logged
    assert other == ["voxrt: browser UI at " + server.base_url + "/"]
