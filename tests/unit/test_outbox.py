"""The outbox: control events bounded by count, audio by seconds queued, discard of a response."""

from __future__ import annotations

import asyncio
import base64
import tracemalloc

import pytest

from voxrt.realtime.protocol import EventRouter, Outbox, SlowClient

pytestmark = pytest.mark.anyio

CHUNK_S = 0.1
CHUNK = base64.b64encode(bytes(int(24000 * 2 * CHUNK_S))).decode()  # 100 ms of 24 kHz PCM


def _audio(response_id: str, n: int) -> dict[str, object]:
    return {"type": "response.output_audio.delta", "response_id": response_id, "delta": CHUNK, "n": n}


async def test_sixty_seconds_of_audio_wait_for_a_slow_reader_then_discard_drops_the_rest() -> None:
    outbox = Outbox(max_events=1000, max_audio_s=2.0)
    produced = 0

    async def synthesize() -> None:  # faster than real time: 600 chunks as fast as the queue takes them
        nonlocal produced
        for n in range(int(60 / CHUNK_S)):
            await outbox.put_audio(_audio("resp_1", n), CHUNK_S, "resp_1")
            produced += 1

    async def slow_client(count: int) -> list[int]:
        got = []
        for _ in range(count):
            got.append(int((await outbox.get())["n"]))
            await asyncio.sleep(0.002)
        return got

    tracemalloc.start()
    producer = asyncio.create_task(synthesize())
    received = await slow_client(100)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()

    assert received == list(range(100))  # in order, nothing lost, the client never dropped
    assert not outbox.overflowed
    assert produced - len(received) <= 2.0 / CHUNK_S  # the producer waits: at most 2 s ahead
    assert outbox.audio_s <= 2.0
    assert peak < 5_000_000  # bounded: 2 s of base64 audio queued, not 60 s (~5.8 MB)

    outbox.put({"type": "response.output_audio_transcript.delta"}, response_id="resp_1")
    outbox.put({"type": "input_audio_buffer.speech_started"})  # not the response's: it stays
    queued = produced - len(received) + 1
    assert outbox.discard("resp_1") == queued  # everything of the response, at once
    assert outbox.audio_s == 0
    assert (await outbox.get())["type"] == "input_audio_buffer.speech_started" and outbox.empty()
    producer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await producer


async def test_discard_keeps_other_responses_and_control_events_in_order() -> None:
    outbox = Outbox(max_audio_s=10.0)
    outbox.put({"type": "input_audio_buffer.speech_started"})
    await outbox.put_audio(_audio("resp_1", 0), CHUNK_S, "resp_1")
    await outbox.put_audio(_audio("resp_2", 1), CHUNK_S, "resp_2")
    outbox.put({"type": "response.output_audio_transcript.delta"}, "resp_1")
    assert outbox.discard("resp_1") == 2
    assert [(await outbox.get())["type"] for _ in range(2)] == [
        "input_audio_buffer.speech_started",
        "response.output_audio.delta",
    ]
    assert outbox.empty()


async def test_a_client_that_never_reads_control_events_is_dropped() -> None:
    outbox = Outbox(max_events=3)
    for _ in range(4):
        outbox.put({"type": "error"})
    assert outbox.overflowed
    with pytest.raises(SlowClient):
        await outbox.get()


def test_routers_include_each_other_and_refuse_a_conflict() -> None:
    shared: EventRouter[object] = EventRouter()
    own: EventRouter[object] = EventRouter()

    @shared.on("input_audio_buffer.append")
    def _append(session: object, event: dict[str, object]) -> None: ...

    @own.on("session.update")
    def _update(session: object, event: dict[str, object]) -> None: ...

    own.include(shared)
    assert own.handler("input_audio_buffer.append") is _append and own.handler("nope") is None
    with pytest.raises(ValueError, match="two handlers"):
        own.include(shared)
