"""Preemptive generation: the model starts a reply on the speculative transcript, before the
silence window has closed, and the reply adopts what it wrote when the turn ends as guessed.

A ``Draft`` is the responder's stream run ahead in a task, its deltas kept in order. It is adopted
by a ``Response`` whose model input is exactly the draft's (same messages, same options), and
dropped (generation stopped) when speech resumes, the transcript comes out different, or the
conversation changed meanwhile. A draft of a spoken reply also voices its first speakable chunk
as soon as it is written; the response takes that audio when its own first chunk is the same
text in the same voice, so the first words can be ready before the turn has ended.

Before that, while the person speaks, a ``Warmup`` has the responder evaluate the prompt of the
coming reply with the words heard so far (``Responder.prefill``), so that the draft evaluates only
the last words of the question.
"""

from __future__ import annotations

import asyncio
import time
from types import TracebackType
from typing import Any

import numpy as np

from voxrt.llm import ChatMessage, Delta, LLMMetrics, Responder, ResponseOptions, ToolCall
from voxrt.realtime.plan import ResponsePlan
from voxrt.tts import TTSEngine
from voxrt.tts.chunker import SentenceChunker

__all__ = ["Draft", "Warmup"]


class Draft:
    """A reply being written ahead; iterate it (``async with``) as a ``Response`` iterates an
    ``LLMStream``: the deltas written so far come at once, then the rest as they are written."""

    def __init__(self, responder: Responder, plan: ResponsePlan, tts: TTSEngine | None) -> None:
        self.plan = plan
        self.metrics: LLMMetrics | None = None
        self.first_token_at: float | None = None
        self._deltas: asyncio.Queue[Delta | BaseException | None] = asyncio.Queue()
        self._tts = tts if plan.modality == "audio" else None
        self._chunker = SentenceChunker(first_max_words=plan.first_chunk_words)
        self._speech: tuple[str, asyncio.Task[list[np.ndarray]]] | None = None  # first chunk, its audio
        self._task = asyncio.create_task(self._run(responder))

    def matches(self, messages: list[ChatMessage], options: ResponseOptions) -> bool:
        """Whether a reply to ``messages`` with ``options`` would be this one."""
        return options == self.plan.options and _wire(messages) == _wire(self.plan.messages)

    def speech(self, text: str, plan: ResponsePlan) -> asyncio.Task[list[np.ndarray]] | None:
        """The audio of ``text`` said as ``plan`` says it, when this draft voiced exactly that as
        its first chunk; the caller owns the task from then on."""
        if self._speech is None or self._speech[0] != text or _said_as(plan) != _said_as(self.plan):
            return None
        task, self._speech = self._speech[1], None
        return task

    def drop(self) -> None:
        """Stop writing (the token being computed, if any, is the last) and voicing."""
        self._task.cancel()
        if self._speech is not None:
            self._speech[1].cancel()
            self._speech = None

    async def _run(self, responder: Responder) -> None:
        try:
            async with responder.stream(self.plan.messages, self.plan.options) as reply:
                async for delta in reply:
                    if self.first_token_at is None:
                        self.first_token_at = time.perf_counter()
                    self._deltas.put_nowait(delta)
                    self._chunk(delta)
            self._chunk(None)
            self.metrics = reply.metrics
        except Exception as exc:  # handed to the response that adopts the draft
            self._deltas.put_nowait(exc)
        finally:
            self._deltas.put_nowait(None)

    def _chunk(self, delta: Delta | None) -> None:
        """Follow the text as a response's chunker would (``None``: the end) until the first
        speakable chunk, then start voicing it."""
        if self._tts is None:
            return
        texts = self._chunker.push(delta) if isinstance(delta, str) else self._chunker.flush()
        if texts:
            self._speech = (texts[0], asyncio.create_task(self._voice(self._tts, texts[0])))
        if texts or isinstance(delta, ToolCall):  # a tool call first: its result comes before words
            self._tts = None

    async def _voice(self, tts: TTSEngine, text: str) -> list[np.ndarray]:
        return [audio async for audio in self.plan.speak(tts, text)]

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
        self._task.cancel()  # the speech, if any, is the response's to take (or ``drop``'s to stop)


class Warmup:
    """The prompt of a turn's reply evaluated as the words come: ``update`` with each longer
    transcript; one prefill runs at a time, then the latest transcript's, if any came meanwhile."""

    def __init__(self, responder: Responder) -> None:
        self._responder = responder
        self._next: ResponsePlan | None = None
        self._task: asyncio.Task[None] | None = None

    def update(self, plan: ResponsePlan) -> None:
        self._next = plan
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())

    def stop(self) -> None:
        self._next = None
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _run(self) -> None:
        while self._next is not None:
            plan, self._next = self._next, None
            await self._responder.prefill(plan.messages, plan.options)


def _said_as(plan: ResponsePlan) -> tuple[str, float, int]:
    return plan.voice, plan.speed, plan.output_format.rate


def _wire(messages: list[ChatMessage]) -> list[dict[str, Any]]:
    return [message.to_openai() for message in messages]
