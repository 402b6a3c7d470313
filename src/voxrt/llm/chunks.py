"""Deltas out of OpenAI ``chat.completion.chunk`` objects, as chat servers and llama.cpp stream them.

Text arrives in ``choices[0].delta.content``; a tool call arrives in pieces under
``choices[0].delta.tool_calls[i]`` (id and name first, then fragments of its JSON arguments), so
calls are put together here and handed on whole when the choice finishes. Token usage comes in a
final chunk with no choices when the request asked for it (``stream_options.include_usage``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from voxrt.errors import UpstreamError
from voxrt.llm.base import Delta, ToolCall, Usage

__all__ = ["ChunkParser"]


@dataclass
class _PartialCall:
    id: str = ""
    name: str = ""
    arguments: str = ""


class ChunkParser:
    """Feed it chunks in order; it returns the deltas each completes and fills ``usage``."""

    def __init__(self, usage: Usage) -> None:
        self.usage = usage
        self.finish_reason: str | None = None
        self._calls: dict[int, _PartialCall] = {}
        self._made = 0

    def feed(self, chunk: Mapping[str, Any]) -> list[Delta]:
        """The deltas in ``chunk``.

        Raises:
            UpstreamError: the chunk is an error object, or not shaped like a chunk.
        """
        error = chunk.get("error")
        if error is not None:
            message = error.get("message") if isinstance(error, Mapping) else error
            raise UpstreamError(f"The chat server failed mid-reply: {str(message)[:300]}")
        try:
            self._usage(chunk.get("usage"))
            deltas: list[Delta] = []
            for choice in chunk.get("choices") or ():
                if choice.get("index", 0) != 0:  # voxrt asks for one choice
                    continue
                delta = choice.get("delta") or {}
                if text := delta.get("content"):
                    deltas.append(str(text))
                for piece in delta.get("tool_calls") or ():
                    self._add_piece(piece)
                if reason := choice.get("finish_reason"):
                    self.finish_reason = str(reason)
                    deltas += self.finish()
            return deltas
        except (AttributeError, TypeError, ValueError):
            raise UpstreamError("The chat server sent a malformed chunk.") from None

    def finish(self) -> list[Delta]:
        """Tool calls still being put together (the stream ended without a finish reason)."""
        calls: list[Delta] = [
            ToolCall(call.id or f"call_{self._made + n}", call.name, call.arguments or "{}")
            for n, (_, call) in enumerate(sorted(self._calls.items()))
        ]
        self._made += len(calls)
        self._calls.clear()
        return calls

    def _add_piece(self, piece: Mapping[str, Any]) -> None:
        call = self._calls.setdefault(int(piece.get("index", len(self._calls))), _PartialCall())
        call.id = piece.get("id") or call.id
        function = piece.get("function") or {}
        call.name = function.get("name") or call.name
        call.arguments += function.get("arguments") or ""

    def _usage(self, usage: Mapping[str, Any] | None) -> None:
        if not usage:
            return
        if (prompt := usage.get("prompt_tokens")) is not None:
            self.usage.prompt_tokens = int(prompt)
        if (completion := usage.get("completion_tokens")) is not None:
            self.usage.completion_tokens = int(completion)
