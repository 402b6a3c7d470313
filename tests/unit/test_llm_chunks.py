"""Streamed chat chunks to deltas: text as it comes, tool calls put together from their pieces,
usage from the final chunk, and server errors or malformed chunks as clear errors."""

from __future__ import annotations

from typing import Any

import pytest

from voxrt.errors import UpstreamError
from voxrt.llm import ToolCall, Usage
from voxrt.llm.chunks import ChunkParser


def _chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **extra: Any) -> dict[str, Any]:
    choice = {"index": 0, "delta": delta or {}, "finish_reason": finish}
    return {"object": "chat.completion.chunk", "choices": [choice], **extra}


def _piece(index: int, **fields: Any) -> dict[str, Any]:
    return {"tool_calls": [{"index": index, **fields}]}


def test_text_deltas_then_usage() -> None:
    usage = Usage()
    parser = ChunkParser(usage)
    chunks = [
        _chunk({"role": "assistant", "content": ""}),
        _chunk({"content": "Paris"}),
        _chunk({"content": " is."}, finish="stop"),
        {"choices": [], "usage": {"prompt_tokens": 21, "completion_tokens": 3, "total_tokens": 24}},
    ]
    assert [d for c in chunks for d in parser.feed(c)] == ["Paris", " is."]
    assert parser.finish_reason == "stop" and (usage.prompt_tokens, usage.completion_tokens) == (21, 3)


def test_tool_calls_are_put_together_from_their_pieces() -> None:
    # the shape OpenAI and vLLM stream: id and name first, then fragments of the arguments
    parser = ChunkParser(Usage())
    chunks = [
        _chunk(_piece(0, id="call_a", type="function", function={"name": "get_weather", "arguments": ""})),
        _chunk(_piece(0, function={"arguments": '{"city": '})),
        _chunk(_piece(1, id="call_b", function={"name": "get_time", "arguments": "{}"})),
        _chunk(_piece(0, function={"arguments": '"Paris"}'})),
    ]
    assert [d for c in chunks for d in parser.feed(c)] == []  # nothing whole yet
    assert parser.feed(_chunk(finish="tool_calls")) == [
        ToolCall("call_a", "get_weather", '{"city": "Paris"}'),
        ToolCall("call_b", "get_time", "{}"),
    ]


def test_a_stream_that_ends_without_a_finish_reason_still_hands_over_its_call() -> None:
    parser = ChunkParser(Usage())
    parser.feed(_chunk(_piece(0, function={"name": "hang_up"})))
    assert parser.finish() == [ToolCall("call_0", "hang_up", "{}")]
    assert parser.finish() == []


def test_an_error_object_in_the_stream_is_an_upstream_error() -> None:
    with pytest.raises(UpstreamError, match="mid-reply: out of memory"):
        ChunkParser(Usage()).feed({"error": {"message": "out of memory", "code": 500}})


@pytest.mark.parametrize("chunk", [{"choices": "nope"}, {"choices": [{"delta": {"tool_calls": [1]}}]}])
def test_a_malformed_chunk_is_an_upstream_error(chunk: dict[str, Any]) -> None:
    with pytest.raises(UpstreamError, match="malformed"):
        ChunkParser(Usage()).feed(chunk)
