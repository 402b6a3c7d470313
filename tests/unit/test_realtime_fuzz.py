"""Property-based fuzzing of the realtime event handlers, in-process: sequences of generated client
messages (valid-ish events, garbage JSON, raw bytes) never raise out of the session, never earn an
``internal_error``, and leave it answering."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fakes import ScriptedASR
from voxrt.config import load_settings
from voxrt.realtime.transcription import TranscriptionSession
from voxrt.vad import create_vad

INPUTS = 10_000
TIME_LIMIT_S = 90.0

_json_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20)
)
_json = st.recursive(
    _json_leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly a plausible value, sometimes any JSON at all."""
    return st.one_of(strategy, strategy, _json)


_format = st.fixed_dictionaries(
    {},
    optional={
        "type": _maybe(st.sampled_from(["audio/pcm", "audio/pcmu", "audio/pcma", "audio/opus"])),
        "rate": _maybe(st.sampled_from([8000, 16000, 24000, 44100, 0, -1])),
    },
)
_transcription = st.fixed_dictionaries(
    {},
    optional={
        "model": _maybe(st.text(max_size=300)),
        "language": _maybe(st.sampled_from(["en", "fr", "", "x" * 40])),
        "prompt": _maybe(st.text(max_size=50)),
    },
)
_turn = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {},
        optional={
            "type": _maybe(st.sampled_from(["server_vad", "semantic_vad"])),
            "threshold": _maybe(st.floats(-1, 2, allow_nan=False)),
            "prefix_padding_ms": _maybe(st.integers(-100, 6000)),
            "silence_duration_ms": _maybe(st.integers(0, 20000)),
        },
    ),
)
_input = st.fixed_dictionaries(
    {},
    optional={
        "format": _maybe(_format),
        "transcription": _maybe(_transcription),
        "turn_detection": _maybe(_turn),
        "noise_reduction": _maybe(
            st.one_of(st.none(), st.fixed_dictionaries({"type": st.text(max_size=12)}))
        ),
    },
)
_session_update = st.fixed_dictionaries(
    {"type": st.sampled_from(["session.update", "transcription_session.update"])},
    optional={
        "event_id": _maybe(st.text(max_size=12)),
        "session": _maybe(
            st.fixed_dictionaries(
                {},
                optional={
                    "type": _maybe(st.just("transcription")),
                    "audio": _maybe(st.fixed_dictionaries({}, optional={"input": _maybe(_input)})),
                    "input_audio_format": _maybe(st.sampled_from(["pcm16", "g711_ulaw", "g711_alaw", "wav"])),
                    "turn_detection": _maybe(_turn),
                },
            )
        ),
    },
)
_append = st.fixed_dictionaries(
    {"type": st.just("input_audio_buffer.append")},
    optional={
        "audio": _maybe(
            st.one_of(
                st.binary(max_size=4000).map(lambda b: base64.b64encode(b).decode()),
                st.text(alphabet="ABCD+/=%", max_size=40),
            )
        ),
        "event_id": st.text(max_size=12),
    },
)
_control = st.fixed_dictionaries(
    {
        "type": st.one_of(
            st.sampled_from(["input_audio_buffer.commit", "input_audio_buffer.clear", "response.create"]),
            st.text(max_size=30),
        )
    },
    optional={"event_id": _maybe(st.text(max_size=12))},
)
_deep = st.tuples(
    st.sampled_from(["[", '{"a":', '{"type": "session.update", "session": {"a":']), st.integers(1, 50_000)
)
_text = st.one_of(
    st.one_of(_session_update, _append, _control).map(json.dumps),
    _json.map(json.dumps),
    _deep.map(lambda d: d[0] * d[1] + "1" + ("]" if d[0] == "[" else "}") * d[1]),
    st.text(max_size=200),
)
_message = st.one_of(_text, _text, _text, st.binary(max_size=4000))

_vad = create_vad("silero")
_engine = ScriptedASR(text="fuzz")
_engine.load(warmup=False)
_settings = load_settings(overrides={"realtime": {"max_pending_commits": 2}})
_seen = {"inputs": 0}


async def _run(messages: list[str | bytes]) -> list[dict[str, Any]]:
    session = TranscriptionSession(_settings, _engine, _vad)
    for message in messages:
        if isinstance(message, str):
            await session.receive_text(message)
        else:
            await session.receive_bytes(message)
        _seen["inputs"] += 1
    events = []
    while not session.drained():
        events.append(await session.next_event())
    await session.receive_text('{"type": "input_audio_buffer.clear"}')  # the session still answers
    await session.close()
    after = []
    while not session.drained():
        after.append(await session.next_event())
    assert "input_audio_buffer.cleared" in [e["type"] for e in after], after
    return events + after


@settings(
    max_examples=INPUTS // 3,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(_message, min_size=1, max_size=5))
def _handles_anything(messages: list[str | bytes]) -> None:
    events = asyncio.run(_run(messages))
    codes = [e["error"]["code"] for e in events if e["type"] == "error"]
    assert "internal_error" not in codes, codes


def test_realtime_handlers_survive_generated_input() -> None:
    started = time.perf_counter()
    _handles_anything()
    elapsed = time.perf_counter() - started
    assert _seen["inputs"] >= INPUTS, _seen
    assert elapsed < TIME_LIMIT_S, elapsed
