"""Turn detection in-process, with a scripted VAD and end-of-turn model: where each mode ends a
turn spoken with a pause in the middle, and what ``session.update`` accepts and echoes."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from openai.types.realtime import RealtimeServerEvent
from pydantic import TypeAdapter

from tests.fakes import FakeVAD, ScriptedASR, ScriptedEndOfTurn
from voxrt.config import VadSettings, load_settings
from voxrt.realtime.transcription import TranscriptionSession
from voxrt.vad import Segmenter, SpeechStarted, SpeechStopped

RATE = 24000
# 0.5 s of silence, 1 s of speech, a 0.7 s pause, 0.8 s of speech, then 3 s of silence.
SCRIPT = [(500, 0.0), (1000, 0.9), (700, 0.05), (800, 0.9), (3000, 0.0)]
TOTAL_MS = sum(ms for ms, _ in SCRIPT)


@pytest.fixture
def engine() -> Iterator[ScriptedASR]:
    asr = ScriptedASR(text="what is the weather like in paris tomorrow")
    asr.load(warmup=False)
    yield asr
    asr.close()


def _session(engine: ScriptedASR, end_of_turn: ScriptedEndOfTurn | None) -> TranscriptionSession:
    return TranscriptionSession(load_settings(), engine, FakeVAD(SCRIPT), end_of_turn)


def _update(turn_detection: dict[str, Any] | None) -> str:
    session = {"audio": {"input": {"turn_detection": turn_detection}}}
    return json.dumps({"type": "session.update", "session": session})


async def _stream(session: TranscriptionSession, ms: int = TOTAL_MS, chunk_ms: int = 100) -> None:
    """``ms`` of (silent) audio in appends of ``chunk_ms``, letting the loop run between them."""
    pcm = bytes(2 * RATE * chunk_ms // 1000)
    append = json.dumps({"type": "input_audio_buffer.append", "audio": base64.b64encode(pcm).decode()})
    for _ in range(ms // chunk_ms):
        await session.receive_text(append)
        await asyncio.sleep(0.01)


async def _take(session: TranscriptionSession) -> list[dict[str, Any]]:
    """The events queued so far."""
    out = []
    while not session.drained():
        out.append(await session.next_event())
    return out


async def _events(session: TranscriptionSession) -> list[dict[str, Any]]:
    """The rest of the session's events, once every committed turn is transcribed."""
    await session.settle()
    await session.close()
    return await _take(session)


async def _until_stopped(session: TranscriptionSession) -> list[dict[str, Any]]:
    """Every event of the session, once a turn has ended (an answer of the end-of-turn model comes
    back from the worker pool in its own time)."""
    events: list[dict[str, Any]] = []
    async with asyncio.timeout(10):
        while "input_audio_buffer.speech_stopped" not in [e["type"] for e in events]:
            events += await _take(session)
            await asyncio.sleep(0.02)
    return events + await _events(session)


def _turns(events: list[dict[str, Any]]) -> list[tuple[str, int]]:
    """Speech started / stopped events with their audio times, in order."""
    out = []
    for e in events:
        if e["type"] == "input_audio_buffer.speech_started":
            out.append(("started", e["audio_start_ms"]))
        elif e["type"] == "input_audio_buffer.speech_stopped":
            out.append(("stopped", e["audio_end_ms"]))
    return out


@pytest.mark.anyio
async def test_server_vad_cuts_a_turn_at_a_pause_longer_than_its_silence(engine: ScriptedASR) -> None:
    session = _session(engine, None)
    await _stream(session)
    events = await _events(session)
    # Speech from 500 ms (less the 300 ms prefix padding) to 1500 ms, and from 2200 ms to 3000 ms.
    assert _turns(events) == [("started", 200), ("stopped", 1500), ("started", 1900), ("stopped", 3000)]
    assert [e["type"] for e in events].count("input_audio_buffer.committed") == 2


@pytest.mark.anyio
async def test_semantic_vad_holds_the_turn_through_the_pause_and_ends_it_when_the_model_says_so(
    engine: ScriptedASR,
) -> None:
    model = ScriptedEndOfTurn(complete_after_s=2.5)  # the turn is 2.8 s of speech and pause from 200 ms
    session = _session(engine, model)
    await session.receive_text(_update({"type": "semantic_vad"}))
    await _stream(session, ms=TOTAL_MS - 2000)  # 1 s of silence after the speech, not the 4 s wait
    events = await _until_stopped(session)
    assert _turns(events) == [("started", 200), ("stopped", 3000)]
    types = [e["type"] for e in events]
    assert types.count("input_audio_buffer.committed") == 1
    assert types.count("conversation.item.input_audio_transcription.completed") == 1
    # Asked in the pause (said not yet) and once the speech ended (said finished).
    assert min(model.asked) < 2.5 <= max(model.asked)


@pytest.mark.anyio
async def test_semantic_vad_closes_a_turn_the_model_never_calls_finished_after_the_eagerness_wait(
    engine: ScriptedASR,
) -> None:
    model = ScriptedEndOfTurn()
    session = _session(engine, model)
    await session.receive_text(_update({"type": "semantic_vad", "eagerness": "high"}))  # 2 s
    await _stream(session, ms=TOTAL_MS - 1200)  # speech ends at 3000 ms: 1.8 s of silence
    before = await _take(session)
    assert _turns(before) == [("started", 200)]
    await _stream(session, ms=400)  # 2.2 s of silence: past the wait
    events = before + await _events(session)
    assert _turns(events) == [("started", 200), ("stopped", 3000)]
    # Asked at 300 and 600 ms of silence in the pause, then at 300, 600 and 1200 ms at the end.
    assert 4 <= len(model.asked) <= 6


@pytest.mark.anyio
async def test_an_answer_that_comes_after_speech_resumed_is_ignored(engine: ScriptedASR) -> None:
    model = ScriptedEndOfTurn(complete_after_s=0.0, delay_s=0.5)  # finished, every time, but slow
    session = _session(engine, model)
    await session.receive_text(_update({"type": "semantic_vad"}))
    pcm = bytes(2 * RATE // 10)
    append = json.dumps({"type": "input_audio_buffer.append", "audio": base64.b64encode(pcm).decode()})
    for _ in range(30):  # through the pause and into the second part at once: no answer yet
        await session.receive_text(append)
    await _stream(session, ms=1000)
    events = await _until_stopped(session)  # the question about the end waits for the first one
    assert _turns(events) == [("started", 200), ("stopped", 3000)]


@pytest.mark.anyio
async def test_semantic_vad_is_echoed_in_openai_shape_and_refused_without_a_model(
    engine: ScriptedASR,
) -> None:
    session = _session(engine, ScriptedEndOfTurn())
    await session.receive_text(_update({"type": "semantic_vad", "eagerness": "low"}))
    await session.receive_text(_update({"type": "server_vad", "silence_duration_ms": 700}))
    refusing = _session(engine, None)
    await refusing.receive_text(_update({"type": "semantic_vad"}))
    updated = [e for e in await _events(session) if e["type"] == "session.updated"]
    turn = [e["session"]["audio"]["input"]["turn_detection"] for e in updated]
    assert turn == [
        {"type": "semantic_vad", "eagerness": "low"},
        {"type": "server_vad", "threshold": None, "prefix_padding_ms": None, "silence_duration_ms": 700},
    ]
    for event in updated:
        TypeAdapter(RealtimeServerEvent).validate_python(event)
    refused = [e for e in await _events(refusing) if e["type"] != "session.created"]
    assert [e["type"] for e in refused] == ["error"]
    assert refused[0]["error"]["param"] == "session.audio.input.turn_detection.type"
    assert "pip install --no-deps pipecat-ai" in refused[0]["error"]["message"]
    assert refusing.config.turn_detection is not None
    assert refusing.config.turn_detection.type == "server_vad"  # the refused update changed nothing


def test_a_segmenter_holding_utterances_open_keeps_the_short_gap_for_candidates() -> None:
    """semantic_vad's segmenter waits out long pauses inside speech, but clicks spread over seconds
    of noise still never add up to speech."""
    clicks = [(100, 0.9), (600, 0.0)] * 4  # 100 ms bursts, gaps longer than silence_duration_ms
    vad = FakeVAD([*clicks, (1000, 0.9), (1500, 0.0), (500, 0.9), (5000, 0.0)])
    segmenter = Segmenter(vad.stream(), vad.frame_samples, VadSettings(), max_silence_ms=2000)
    events = segmenter.push(np.zeros(16 * 11_400, np.float32))
    assert [type(e) for e in events] == [SpeechStarted, SpeechStopped]
    stopped = events[1]
    assert isinstance(stopped, SpeechStopped)
    assert stopped.audio_end_ms == 2800 + 1000 + 1500 + 500  # through the 1.5 s pause
