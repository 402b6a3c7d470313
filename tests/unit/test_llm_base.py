"""What the responder base owns for every engine: readiness, metrics however a reply ends, and
error mapping. The engine is the scripted fake that subclasses the real base (no model)."""

from __future__ import annotations

import asyncio

import pytest

from tests.fakes import ScriptedResponder
from voxrt.errors import ModelNotReady, UpstreamError, VoxrtError
from voxrt.llm import ChatMessage, Delta, LLMStream, Responder, ResponseOptions, ToolCall

HELLO = [ChatMessage("user", "hi")]


def _loaded(responder: ScriptedResponder) -> ScriptedResponder:
    responder.load()
    return responder


async def _all(responder: Responder) -> list[Delta]:
    async with responder.stream(HELLO, ResponseOptions()) as stream:
        return [delta async for delta in stream]


def test_a_reply_before_load_is_model_not_ready() -> None:
    with pytest.raises(ModelNotReady):
        asyncio.run(_all(ScriptedResponder(["x"])))


def test_metrics_of_a_completed_reply_use_the_engine_usage() -> None:
    responder = _loaded(ScriptedResponder(["Hi", " there", ToolCall("c1", "f", "{}")], gap_s=0.01))
    stream = responder.stream(HELLO, ResponseOptions())

    async def run() -> list[Delta]:
        async with stream:
            return [delta async for delta in stream]

    assert asyncio.run(run())[-1] == ToolCall("c1", "f", "{}")
    metrics = stream.metrics
    assert metrics is not None and metrics.outcome == "completed" and metrics.type == "llm_metrics"
    assert (metrics.prompt_tokens, metrics.completion_tokens) == (5, 7)
    assert metrics.llm_ttft_ms is not None and metrics.llm_ttft_ms < metrics.duration_ms
    assert metrics.tokens_per_s is not None and metrics.tokens_per_s > 0


def test_leaving_early_closes_the_engine_stream_and_counts_what_was_heard() -> None:
    responder = _loaded(ScriptedResponder(["a", "b", "c", "d"]))
    stream = responder.stream(HELLO, ResponseOptions())

    async def run() -> None:
        async with stream:
            async for delta in stream:
                if delta == "b":
                    break
        assert responder.closed  # closed at once, not when garbage collected

    asyncio.run(run())
    assert stream.metrics is not None and stream.metrics.outcome == "cancelled"
    assert stream.metrics.completion_tokens == 2  # no usage from the engine: deltas counted


def test_cancelling_the_consumer_task_is_a_cancelled_reply() -> None:
    responder = _loaded(ScriptedResponder(["a", "b", "c"], gap_s=10))
    stream = responder.stream(HELLO, ResponseOptions())

    async def run() -> None:
        task = asyncio.create_task(_consume(stream))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run())
    assert responder.closed and stream.metrics is not None and stream.metrics.outcome == "cancelled"


async def _consume(stream: LLMStream) -> None:
    async for _ in stream:
        pass


def test_voxrt_errors_pass_through_and_others_are_mapped() -> None:
    upstream = UpstreamError("server down", code="upstream_unavailable")
    with pytest.raises(UpstreamError) as caught:
        asyncio.run(_all(_loaded(ScriptedResponder(["a"], error=upstream))))
    assert caught.value is upstream

    with pytest.raises(VoxrtError, match="language model failed \\(RuntimeError\\)") as mapped:
        asyncio.run(_all(_loaded(ScriptedResponder([], error=RuntimeError("boom")))))
    assert mapped.value.code == "llm_failed" and mapped.value.status == 500
