"""Per-session bounds of a realtime session, in-process: pending commits, audio rate, event shape
limits, the silence gate, cancellation on close and a bounded share of the event loop."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import numpy as np
import pytest

from tests.fakes import ScriptedASR
from voxrt.audio.pcm import to_int16
from voxrt.bench.realtime_client import append_event
from voxrt.config import load_settings
from voxrt.realtime.limits import RateLimit
from voxrt.realtime.transcription import TranscriptionSession
from voxrt.server.routers.realtime import _origin_allowed
from voxrt.vad import create_vad

RATE = 24000
COMPLETED = "conversation.item.input_audio_transcription.completed"
MANUAL = json.dumps({"type": "session.update", "session": {"audio": {"input": {"turn_detection": None}}}})
COMMIT = json.dumps({"type": "input_audio_buffer.commit"})


def _session(engine: ScriptedASR, **realtime: Any) -> TranscriptionSession:
    settings = load_settings(overrides={"realtime": realtime, "vad": {"engine": "energy"}})
    if not engine.ready:
        engine.load(warmup=False)
    return TranscriptionSession(settings, engine, create_vad("energy"))


def _append(seconds: float, dbfs: float = -10.0, seed: int = 0) -> str:
    """An append event of ``seconds`` of noise at ``dbfs`` (loud: speech to the energy VAD)."""
    samples = np.random.default_rng(seed).normal(0, 10 ** (dbfs / 20), int(seconds * RATE))
    return append_event(to_int16(samples).tobytes())


async def _events(session: TranscriptionSession) -> list[dict[str, Any]]:
    out = []
    while not session.drained():
        out.append(await session.next_event())
    return out


def _codes(events: list[dict[str, Any]]) -> list[str]:
    return [e["error"]["code"] for e in events if e["type"] == "error"]


async def _until(predicate: Any, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


def test_commits_past_the_pending_limit_are_refused_and_close_cancels_every_decode() -> None:
    engine = ScriptedASR(delay_s=0.3)

    async def run() -> list[dict[str, Any]]:
        session = _session(engine, max_pending_commits=3, vad_gate_commits=False)
        await session.receive_text(MANUAL)
        for k in range(8):
            await session.receive_text(_append(0.5, seed=k))
            await session.receive_text(COMMIT)
        assert session.recognizer.pending == 3
        await _until(lambda: engine.started == 1)
        await session.close()  # the client left: the queued decodes must never start
        started = engine.started
        await asyncio.sleep(1.0)
        assert engine.started == started == 1 and engine.finished <= 1
        return await _events(session)

    events = asyncio.run(run())
    assert _codes(events) == ["too_many_pending_commits"] * 5
    assert [e["type"] for e in events].count("input_audio_buffer.committed") == 3


def test_a_refused_commit_keeps_the_buffer_for_a_later_commit() -> None:
    engine = ScriptedASR(text="hello")

    async def run() -> list[dict[str, Any]]:
        session = _session(engine, max_pending_commits=1, vad_gate_commits=False)
        await session.receive_text(MANUAL)
        await session.receive_text(_append(0.5))
        await session.receive_text(COMMIT)
        await session.receive_text(_append(0.5))
        await session.receive_text(COMMIT)  # refused: one pending
        await _until(lambda: session.recognizer.pending == 0)
        await session.receive_text(COMMIT)  # the kept half second goes now
        await _until(lambda: session.recognizer.pending == 0)
        await session.close()
        return await _events(session)

    events = asyncio.run(run())
    assert _codes(events) == ["too_many_pending_commits"]
    seconds = [e["usage"]["seconds"] for e in events if e["type"] == COMPLETED]
    assert seconds == pytest.approx([0.5, 0.5], abs=0.05)  # the resampler keeps a few ms back


@pytest.mark.parametrize(("gate", "transcript", "decodes"), [(True, "", 0), (False, "you you you", 1)])
def test_a_commit_without_speech_is_not_decoded(gate: bool, transcript: str, decodes: int) -> None:
    engine = ScriptedASR()  # says "you you you" to anything, as Whisper does to silence

    async def run() -> list[dict[str, Any]]:
        session = _session(engine, vad_gate_commits=gate)
        await session.receive_text(MANUAL)
        await session.receive_text(_append(10.0, dbfs=-70.0))
        await session.receive_text(COMMIT)
        await _until(lambda: session.recognizer.pending == 0)
        await session.close()
        return await _events(session)

    completed = [e for e in asyncio.run(run()) if e["type"] == COMPLETED]
    assert [e["transcript"] for e in completed] == [transcript]
    assert completed[0]["usage"]["seconds"] == pytest.approx(10.0, abs=0.05)
    assert engine.started == decodes


def test_a_commit_with_speech_passes_the_gate() -> None:
    engine = ScriptedASR(text="hello")

    async def run() -> list[dict[str, Any]]:
        session = _session(engine)
        await session.receive_text(MANUAL)
        await session.receive_text(_append(1.0, dbfs=-10.0))
        await session.receive_text(COMMIT)
        await _until(lambda: session.recognizer.pending == 0)
        await session.close()
        return await _events(session)

    assert [e["transcript"] for e in asyncio.run(run()) if e["type"] == COMPLETED] == ["hello"]


def test_audio_faster_than_the_allowed_rate_is_refused_not_queued() -> None:
    engine = ScriptedASR(text="hello")

    async def run() -> list[dict[str, Any]]:
        session = _session(engine, max_audio_rate=2.0, audio_burst_s=5.0, vad_gate_commits=False)
        await session.receive_text(MANUAL)
        await session.receive_text(_append(4.0))
        for _ in range(3):  # over the burst: refused; the error is reported once a second
            await session.receive_text(_append(4.0))
        await session.receive_text(COMMIT)
        await _until(lambda: session.recognizer.pending == 0)
        await session.close()
        return await _events(session)

    events = asyncio.run(run())
    assert _codes(events) == ["audio_rate_exceeded"]
    seconds = [e["usage"]["seconds"] for e in events if e["type"] == COMPLETED]
    assert seconds == pytest.approx([4.0], abs=0.05)


def test_the_rate_limit_refills_at_the_rate_up_to_the_burst() -> None:
    now = [0.0]
    limit = RateLimit(rate=3.0, burst=6.0, clock=lambda: now[0])
    assert limit.take(6.0) and not limit.take(0.1)
    now[0] = 1.0
    assert limit.take(3.0) and not limit.take(0.1)
    now[0] = 100.0  # a long pause earns no more than the burst
    assert limit.take(6.0) and not limit.take(0.1)
    for k in range(1, 50):  # real-time audio after that is never refused
        now[0] = 100.0 + 0.04 * k
        assert limit.take(0.04)


def test_bad_event_shapes_get_invalid_event_without_a_traceback(caplog: pytest.LogCaptureFixture) -> None:
    long_model = {"audio": {"input": {"transcription": {"model": "m" * 10_000}}}}
    nested: object = 1
    for _ in range(40):
        nested = [nested]
    messages = [
        "[" * 100_000 + "]" * 100_000,
        '{"type": "session.update", "session": ' + "{" + '"a": {' * 5_000 + "}" * 5_001 + "}",
        json.dumps({"type": "session.update", "session": {"a": nested}}),
        json.dumps({"type": "session.update", "session": long_model}),
        json.dumps({"type": "x" * 10_000}),
        json.dumps({"type": "input_audio_buffer.clear", "event_id": "e" * 10_000}),
        "null",
    ]

    async def run() -> list[dict[str, Any]]:
        session = _session(ScriptedASR())
        for message in messages:
            await session.receive_text(message)
        await session.close()
        return await _events(session)

    with caplog.at_level(logging.DEBUG):
        events = asyncio.run(run())
    errors = [e["error"] for e in events if e["type"] == "error"]
    assert [e["code"] for e in errors] == ["invalid_event"] * 4 + [
        "unknown_event",
        "invalid_event",
        "invalid_json",
    ]
    assert errors[3]["param"] == "session.audio.input.transcription.model"
    assert errors[5]["param"] == "event_id" and errors[5]["event_id"] is None
    assert all(len(json.dumps(e)) < 500 for e in errors)  # nothing long is echoed back
    assert [e["type"] for e in events] == ["session.created"] + ["error"] * 7
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_large_append_leaves_the_event_loop_to_others() -> None:
    ticks = 0

    async def tick(stop: asyncio.Event) -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0)

    async def run() -> int:
        session = _session(ScriptedASR())
        stop = asyncio.Event()
        ticker = asyncio.create_task(tick(stop))
        await asyncio.sleep(0)
        before = ticks
        await session.receive_text(_append(15.0, dbfs=-70.0))  # 15 s through the VAD
        stop.set()
        await ticker
        await session.close()
        return ticks - before

    assert asyncio.run(run()) >= 20  # the VAD ran in half-second slices, the loop turned between them


@pytest.mark.parametrize(
    ("origin", "host", "allowed", "expected"),
    [
        (None, "voxrt.example:8000", [], True),  # not a browser
        ("https://app.example", "voxrt.example", ["https://app.example/"], True),
        ("http://127.0.0.1:8000", "127.0.0.1:8000", [], True),  # the server's own UI
        ("https://voxrt.example", "voxrt.example:443", [], True),
        ("http://voxrt.example", "VOXRT.example", [], True),
        ("http://127.0.0.1:9000", "127.0.0.1:8000", [], False),
        ("https://evil.example", "voxrt.example", ["https://app.example"], False),
        ("null", "voxrt.example", [], False),
        ("http://voxrt.example:99999", "voxrt.example", [], False),
        ("https://evil.example", "voxrt.example", ["*"], True),
    ],
)
def test_origin_rules(origin: str | None, host: str, allowed: list[str], expected: bool) -> None:
    assert _origin_allowed(origin, host, allowed) is expected


@pytest.mark.parametrize(("seconds", "decodes"), [(1.0, 1), (10.0, 0)])
def test_audio_far_ahead_of_real_time_gets_no_partials(seconds: float, decodes: int) -> None:
    engine = ScriptedASR(text="hello")

    async def run() -> int:
        session = _session(engine)
        await session.receive_text(_append(seconds, dbfs=-10.0))  # speech to the energy VAD, no end
        await asyncio.sleep(0.3)
        await session.close()
        return engine.started

    # 1 s at once is a client's chunk: a partial decode starts; 10 s at once is a file or a flood
    assert asyncio.run(run()) == decodes
