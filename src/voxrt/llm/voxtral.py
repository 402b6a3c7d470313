"""Voxtral answering from the user's audio: the loaded Voxtral recognizer (``asr.engine: voxtral``)
hears the latest user message and replies, with no separate transcription pass.

Earlier turns go in as text (their transcripts), the latest user message as audio. Voxtral's
tokenizer takes no system prompt next to audio, so the instructions follow the audio as its text
part. Tokens are decoded one forward pass per pool job (``runtime.iterate``) with a KV cache, so a
reply whose consumer leaves stops before its next token.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncGenerator, Callable, Iterator
from contextlib import aclosing
from typing import Any

from voxrt.asr.voxtral import VoxtralEngine
from voxrt.audio.decode import SAMPLE_RATE
from voxrt.audio.pcm import wav_bytes
from voxrt.errors import InvalidRequest
from voxrt.llm.base import ChatMessage, Delta, Responder, ResponseOptions, Usage
from voxrt.runtime import Priority, PriorityPool, iterate

__all__ = ["VoxtralResponder", "voxtral_chat"]


def voxtral_chat(messages: list[ChatMessage]) -> list[dict[str, Any]]:
    """The conversation in the shape Voxtral's chat template takes.

    Raises:
        InvalidRequest: tool calls or results in it (this responder calls no tools).
    """
    if any(m.role == "tool" or m.tool_calls for m in messages):
        raise InvalidRequest("The voxtral responder does not call tools.", code="tools_not_supported")
    system = "\n".join(m.content for m in messages if m.role == "system" and m.content)
    turns = [m for m in messages if m.role != "system"]
    last_user = max((i for i, m in enumerate(turns) if m.role == "user"), default=-1)
    heard = last_user >= 0 and turns[last_user].audio is not None
    chat: list[dict[str, Any]] = [] if heard or not system else [{"role": "system", "content": system}]
    for i, message in enumerate(turns):
        if i == last_user and message.audio is not None:
            wav = base64.b64encode(wav_bytes(message.audio, SAMPLE_RATE)).decode()
            content: list[dict[str, str]] = [{"type": "audio", "base64": wav}]
            if system:
                content.append({"type": "text", "text": system})
            chat.append({"role": "user", "content": content})
        else:
            chat.append({"role": message.role, "content": message.content})
    return chat


class VoxtralResponder(Responder):
    """Replies with the Voxtral model the recognizer loaded (loaded there; shared with it)."""

    def __init__(self, engine: VoxtralEngine, max_parallel: int = 1) -> None:
        super().__init__(engine.model_id)
        self._engine = engine
        self._pool = PriorityPool(max_parallel, name="llm-voxtral")

    def _load(self) -> None:
        if not self._engine.ready:
            self._engine.load()

    async def aclose(self) -> None:
        self._pool.shutdown()

    async def _stream(
        self, messages: list[ChatMessage], options: ResponseOptions, usage: Usage
    ) -> AsyncGenerator[Delta, None]:
        if options.tools:
            raise InvalidRequest("The voxtral responder does not call tools.", code="tools_not_supported")
        chat = voxtral_chat(messages)
        engine = self._engine

        def make() -> Iterator[str]:
            tokens = engine.chat_tokens(chat, options.max_output_tokens, options.temperature)
            return _text_steps(_counted(tokens, usage), engine.detokenize)

        async with aclosing(iterate(self._pool, Priority.LLM, make)) as deltas:
            async for delta in deltas:
                yield delta


def _counted(tokens: Iterator[int], usage: Usage) -> Iterator[int]:
    usage.completion_tokens = 0
    for token in tokens:
        usage.completion_tokens += 1
        yield token


def _text_steps(tokens: Iterator[int], decode: Callable[[list[int]], str]) -> Iterator[str]:
    """Text pieces as ``tokens`` come, holding back a piece that ends inside a UTF-8 character."""
    ids: list[int] = []
    sent = ""
    for token in tokens:
        ids.append(token)
        text = decode(ids)
        if text.endswith("\ufffd") or len(text) <= len(sent):
            continue
        yield text[len(sent) :]
        sent = text
