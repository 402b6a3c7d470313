"""Realtime transcription against a live voxrt process: the official SDK's realtime client, the
manual-commit mode, every input format, session.update mid-session."""

from __future__ import annotations

import asyncio
import base64
import time
from typing import Any

import numpy as np
import openai
import pytest

from tests.e2e.conftest import RT_KEY as KEY
from tests.speech import RATE, pcm16, sentences, speech_stream
from voxrt.audio.pcm import AudioFormat
from voxrt.bench.corpus import SENTENCES
from voxrt.bench.realtime_client import RealtimeClient, pace, split
from voxrt.bench.server import ServerProcess
from voxrt.bench.wer import normalize, wer

pytestmark = pytest.mark.e2e


def _by_item(events: list[tuple[float, dict[str, Any]]]) -> dict[str, list[tuple[int, str]]]:
    """For each item, the (position, type) of its events in arrival order."""
    items: dict[str, list[tuple[int, str]]] = {}
    for position, (_, event) in enumerate(events):
        if "item_id" in event and event["type"] != "voxrt.metrics":
            items.setdefault(event["item_id"], []).append((position, event["type"]))
    return items


def test_sdk_realtime_client_streams_five_utterances(realtime_server: ServerProcess) -> None:
    speech = speech_stream(gaps_ms=(1200, 1200, 1200, 1200), lead_ms=500, tail_ms=1500)
    events: list[tuple[float, dict[str, Any]]] = []

    async def run() -> None:
        client = openai.AsyncOpenAI(
            api_key=KEY, websocket_base_url=realtime_server.base_url.replace("http", "ws") + "/v1"
        )
        async with client.realtime.connect(
            model="whisper-1", extra_query={"intent": "transcription"}
        ) as conn:

            async def read() -> None:
                async for event in conn:
                    events.append((time.perf_counter(), event.model_dump()))

            reader = asyncio.create_task(read())
            await conn.session.update(
                session={
                    "type": "transcription",
                    "audio": {"input": {"format": {"type": "audio/pcm", "rate": 24000}}},
                }
            )
            # 40 ms chunks at real-time pace
            async for _, chunk in pace(split(pcm16(speech.audio, 24000), 24000, 40), 0.04):
                await conn.input_audio_buffer.append(audio=base64.b64encode(chunk).decode())
            deadline = time.perf_counter() + 20
            while sum(e["type"].endswith("transcription.completed") for _, e in events) < 5:
                assert time.perf_counter() < deadline, [e["type"] for _, e in events]
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.3)  # the metrics event follows each completed
            reader.cancel()

    asyncio.run(run())
    kinds = [e["type"] for _, e in events]
    assert kinds[:2] == ["session.created", "session.updated"]
    items = _by_item(events)
    assert len(items) == 5, kinds
    completed, with_deltas = [], 0
    streamed_texts: list[str] = []
    final_prefixes: list[str] = []
    for index, (item_id, item_events) in enumerate(items.items()):
        types = [t for _, t in item_events]
        deltas = [t for t in types if t.endswith(".delta")]
        expected = [
            "input_audio_buffer.speech_started",
            *deltas,
            "input_audio_buffer.speech_stopped",
            "input_audio_buffer.committed",
            "conversation.item.input_audio_transcription.completed",
        ]
        assert types == expected, types
        with_deltas += bool(deltas)
        item = {e["type"]: e for _, e in events if e.get("item_id") == item_id}
        transcript = item["conversation.item.input_audio_transcription.completed"]["transcript"]
        completed.append(transcript)
        streamed = normalize(
            "".join(
                e["delta"] for _, e in events if e.get("item_id") == item_id and e["type"].endswith(".delta")
            )
        )
        streamed_texts.append(" ".join(streamed))
        final_prefixes.append(" ".join(normalize(transcript)[: len(streamed)]))
        true_start_ms, true_end_ms = (b / RATE * 1000 for b in speech.bounds[index])
        assert abs(item["input_audio_buffer.speech_stopped"]["audio_end_ms"] - true_end_ms) <= 300
        assert item["input_audio_buffer.speech_started"]["audio_start_ms"] <= true_start_ms
    assert with_deltas >= 3, "partial transcripts should stream while people speak"
    # the deltas of an utterance read as the start of its final transcript (which may still differ)
    assert wer(final_prefixes, streamed_texts) <= 0.15, (streamed_texts, completed)
    assert wer(list(SENTENCES[:5]), completed) <= 0.12, completed
    metrics = [e for _, e in events if e["type"] == "voxrt.metrics"]
    assert len(metrics) == 5 and all(m["asr_final_ms"] > 0 for m in metrics)


def _g711(audio_16k: np.ndarray, kind: str) -> bytes:
    """8 kHz G.711 bytes: each sample mapped to the code whose decoded value is nearest."""
    table = AudioFormat(kind, 8000).decode(bytes(range(256)))  # type: ignore[arg-type]
    order = np.argsort(table)
    samples = np.interp(np.arange(0, len(audio_16k), 2), np.arange(len(audio_16k)), audio_16k)
    index = np.clip(np.searchsorted(table[order], samples), 1, 255)
    nearer_left = samples - table[order][index - 1] < table[order][index] - samples
    return bytes(order[index - nearer_left].astype(np.uint8).tobytes())


@pytest.mark.parametrize(("kind", "rate"), [("audio/pcm", 16000), ("audio/pcmu", 8000), ("audio/pcma", 8000)])
def test_manual_commit_in_each_format(realtime_server: ServerProcess, kind: str, rate: int) -> None:
    sentence = sentences()[1]
    data = pcm16(sentence, rate) if kind == "audio/pcm" else _g711(sentence, kind)

    async def run() -> RealtimeClient:
        client = await RealtimeClient.open(realtime_server.realtime_url, KEY)
        update = {"format": {"type": kind, "rate": rate}, "turn_detection": None}
        await client.send({"type": "session.update", "session": {"audio": {"input": update}}})
        updated = (await client.wait_for("session.updated"))[0]["session"]["audio"]["input"]
        assert updated["format"] == {"type": kind, "rate": rate} and updated["turn_detection"] is None
        step = len(data) // 10 // 2 * 2  # whole 16-bit samples per append
        for offset in range(0, len(data), step):
            await client.append(data[offset : offset + step])
        await client.send({"type": "input_audio_buffer.commit", "event_id": "evt_commit"})
        await client.wait_for("conversation.item.input_audio_transcription.completed")
        await client.close()
        return client

    client = asyncio.run(run())
    kinds = [e["type"] for _, e in client.events]
    assert "input_audio_buffer.speech_started" not in kinds  # no turn detection: the client decides
    assert kinds.index("input_audio_buffer.committed") < kinds.index(
        "conversation.item.input_audio_transcription.completed"
    )
    transcript = client.of_type("conversation.item.input_audio_transcription.completed")[0]["transcript"]
    assert wer([SENTENCES[1]], [transcript]) <= 0.15, transcript


def test_session_update_mid_session_takes_effect(realtime_server: ServerProcess) -> None:
    two = speech_stream(gaps_ms=(800,), lead_ms=300, tail_ms=1800)
    data = pcm16(two.audio, 24000)

    async def run() -> RealtimeClient:
        client = await RealtimeClient.open(realtime_server.realtime_url, KEY)
        await client.stream(data, 24000, chunk_ms=100, speed=3)
        await client.wait_for("conversation.item.input_audio_transcription.completed", 2)
        turn = {"type": "server_vad", "silence_duration_ms": 1500}
        await client.send(
            {"type": "session.update", "session": {"audio": {"input": {"turn_detection": turn}}}}
        )
        update = (await client.wait_for("session.updated"))[0]["session"]["audio"]["input"]["turn_detection"]
        assert update["silence_duration_ms"] == 1500
        await client.stream(data, 24000, chunk_ms=100, speed=3)
        await client.wait_for("conversation.item.input_audio_transcription.completed", 3)
        await asyncio.sleep(1.0)  # a wrong split would show up as a fourth
        await client.close()
        return client

    client = asyncio.run(run())
    stops = client.of_type("input_audio_buffer.speech_stopped")
    assert len(stops) == 3, "800 ms pause: two utterances at 500 ms silence, one at 1500 ms"
    last = client.of_type("conversation.item.input_audio_transcription.completed")[-1]["transcript"]
    assert wer([" ".join(SENTENCES[:2])], [last]) <= 0.15, last


def test_beta_transcription_session_update_is_understood(realtime_server: ServerProcess) -> None:
    async def run() -> dict[str, Any]:
        client = await RealtimeClient.open(realtime_server.realtime_url, KEY)
        session = {"input_audio_format": "g711_ulaw", "turn_detection": None}
        await client.send({"type": "transcription_session.update", "session": session})
        reply = (await client.wait_for("transcription_session.updated"))[0]
        await client.close()
        return reply

    audio_input = asyncio.run(run())["session"]["audio"]["input"]
    assert audio_input["format"] == {"type": "audio/pcmu", "rate": 8000}
    assert audio_input["turn_detection"] is None
