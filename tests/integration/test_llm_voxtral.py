"""The voxtral responder on the tiny random-weight Voxtral: it answers from the user's audio,
streaming, through the same model the recognizer loaded. Random weights say nothing meaningful, so
these tests check the flow: the streamed reply is exactly what the batched audio Q&A path
generates for the same request, limits hold, leaving stops it, and misuse is a clear error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.speech import RATE, noise
from voxrt.asr import create_asr_engine
from voxrt.asr.voxtral import VoxtralEngine
from voxrt.config import ConfigError, load_settings
from voxrt.errors import InvalidRequest
from voxrt.llm import ChatMessage, LLMStream, Responder, ResponseOptions, ToolCall, create_responder
from voxrt.llm.voxtral import voxtral_chat

pytestmark = pytest.mark.integration

INSTRUCTION = "Answer the question in the audio."


def _audio(seconds: float, seed: int = 0) -> np.ndarray:
    return noise(int(seconds * RATE), -20.0, "pink", seed)


@pytest.fixture(scope="module")
def engine(tiny_voxtral: Path) -> Iterator[VoxtralEngine]:
    settings = load_settings(overrides={"asr": {"engine": "voxtral", "model": str(tiny_voxtral)}})
    made = create_asr_engine(settings.asr)
    assert isinstance(made, VoxtralEngine)
    made.load()
    yield made
    made.close()


@pytest.fixture(scope="module")
def responder(engine: VoxtralEngine) -> Iterator[Responder]:
    made = create_responder(load_settings(overrides={"llm": {"engine": "voxtral"}}).llm, engine)
    made.load()
    yield made
    asyncio.run(made.aclose())


async def _reply(stream: LLMStream, stop_after: int | None = None) -> list[str]:
    deltas: list[str] = []
    async with stream:
        async for delta in stream:
            assert isinstance(delta, str)
            deltas.append(delta)
            if len(deltas) == stop_after:
                break
    return deltas


async def _leave_after(stream: LLMStream, deltas: int) -> int:
    """Leave the reply after ``deltas`` deltas; the tokens generated when the consumer left."""
    async with stream:
        async for _ in stream:
            deltas -= 1
            if not deltas:
                break
        return stream.usage.completion_tokens or 0


def test_streams_the_reply_the_audio_qa_path_gives(engine: VoxtralEngine, responder: Responder) -> None:
    audio = _audio(3.0)
    messages = [ChatMessage("system", INSTRUCTION), ChatMessage("user", audio=audio)]
    stream = responder.stream(messages, ResponseOptions(temperature=0.0, max_output_tokens=8))
    deltas = asyncio.run(_reply(stream))
    expected = asyncio.run(engine.understand(audio, INSTRUCTION, max_new_tokens=8))
    assert len(deltas) >= 2 and "".join(deltas).strip() == expected
    metrics = stream.metrics
    assert metrics is not None and metrics.outcome == "completed"
    assert 1 <= metrics.completion_tokens <= 8 and metrics.llm_ttft_ms is not None
    assert metrics.model == "tiny-voxtral"


def test_leaving_early_stops_generation(responder: Responder) -> None:
    messages = [ChatMessage("user", audio=_audio(2.0, seed=1))]
    stream = responder.stream(messages, ResponseOptions(temperature=0.0, max_output_tokens=64))
    at_leave = asyncio.run(_leave_after(stream, 2))
    assert stream.metrics is not None and stream.metrics.outcome == "cancelled"
    assert stream.metrics.completion_tokens - at_leave <= 1  # at most the step in flight
    assert stream.metrics.completion_tokens < 64


def test_earlier_turns_go_as_text_and_the_instructions_follow_the_audio() -> None:
    audio = _audio(1.0)
    chat = voxtral_chat(
        [
            ChatMessage("system", INSTRUCTION),
            ChatMessage("user", "What's the weather?", audio=_audio(1.0, seed=2)),
            ChatMessage("assistant", "Sunny."),
            ChatMessage("user", "and tomorrow?", audio=audio),
        ]
    )
    assert chat[:2] == [
        {"role": "user", "content": "What's the weather?"},
        {"role": "assistant", "content": "Sunny."},
    ]
    last = chat[2]["content"]
    assert [part["type"] for part in last] == ["audio", "text"] and last[1]["text"] == INSTRUCTION
    # typed input (no audio): an ordinary text chat, system prompt first
    typed = voxtral_chat([ChatMessage("system", INSTRUCTION), ChatMessage("user", "hi")])
    assert typed == [{"role": "system", "content": INSTRUCTION}, {"role": "user", "content": "hi"}]


def test_tools_are_refused_clearly(responder: Responder) -> None:
    call = ToolCall("call_1", "get_weather", "{}")
    with pytest.raises(InvalidRequest, match="does not call tools"):
        voxtral_chat([ChatMessage("user", "hi"), ChatMessage("assistant", tool_calls=(call,))])
    tools = ({"type": "function", "function": {"name": "get_weather", "parameters": {}}},)
    stream = responder.stream([ChatMessage("user", "hi")], ResponseOptions(tools=tools))
    with pytest.raises(InvalidRequest, match="does not call tools"):
        asyncio.run(_reply(stream))


def test_needs_the_voxtral_recognizer() -> None:
    with pytest.raises(ConfigError, match=r"asr\.engine: voxtral"):
        create_responder(load_settings(overrides={"llm": {"engine": "voxtral"}}).llm, None)
