"""Conversation memory: bounded by turns and by tokens, oldest turns dropped whole, the system
prompt and the latest turn always kept."""

from __future__ import annotations

import pytest

from voxrt.config import load_settings
from voxrt.llm import ChatMessage, Conversation, ToolCall


def _words(text: str) -> int:
    return len(text.split())


def _exchange(conversation: Conversation, n: int) -> None:
    conversation.add(ChatMessage("user", f"question {n}"))
    conversation.add(ChatMessage("assistant", f"answer {n}"))


def _contents(conversation: Conversation) -> list[str]:
    return [m.content for m in conversation.messages()]


def test_keeps_the_system_prompt_and_the_last_turns() -> None:
    conversation = Conversation("Be brief.", max_turns=2, max_tokens=10_000)
    for n in range(4):
        _exchange(conversation, n)
    assert _contents(conversation) == ["Be brief.", "question 2", "answer 2", "question 3", "answer 3"]
    assert conversation.messages()[0].role == "system" and len(conversation) == 2


def test_drops_oldest_turns_to_fit_the_token_budget() -> None:
    # each message costs 4 (role markers) + its words: system 6, each exchange 2 * 6 = 12
    conversation = Conversation("Be brief.", max_turns=100, max_tokens=6 + 2 * 12, count_tokens=_words)
    for n in range(3):
        _exchange(conversation, n)
    assert _contents(conversation)[1:] == ["question 1", "answer 1", "question 2", "answer 2"]
    assert conversation.tokens() == 30


def test_a_tool_result_goes_with_its_call() -> None:
    conversation = Conversation("", max_turns=1, max_tokens=10_000)
    _exchange(conversation, 0)
    call = ToolCall("call_1", "get_weather", '{"city": "Paris"}')
    conversation.add(ChatMessage("user", "weather in Paris?"))
    conversation.add(ChatMessage("assistant", tool_calls=(call,)))
    conversation.add(ChatMessage("tool", "sunny", tool_call_id="call_1"))
    conversation.add(ChatMessage("assistant", "It is sunny."))
    roles = [m.role for m in conversation.messages()]
    assert roles == ["user", "assistant", "tool", "assistant"]  # no system prompt when none is set


def test_the_latest_turn_stays_even_when_it_alone_is_over_budget() -> None:
    conversation = Conversation("Be brief.", max_turns=5, max_tokens=20, count_tokens=_words)
    _exchange(conversation, 0)
    conversation.add(ChatMessage("user", "word " * 50))
    assert [m.role for m in conversation.messages()] == ["system", "user"]


def test_tool_calls_count_toward_the_budget() -> None:
    conversation = Conversation("", max_turns=5, max_tokens=10_000, count_tokens=len)
    conversation.add(ChatMessage("assistant", tool_calls=(ToolCall("c", "f", "x" * 100),)))
    assert conversation.tokens() == 4 + 101


def test_system_messages_are_the_instructions_not_turns() -> None:
    with pytest.raises(ValueError, match="instructions"):
        Conversation("", max_turns=1, max_tokens=100).add(ChatMessage("system", "be rude"))


def test_built_from_the_llm_settings() -> None:
    llm = load_settings(overrides={"llm": {"instructions": "Be kind.", "memory_turns": 3}}).llm
    conversation = Conversation.from_settings(llm, count_tokens=_words)
    assert (conversation.max_turns, conversation.max_tokens) == (3, llm.memory_tokens)
    assert _contents(conversation) == ["Be kind."] and conversation.tokens() == 6
