"""Preemptive generation: the model starts a reply on the speculative transcript, before the
silence window has closed, and the reply adopts what it wrote when the turn ends as guessed.

A ``Draft`` is the responder's stream run ahead in a task, its deltas kept in order. It is adopted
by a ``Response`` whose model input is exactly the draft's (same messages, same options), and
dropped (generation stopped) when speech resumes, the transcript comes out different, or the
conversation changed meanwhile.
"""

from __future__ import annotations

import asyncio
import time
from types import TracebackType
from typing import Any

from voxrt.llm import ChatMessage, Delta, LLMMetrics, Responder, ResponseOptions

__all__ = ["Draft"]


class Draft:
    """A reply being written ahead; iterate it (``async with``) as a ``Response`` iterates an
    ``LLMStream``: the deltas written so far come at once, then the rest as they are written."""

    def __init__(self, responder: Responder, messages: list[ChatMessage], options: ResponseOptions) -> None:
        self.messages, self.options = messages, options
        self.metrics: LLMMetrics | None = None
        self.first_token_at: float | None = None
        self._deltas: asyncio.Queue[Delta | BaseException | None] = asyncio.Queue()
        self._task = asyncio.create_task(self._run(responder))

    def matches(self, messages: list[ChatMessage], options: ResponseOptions) -> bool:
        """Whether a reply to ``messages`` with ``options`` would be this one."""
        return options == self.options and _wire(messages) == _wire(self.messages)

    def drop(self) -> None:
        """Stop writing (the token being computed, if any, is the last)."""
        self._task.cancel()

    async def _run(self, responder: Responder) -> None:
        try:
            async with responder.stream(self.messages, self.options) as reply:
                async for delta in reply:
                    if self.first_token_at is None:
                        self.first_token_at = time.perf_counter()
                    self._deltas.put_nowait(delta)
            self.metrics = reply.metrics
        except Exception as exc:  # handed to the response that adopts the draft
            self._deltas.put_nowait(exc)
        finally:
            self._deltas.put_nowait(None)

    def __aiter__(self) -> Draft:
        return self

    async def __anext__(self) -> Delta:
        item = await self._deltas.get()
        if item is None:
            raise StopAsyncIteration
        if isinstance(item, BaseException):
            raise item
        return item

    async def __aenter__(self) -> Draft:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.drop()


def _wire(messages: list[ChatMessage]) -> list[dict[str, Any]]:
    return [message.to_openai() for message in messages]
