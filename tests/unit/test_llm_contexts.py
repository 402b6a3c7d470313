"""Which llama.cpp context a reply or a prefill borrows (``_Contexts``): the one whose last prompt
shares the most with the new one, and one still evaluating a prefill is waited for when it shares
the most. Plain objects stand for the contexts: only their identity matters here."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from voxrt.llm.llama_cpp import _Contexts

pytestmark = pytest.mark.anyio

SYSTEM = {"role": "system", "content": "Be brief."}


def _user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


async def _contexts(*prompts: list[dict[str, Any]]) -> tuple[_Contexts, list[object]]:
    """Contexts that last evaluated ``prompts``, one each, all free."""
    contexts, made = _Contexts(), [object() for _ in prompts]
    for context, prompt in zip(made, prompts, strict=True):
        contexts.give_back(context)
        assert await contexts.take(prompt) is context  # the only one free
    for context in made:
        contexts.give_back(context)
    return contexts, made


async def test_a_reply_takes_the_context_that_heard_the_most_of_its_question() -> None:
    contexts, (_, partial, other) = await _contexts(
        [SYSTEM], [SYSTEM, _user("What is the boiling")], [SYSTEM, _user("Why is")]
    )
    assert await contexts.take([SYSTEM, _user("What is the boiling point of water?")]) is partial
    assert await contexts.take([SYSTEM, _user("Why is the sky blue?")]) is other


async def test_a_reply_waits_for_the_prefill_of_its_question_rather_than_take_another_context() -> None:
    contexts, (plain, prefilled) = await _contexts([SYSTEM], [SYSTEM])
    assert contexts.take_for_prefill([SYSTEM, _user("Why is")]) is plain  # another conversation's
    assert contexts.take_for_prefill([SYSTEM, _user("What is the boiling")]) is prefilled
    assert contexts.take_for_prefill([SYSTEM]) is None  # all lent: a prefill never waits
    contexts.give_back(plain)  # its prefill is over first; ``prefilled`` is still evaluating
    taking = asyncio.create_task(contexts.take([SYSTEM, _user("What is the boiling point?")]))
    await asyncio.sleep(0.01)
    assert not taking.done()  # it shares "What is the boiling" with the question; ``plain`` does not
    contexts.give_back(prefilled)
    assert await taking is prefilled
    # Another question takes the free one at once.
    assert await contexts.take([SYSTEM, _user("Why?")]) is plain
