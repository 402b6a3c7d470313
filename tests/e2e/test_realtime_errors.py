"""Bad realtime input, each case with a second session streaming speech at the same time: every
bad input gets an ``error`` event or a clean close with a reason, and the other session's
transcripts come out right."""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Awaitable, Callable

import numpy as np
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.e2e.conftest import RT_IDLE_S, RT_KEY, RT_MAX_MESSAGE, RT_MAX_SESSIONS
from tests.speech import RATE, noise, pcm16, speech_stream
from voxrt.bench.corpus import SENTENCES
from voxrt.bench.realtime_client import RealtimeClient, append_event
from voxrt.bench.server import ServerProcess
from voxrt.bench.wer import wer

pytestmark = pytest.mark.e2e

COMPLETED = "conversation.item.input_audio_transcription.completed"


async def _with_witness(server: ServerProcess, check: Callable[[], Awaitable[None]]) -> None:
    """Run ``check`` while another session streams two sentences; that session must be unharmed."""
    # the speech first: synthesizing it can take longer than the server's idle timeout
    speech = speech_stream(gaps_ms=(900,), lead_ms=300, tail_ms=1200)
    witness = await RealtimeClient.open(server.realtime_url, RT_KEY)
    checked = asyncio.Event()

    async def feed() -> None:
        await witness.stream(pcm16(speech.audio), 24000, chunk_ms=40, speed=1.5)
        while not checked.is_set():  # quiet room tone keeps the witness from idling out
            await witness.append(pcm16(noise(RATE // 10, -70.0)))
            await asyncio.sleep(0.1)

    feeding = asyncio.create_task(feed())
    await check()
    checked.set()
    await feeding
    completed = await witness.wait_for(COMPLETED, 2, timeout=20)
    assert not witness.of_type("error")
    assert wer(list(SENTENCES[:2]), [e["transcript"] for e in completed]) <= 0.12
    await witness.close()


async def _error_for(client: RealtimeClient, message: str | bytes) -> dict[str, object]:
    before = len(client.of_type("error"))
    await client.ws.send(message)
    errors = await client.wait_for("error", before + 1, timeout=10)
    return errors[-1]["error"]  # type: ignore[no-any-return]


def test_malformed_events_get_error_events(realtime_server: ServerProcess) -> None:
    async def check() -> None:
        client = await RealtimeClient.open(realtime_server.realtime_url, RT_KEY)
        cases: list[tuple[str | bytes, str, str | None]] = [
            ("{not json", "invalid_json", None),
            ('["a", "list"]', "invalid_json", None),
            ('{"type": "input_audio_buffer.explode", "event_id": "e1"}', "unknown_event", "type"),
            ('{"type": "input_audio_buffer.append", "audio": "%%%not base64%%%"}', "invalid_audio", "audio"),
            ('{"type": "input_audio_buffer.append"}', "invalid_event", "audio"),
            ("x" * (RT_MAX_MESSAGE + 1000), "message_too_large", None),
            (b"\x01" * (RT_MAX_MESSAGE + 1000), "message_too_large", None),
            (b"\x01\x02\x03", "invalid_audio", None),  # half a 16-bit sample
            ('{"type": "input_audio_buffer.commit"}', "input_audio_buffer_commit_empty", None),
        ]
        for message, code, param in cases:
            error = await _error_for(client, message)
            assert error["code"] == code, (message[:40], error)
            assert error["param"] == param and error["message"]
        error = await _error_for(client, '{"type": "nope", "event_id": "evt_42"}')
        assert error["event_id"] == "evt_42"  # errors name the client event that caused them
        await client.close()

    asyncio.run(_with_witness(realtime_server, check))


@pytest.mark.parametrize(
    ("audio_format", "param"),
    [
        ({"type": "audio/pcm", "rate": 44100}, "session.audio.input.format.rate"),
        ({"type": "audio/opus"}, "session.audio.input.format.type"),
        ({"type": "audio/pcmu", "rate": 24000}, "session.audio.input.format.rate"),
    ],
)
def test_unsupported_format_is_refused_and_session_goes_on(
    realtime_server: ServerProcess, audio_format: dict[str, object], param: str
) -> None:
    async def run() -> RealtimeClient:
        client = await RealtimeClient.open(realtime_server.realtime_url, RT_KEY)
        update = {"type": "session.update", "session": {"audio": {"input": {"format": audio_format}}}}
        await client.send({**update, "event_id": "evt_fmt"})
        error = (await client.wait_for("error"))[0]["error"]
        assert (error["code"], error["param"], error["event_id"]) == ("invalid_event", param, "evt_fmt")
        # the session keeps its format (pcm 24 kHz) and still transcribes
        speech = speech_stream(gaps_ms=(), lead_ms=300, tail_ms=1000)
        await client.stream(pcm16(speech.audio), 24000, chunk_ms=100, speed=4)
        await client.wait_for(COMPLETED)
        await client.close()
        return client

    client = asyncio.run(run())
    assert wer([SENTENCES[0]], [client.of_type(COMPLETED)[0]["transcript"]]) <= 0.15


def test_silence_and_noise_invent_nothing(realtime_server: ServerProcess) -> None:
    seconds = 20
    silence = noise(seconds * RATE, -70.0, seed=1)
    hiss = noise(seconds * RATE, -30.0, color="pink", seed=2)

    async def check() -> None:
        for audio in (silence, hiss, np.zeros(seconds * RATE, np.float32)):
            client = await RealtimeClient.open(realtime_server.realtime_url, RT_KEY)
            await client.stream(pcm16(audio), 24000, chunk_ms=100, speed=10)
            await asyncio.sleep(1.0)
            kinds = {e["type"] for _, e in client.events}
            assert kinds == {"session.created"}, kinds
            await client.close()

    asyncio.run(_with_witness(realtime_server, check))


def test_abrupt_close_mid_utterance_frees_the_session(realtime_server: ServerProcess) -> None:
    speech = speech_stream(gaps_ms=(), lead_ms=200, tail_ms=0)
    half = pcm16(speech.audio)[: len(pcm16(speech.audio)) // 2]

    async def check() -> None:
        for _ in range(RT_MAX_SESSIONS + 1):  # more than the limit: each must have been freed
            client = await RealtimeClient.open(realtime_server.realtime_url, RT_KEY)
            await client.stream(half, 24000, chunk_ms=100, speed=4)
            await client.wait_for("input_audio_buffer.speech_started")
            client.ws.transport.abort()  # no close frame: the TCP connection just drops
            await asyncio.sleep(0.3)

    asyncio.run(_with_witness(realtime_server, check))


def test_session_over_the_limit_is_refused_clearly(realtime_server: ServerProcess) -> None:
    async def check() -> None:
        others = [
            await RealtimeClient.open(realtime_server.realtime_url, RT_KEY)
            for _ in range(RT_MAX_SESSIONS - 1)
        ]
        for other in others:
            await other.wait_for("session.created")
        extra = await RealtimeClient.open(realtime_server.realtime_url, RT_KEY)
        error = (await extra.wait_for("error"))[0]["error"]
        assert error["code"] == "session_limit_reached"
        code, reason = await extra.closed()
        assert code == 1013 and "limit" in reason
        await others[0].close()
        await asyncio.sleep(0.3)
        # a freed slot is usable again
        replacement = await RealtimeClient.open(realtime_server.realtime_url, RT_KEY)
        await replacement.wait_for("session.created")
        for client in (replacement, *others[1:]):
            await client.close()

    asyncio.run(_with_witness(realtime_server, check))


def test_wrong_or_missing_key_is_refused_before_accepting(realtime_server: ServerProcess) -> None:
    async def run() -> None:
        for key in (None, "wrong-key"):
            with pytest.raises(InvalidStatus) as info:
                await RealtimeClient.open(realtime_server.realtime_url, key)
            assert info.value.response.status_code == 401
        # browsers pass the key as a subprotocol
        client = await RealtimeClient.open(
            realtime_server.realtime_url,
            subprotocols=["realtime", f"openai-insecure-api-key.{RT_KEY}"],
        )
        assert client.ws.subprotocol == "realtime"
        await client.wait_for("session.created")
        await client.close()

    asyncio.run(run())


def test_idle_session_is_closed_with_a_reason(realtime_server: ServerProcess) -> None:
    async def run() -> RealtimeClient:
        client = await RealtimeClient.open(realtime_server.realtime_url, RT_KEY)
        code, reason = await client.closed(timeout=RT_IDLE_S + 5)
        assert code == 1000 and "No client event" in reason
        return client

    client = asyncio.run(run())
    assert client.of_type("error")[0]["error"]["code"] == "idle_timeout"


def test_base64_audio_and_binary_frames_are_equivalent(realtime_server: ServerProcess) -> None:
    speech = speech_stream(gaps_ms=(), lead_ms=300, tail_ms=1000)
    data = pcm16(speech.audio)

    async def run(binary: bool) -> str:
        client = await RealtimeClient.open(realtime_server.realtime_url, RT_KEY)
        frame = bytes if binary else append_event  # 100 ms chunks, unpaced
        await client.stream(data, 24000, chunk_ms=100, speed=math.inf, frame=frame)
        transcript = str((await client.wait_for(COMPLETED))[0]["transcript"])
        await client.close()
        return transcript

    assert wer([SENTENCES[0]] * 2, [asyncio.run(run(True)), asyncio.run(run(False))]) <= 0.15


def test_client_that_stops_reading_is_dropped(realtime_server: ServerProcess) -> None:
    async def slots_free(count: int) -> bool:
        clients = [await RealtimeClient.open(realtime_server.realtime_url, RT_KEY) for _ in range(count)]
        for client in clients:
            with contextlib.suppress(ConnectionError):  # refused: an error event, then the close
                await client.wait_for("session.created")
        await asyncio.sleep(0.2)
        refused = any(client.of_type("error") for client in clients)
        for client in clients:
            await client.close()
        return not refused

    async def check() -> None:
        # max_queue=1 and no reader: the client library stops reading the socket, the server's
        # sends back up, and its queue of unsent events fills
        stalled = await RealtimeClient.open(realtime_server.realtime_url, RT_KEY, max_queue=1)
        stalled._reader.cancel()
        with contextlib.suppress(ConnectionClosed):
            for sent in range(60_000):
                await stalled.ws.send("{")  # each earns an error event nobody reads
                if sent % 200 == 0:  # a send that fits the buffer never yields: let the witness talk
                    await asyncio.sleep(0)
        # the server must give the stalled session up and free its slot
        deadline = asyncio.get_running_loop().time() + 20
        while not await slots_free(RT_MAX_SESSIONS - 1):
            assert asyncio.get_running_loop().time() < deadline, "the stalled session still holds its slot"
            await asyncio.sleep(0.5)
        stalled.ws.transport.abort()

    asyncio.run(_with_witness(realtime_server, check))
