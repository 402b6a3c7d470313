"""Every event a transcription session sends validates against the openai SDK's own GA realtime
types (``openai.types.realtime.RealtimeServerEvent``), so protocol drift fails here."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from openai.types.realtime import RealtimeServerEvent
from pydantic import TypeAdapter

from tests.e2e.conftest import RT_KEY
from tests.speech import pcm16, speech_stream
from voxrt.bench.realtime_client import RealtimeClient
from voxrt.bench.server import ServerProcess

pytestmark = pytest.mark.e2e

SERVER_EVENT: TypeAdapter[Any] = TypeAdapter(RealtimeServerEvent)
EXTENSIONS = {"voxrt.metrics"}  # voxrt's additive events (documented), not in OpenAI's protocol


def test_every_server_event_is_a_ga_event(realtime_server: ServerProcess) -> None:
    speech = speech_stream(gaps_ms=(900,), lead_ms=300, tail_ms=1200)

    async def record() -> list[dict[str, Any]]:
        client = await RealtimeClient.open(realtime_server.realtime_url, RT_KEY)
        await client.send(
            {
                "type": "session.update",
                "session": {
                    "type": "transcription",
                    "audio": {"input": {"format": {"type": "audio/pcm", "rate": 24000}}},
                },
            }
        )
        await client.stream(pcm16(speech.audio), 24000, speed=3.0)
        await client.wait_for("conversation.item.input_audio_transcription.completed", 2, timeout=60)
        await client.send(
            {"type": "session.update", "session": {"audio": {"input": {"turn_detection": None}}}}
        )
        await client.wait_for("session.updated", 2)
        await client.stream(pcm16(speech.audio[: 16000 * 3]), 24000, speed=4.0)
        await client.send({"type": "input_audio_buffer.commit"})
        await client.wait_for("conversation.item.input_audio_transcription.completed", 3, timeout=60)
        await client.send({"type": "input_audio_buffer.clear"})
        await client.wait_for("input_audio_buffer.cleared")
        await client.send({"type": "input_audio_buffer.commit", "event_id": "evt_1"})
        await client.send({"type": "no.such.event"})
        await client.wait_for("error", 2)
        await client.close()
        return [e for _, e in client.events]

    events = asyncio.run(record())
    kinds = {e["type"] for e in events}
    assert {
        "session.created",
        "session.updated",
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "input_audio_buffer.cleared",
        "conversation.item.input_audio_transcription.completed",
        "error",
    } <= kinds
    for event in events:
        if event["type"] in EXTENSIONS:
            continue
        parsed = SERVER_EVENT.validate_python(event)
        assert parsed.type == event["type"]
