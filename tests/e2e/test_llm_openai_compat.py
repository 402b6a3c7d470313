"""The openai_compat responder over real HTTP on loopback: against llama.cpp's own OpenAI-compatible
server (``python -m llama_cpp.server``, a separate process serving the bundled SmolLM2 GGUF), and
against a chat stub that fails on demand (5xx, too slow, stalls mid-reply, refuses the key), or a
port where nothing listens. Every failure is a clear typed error, and nothing hangs.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from tests.e2e.chat_servers import ChatStub, recorded_tool_call
from voxrt.bench.server import free_port
from voxrt.config import load_settings
from voxrt.errors import UpstreamError, UpstreamTimeout
from voxrt.llm import ChatMessage, Delta, LLMStream, ResponseOptions, ToolCall
from voxrt.llm.openai_compat import OpenAICompatResponder

pytestmark = pytest.mark.e2e

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
FORCE_WEATHER = {"type": "function", "function": {"name": "get_weather"}}


def _responder(base_url: str, **llm: Any) -> OpenAICompatResponder:
    settings = {"engine": "openai_compat", "base_url": base_url, "model": "smollm2", **llm}
    responder = OpenAICompatResponder(load_settings(overrides={"llm": settings}).llm)
    responder.load()
    return responder


async def _collect(responder: OpenAICompatResponder, messages: list[ChatMessage], **options: Any) -> Any:
    stream: LLMStream = responder.stream(messages, ResponseOptions(temperature=0.0, **options))
    deltas: list[Delta] = []
    try:
        async with stream:
            async for delta in stream:
                deltas.append(delta)
    finally:
        await responder.aclose()
    return deltas, stream.metrics


def test_streams_an_answer_from_llama_server(llama_server: str) -> None:
    messages = [
        ChatMessage("system", "You are a helpful assistant. Answer in one short sentence."),
        ChatMessage("user", "What is the capital of France?"),
    ]
    deltas, metrics = asyncio.run(_collect(_responder(llama_server), messages, max_output_tokens=40))
    text = "".join(deltas)
    assert all(isinstance(d, str) for d in deltas) and len(deltas) > 1
    assert "paris" in text.lower(), text
    assert metrics.outcome == "completed" and metrics.llm_ttft_ms is not None
    # usage from the final chunk (stream_options.include_usage), or counted here when not sent
    assert 1 <= metrics.completion_tokens <= 40


def test_a_tool_call_round_trip_with_llama_server(llama_server: str) -> None:
    question = ChatMessage("user", "What is the weather in Paris?")
    deltas, _ = asyncio.run(
        _collect(_responder(llama_server), [question], tools=(WEATHER_TOOL,), tool_choice=FORCE_WEATHER)
    )
    calls = [d for d in deltas if isinstance(d, ToolCall)]
    assert len(calls) == 1 and calls[0].name == "get_weather" and calls[0].id
    arguments = json.loads(calls[0].arguments)
    assert isinstance(arguments.get("city"), str) and arguments["city"]
    # the tool's result goes back with the call; the model answers from it
    messages = [
        question,
        ChatMessage("assistant", tool_calls=(calls[0],)),
        ChatMessage("tool", '{"city": "Paris", "weather": "sunny, 24 C"}', tool_call_id=calls[0].id),
    ]
    deltas, metrics = asyncio.run(_collect(_responder(llama_server), messages, max_output_tokens=40))
    assert metrics.outcome == "completed" and "".join(d for d in deltas if isinstance(d, str)).strip()


HELLO = [ChatMessage("user", "hi")]


def test_recorded_llama_server_tool_call_is_parsed(chat_stub: ChatStub) -> None:
    chat_stub.script(("sse", (recorded_tool_call(), None)))
    deltas, metrics = asyncio.run(_collect(_responder(chat_stub.url), HELLO, tools=(WEATHER_TOOL,)))
    call_id = "call__0_get_weather_cmpl-94044ce6-b834-43af-8821-3b3a826d8d89"
    assert deltas == [ToolCall(call_id, "get_weather", '{ "city": "Paris" }')]
    assert metrics.outcome == "completed"
    body = chat_stub.bodies[0]
    assert body["tools"] == [WEATHER_TOOL] and body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}


def test_5xx_is_retried_before_the_first_token_then_reported(chat_stub: ChatStub) -> None:
    chat_stub.script(("status", 503), ("sse", (recorded_tool_call(), None)))
    deltas, _ = asyncio.run(_collect(_responder(chat_stub.url, retries=1, backoff_s=0.01), HELLO))
    assert len(chat_stub.bodies) == 2 and isinstance(deltas[0], ToolCall)

    chat_stub.script(("status", 500), ("status", 502))
    with pytest.raises(UpstreamError, match="failed \\(HTTP 502: stub says 502\\)") as caught:
        asyncio.run(_collect(_responder(chat_stub.url, retries=1, backoff_s=0.01), HELLO))
    assert caught.value.code == "upstream_error" and caught.value.status == 502
    assert len(chat_stub.bodies) == 2


def test_a_refused_key_is_not_retried(chat_stub: ChatStub) -> None:
    chat_stub.script(("status", 401))
    with pytest.raises(UpstreamError, match="refused the request") as caught:
        asyncio.run(_collect(_responder(chat_stub.url, retries=3, api_key="wrong"), HELLO))
    assert caught.value.code == "upstream_auth_failed" and len(chat_stub.bodies) == 1


def test_a_slow_server_times_out(chat_stub: ChatStub) -> None:
    chat_stub.script(("hang", 10), ("hang", 10))
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout, match="did not answer in time") as caught:
        asyncio.run(_collect(_responder(chat_stub.url, read_timeout_s=0.5, retries=1, backoff_s=0.01), HELLO))
    assert caught.value.status == 504 and len(chat_stub.bodies) == 2
    assert time.monotonic() - started < 5


def test_a_stall_after_the_first_token_fails_without_a_retry(chat_stub: ChatStub) -> None:
    text_lines = [
        'data: {"choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hel"}}]}',
        "",
        'data: {"choices": [{"index": 0, "delta": {"content": "lo"}}]}',
        "",
    ]
    chat_stub.script(("sse", (text_lines, 2)), ("sse", (text_lines, None)))
    responder = _responder(chat_stub.url, read_timeout_s=0.5, retries=2, backoff_s=0.01)
    heard: list[Delta] = []

    async def run() -> None:
        async with responder.stream(HELLO, ResponseOptions()) as stream:
            async for delta in stream:
                heard.append(delta)
        await responder.aclose()

    with pytest.raises(UpstreamTimeout):
        asyncio.run(run())
    assert heard == ["Hel"] and len(chat_stub.bodies) == 1  # the user heard "Hel": no restart


def test_a_server_that_is_down_is_a_clear_error() -> None:
    started = time.monotonic()
    nowhere = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(UpstreamError, match="could not be reached") as caught:
        asyncio.run(_collect(_responder(nowhere, retries=2, backoff_s=0.01), HELLO))
    assert caught.value.code == "upstream_unavailable" and time.monotonic() - started < 5


def test_a_server_without_stream_options_is_asked_again_without(chat_stub: ChatStub) -> None:
    refusal = (400, "Unrecognized request argument supplied: stream_options")
    chat_stub.script(("status", refusal), ("sse", (recorded_tool_call(), None)))
    responder = _responder(chat_stub.url, retries=0)
    deltas, _ = asyncio.run(_collect(responder, HELLO))
    assert isinstance(deltas[0], ToolCall) and len(chat_stub.bodies) == 2
    assert "stream_options" in chat_stub.bodies[0] and "stream_options" not in chat_stub.bodies[1]
    chat_stub.script(("sse", (recorded_tool_call(), None)))  # the next reply goes without it at once
    asyncio.run(_collect(responder, HELLO))
    assert len(chat_stub.bodies) == 1 and "stream_options" not in chat_stub.bodies[0]
