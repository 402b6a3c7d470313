"""The responder base: ``stream(messages, options)`` owns readiness, timing, token usage,
cancellation and error mapping; an engine implements ``_load`` and ``_stream``.

A reply is an ``LLMStream``: an async iterator of deltas (text, or a complete tool call). Leaving
it early (``break`` inside ``async with``, cancelling the task that iterates it) stops generation
before the next token; ``stream.metrics`` then says how far it got.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from voxrt.errors import ModelNotReady, VoxrtError

if TYPE_CHECKING:
    import numpy as np

    from voxrt.config import LlmSettings

__all__ = [
    "ChatMessage",
    "Delta",
    "LLMMetrics",
    "LLMStream",
    "Responder",
    "ResponseOptions",
    "ToolCall",
    "Usage",
    "estimate_tokens",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ToolCall:
    """A function call the model asked for; ``arguments`` is the JSON text as the model wrote it."""

    id: str
    name: str
    arguments: str

    def to_openai(self) -> dict[str, Any]:
        """The call as an OpenAI chat ``tool_calls`` entry."""
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }


# A piece of a reply: text as it is generated, or a tool call once its arguments are complete.
Delta = str | ToolCall

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(frozen=True, eq=False)
class ChatMessage:
    """One message of a conversation.

    ``audio`` (float32 mono 16 kHz) is the user's speech when the message came from it; a responder
    that hears (Voxtral) answers from it, the others read ``content`` (its transcript).
    """

    role: Role
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    audio: np.ndarray | None = field(default=None, repr=False)

    def to_openai(self) -> dict[str, Any]:
        """The message in OpenAI's chat format (audio left out)."""
        message: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            message["tool_calls"] = [call.to_openai() for call in self.tool_calls]
        if self.tool_call_id is not None:
            message["tool_call_id"] = self.tool_call_id
        return message


@dataclass(frozen=True)
class ResponseOptions:
    """How to generate one reply. ``tools`` are OpenAI function tools, passed through as they are."""

    temperature: float = 0.2
    max_output_tokens: int = 256
    tools: tuple[dict[str, Any], ...] = ()
    tool_choice: str | dict[str, Any] | None = None

    @classmethod
    def from_settings(cls, settings: LlmSettings) -> ResponseOptions:
        """The configured defaults (``llm.temperature``, ``llm.max_output_tokens``)."""
        return cls(temperature=settings.temperature, max_output_tokens=settings.max_output_tokens)


@dataclass
class Usage:
    """Token counts an engine reports while it generates (None: it does not know)."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None


@dataclass(frozen=True)
class LLMMetrics:
    """One reply, however it ended. ``tokens_per_s`` is the decode rate after the first token."""

    model: str
    outcome: Literal["completed", "cancelled", "failed"]
    llm_ttft_ms: float | None
    duration_ms: float
    prompt_tokens: int | None
    completion_tokens: int
    tokens_per_s: float | None
    type: Literal["llm_metrics"] = "llm_metrics"


def estimate_tokens(text: str) -> int:
    """A tokenizer-free estimate: about four characters of English per token."""
    return math.ceil(len(text) / 4)


class LLMStream(AsyncIterator[Delta]):
    """One reply being generated: iterate it for deltas; ``usage`` counts tokens as they come and
    ``metrics`` is set once it has ended.

    Use it as ``async with responder.stream(...) as reply: async for delta in reply: ...`` so
    that leaving the loop early stops generation at once.
    """

    def __init__(self, responder: Responder, messages: list[ChatMessage], options: ResponseOptions) -> None:
        self.metrics: LLMMetrics | None = None
        self.usage = Usage()  # live counts, as the engine reports them
        self._deltas = responder._measured(messages, options, self)

    def __aiter__(self) -> LLMStream:
        return self

    async def __anext__(self) -> Delta:
        return await self._deltas.__anext__()

    async def aclose(self) -> None:
        """Stop generating (the token being computed, if any, is the last)."""
        await self._deltas.aclose()

    async def __aenter__(self) -> LLMStream:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


class Responder(ABC):
    """A chat model that streams replies; loaded once (``load``) and shared by every conversation."""

    def __init__(self, model_id: str) -> None:
        self.model_id = model_id
        self._ready = False

    @property
    def ready(self) -> bool:
        return self._ready

    def load(self) -> None:
        """Load the model (blocking) so that the first reply is fast.

        Raises:
            ConfigError: the model cannot be loaded as configured.
        """
        started = time.perf_counter()
        self._load()
        self._ready = True
        log.info("llm %s ready in %.2f s", self.model_id, time.perf_counter() - started)

    @abstractmethod
    async def aclose(self) -> None:
        """Release the model's worker threads or connections."""

    def count_tokens(self, text: str) -> int:
        """Tokens ``text`` takes in this model's prompt (an estimate unless the engine has a tokenizer)."""
        return estimate_tokens(text)

    async def prefill(self, messages: list[ChatMessage], options: ResponseOptions) -> None:
        """Evaluate ahead what a reply to ``messages`` would, up to the end of the last message's
        text (the person's words so far; more may follow), where the engine keeps the evaluated
        prompt for the reply; a best effort that never fails. Nothing, unless the engine says so."""
        return None

    def stream(self, messages: list[ChatMessage], options: ResponseOptions) -> LLMStream:
        """Start a reply to ``messages``.

        Iterating the stream raises ``ModelNotReady`` before ``load`` finished, ``UpstreamError`` /
        ``UpstreamTimeout`` when a chat server fails, ``InvalidRequest`` when the conversation does
        not fit the model, and another ``VoxrtError`` for any other failure of the model.
        """
        return LLMStream(self, messages, options)

    async def _measured(
        self, messages: list[ChatMessage], options: ResponseOptions, stream: LLMStream
    ) -> AsyncGenerator[Delta, None]:
        if not self._ready:
            raise ModelNotReady("The language model is still loading; retry shortly.")
        usage = stream.usage
        started = time.perf_counter()
        first: float | None = None
        count = 0
        outcome: Literal["completed", "cancelled", "failed"] = "failed"
        try:
            async with aclosing(self._stream(messages, options, usage)) as deltas:
                async for delta in deltas:
                    if first is None:
                        first = time.perf_counter()
                    count += 1
                    yield delta
            outcome = "completed"
        except (asyncio.CancelledError, GeneratorExit):
            outcome = "cancelled"
            raise
        except VoxrtError:
            raise
        except Exception as exc:
            log.exception("llm %s failed", self.model_id)
            raise VoxrtError(f"The language model failed ({type(exc).__name__}).", code="llm_failed") from exc
        finally:
            ended = time.perf_counter()
            tokens = usage.completion_tokens if usage.completion_tokens is not None else count
            rate = (
                (tokens - 1) / (ended - first) if first is not None and tokens > 1 and ended > first else None
            )
            stream.metrics = LLMMetrics(
                model=self.model_id,
                outcome=outcome,
                llm_ttft_ms=None if first is None else 1000 * (first - started),
                duration_ms=1000 * (ended - started),
                prompt_tokens=usage.prompt_tokens,
                completion_tokens=tokens,
                tokens_per_s=rate,
            )
            log.debug("llm reply %s: %d tokens in %.0f ms", outcome, tokens, 1000 * (ended - started))

    @abstractmethod
    def _load(self) -> None:
        """Load the model or open the client (blocking)."""

    @abstractmethod
    def _stream(
        self, messages: list[ChatMessage], options: ResponseOptions, usage: Usage
    ) -> AsyncGenerator[Delta, None]:
        """Generate the reply's deltas, filling ``usage`` as the counts become known."""
