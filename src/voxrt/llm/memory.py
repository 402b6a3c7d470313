"""A conversation's memory: the system prompt, then as many recent turns as the bounds allow.

A turn is a user message and everything after it up to the next one (the assistant's reply, its
tool calls and their results), so the oldest turns are dropped whole and a tool result is never
kept without the call it answers. The system prompt and the latest turn are always kept.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from voxrt.llm.base import ChatMessage, estimate_tokens

if TYPE_CHECKING:
    from voxrt.config import LlmSettings

__all__ = ["Conversation"]

_PER_MESSAGE = 4  # the chat template's role markers around each message


class Conversation:
    """The messages of one conversation, bounded to ``max_turns`` turns and ``max_tokens`` tokens."""

    def __init__(
        self,
        instructions: str,
        *,
        max_turns: int,
        max_tokens: int,
        count_tokens: Callable[[str], int] = estimate_tokens,
    ) -> None:
        self._count = count_tokens
        self.max_turns, self.max_tokens = max_turns, max_tokens
        self._system = ChatMessage("system", instructions) if instructions else None
        self._system_tokens = self._tokens(self._system) if self._system else 0
        self._turns: list[list[tuple[ChatMessage, int]]] = []

    @classmethod
    def from_settings(
        cls, settings: LlmSettings, count_tokens: Callable[[str], int] = estimate_tokens
    ) -> Conversation:
        """A conversation with ``llm.instructions`` and the ``llm.memory_*`` bounds; pass the
        responder's ``count_tokens`` to count with its tokenizer."""
        return cls(
            settings.instructions,
            max_turns=settings.memory_turns,
            max_tokens=settings.memory_tokens,
            count_tokens=count_tokens,
        )

    def add(self, message: ChatMessage) -> None:
        """Append ``message`` (a user message starts a new turn), then drop the oldest turns that no
        longer fit."""
        if message.role == "system":
            raise ValueError("the system prompt is the conversation's instructions, not a message")
        if message.role == "user" or not self._turns:
            self._turns.append([])
        self._turns[-1].append((message, self._tokens(message)))
        self._trim()

    def messages(self) -> list[ChatMessage]:
        """What the model sees: the system prompt, then the kept turns in order."""
        kept = [message for turn in self._turns for message, _ in turn]
        return [self._system, *kept] if self._system else kept

    def tokens(self) -> int:
        """Tokens the kept messages take, the system prompt included."""
        return self._system_tokens + sum(n for turn in self._turns for _, n in turn)

    def __len__(self) -> int:
        """Turns kept."""
        return len(self._turns)

    def _tokens(self, message: ChatMessage) -> int:
        calls = "".join(call.name + call.arguments for call in message.tool_calls)
        return _PER_MESSAGE + self._count(message.content + calls)

    def _trim(self) -> None:
        while len(self._turns) > 1 and (len(self._turns) > self.max_turns or self.tokens() > self.max_tokens):
            self._turns.pop(0)
