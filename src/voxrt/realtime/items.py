"""A conversation's items, as OpenAI's Realtime protocol shows them, and what the model reads of
them.

Items are user and system messages, assistant messages (their transcript or text), function calls
and their outputs. Audio itself is not kept: a user's audio is its transcript once recognised, an
assistant's is the transcript of what was spoken, cut to what the user heard when the reply was
interrupted (``truncate``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from voxrt.errors import InvalidRequest
from voxrt.llm import ChatMessage, ToolCall

__all__ = ["Item", "Items", "SpokenChunk", "chat_messages"]

ItemType = Literal["message", "function_call", "function_call_output"]
Role = Literal["user", "assistant", "system"]
Status = Literal["completed", "incomplete", "in_progress"]


@dataclass
class SpokenChunk:
    """A piece of an assistant's audio reply: its text and where its audio lies in the reply."""

    text: str
    start_ms: float
    end_ms: float


@dataclass
class Item:
    """One conversation item. ``content_type`` says which content part it carries:
    ``input_audio`` / ``input_text`` (user, system), ``output_audio`` / ``output_text`` (assistant)."""

    id: str
    type: ItemType = "message"
    role: Role | None = None
    content_type: str = "input_text"
    text: str | None = None  # text, or the transcript of audio (None: not recognised yet)
    status: Status = "completed"
    call_id: str | None = None
    name: str | None = None
    arguments: str = ""
    output: str = ""
    spoken: list[SpokenChunk] = field(default_factory=list)  # assistant audio, in order
    heard_ms: float | None = None  # where the audio was cut (truncate): the text keeps only that
    cut_by_client: bool = False  # the cut is the client's own conversation.item.truncate

    @property
    def audio_ms(self) -> float:
        """Milliseconds of assistant audio produced for this item."""
        return self.spoken[-1].end_ms if self.spoken else 0.0

    def to_wire(self) -> dict[str, Any]:
        """The item in OpenAI's GA shape (``openai.types.realtime.ConversationItem``)."""
        base: dict[str, Any] = {
            "id": self.id,
            "object": "realtime.item",
            "type": self.type,
            "status": self.status,
        }
        if self.type == "function_call":
            return {**base, "call_id": self.call_id, "name": self.name, "arguments": self.arguments}
        if self.type == "function_call_output":
            return {**base, "call_id": self.call_id, "output": self.output}
        key = "transcript" if self.content_type.endswith("audio") else "text"
        return {**base, "role": self.role, "content": [{"type": self.content_type, key: self.text}]}

    def speak(self, text: str) -> str:
        """A chunk of an assistant's reply whose audio follows: returns its transcript delta. Once
        the item is cut (``truncate``), what is spoken after stays out of its text."""
        delta = (" " if self.text else "") + text
        self.spoken.append(SpokenChunk(text, self.audio_ms, self.audio_ms))
        if self.heard_ms is None:
            self.text = (self.text or "") + delta
        return delta

    def truncate(self, audio_end_ms: float, by_client: bool = True) -> None:
        """Keep as text only what was spoken up to ``audio_end_ms``: the chunks before it and the
        words of the chunk it falls in that were heard whole. The chunks stay, so a later truncate by
        the client can move the point either way; voxrt's estimate (``by_client=False``) never
        replaces the client's own, which may come first: a client stops playback at
        speech_started, before the server has decided that the speech interrupts the reply."""
        if self.cut_by_client and not by_client:
            return
        self.heard_ms = audio_end_ms
        self.cut_by_client = self.cut_by_client or by_client
        words: list[str] = []
        for chunk in self.spoken:
            if chunk.start_ms >= audio_end_ms:
                break
            chunk_words = chunk.text.split()
            share = min(1.0, (audio_end_ms - chunk.start_ms) / max(chunk.end_ms - chunk.start_ms, 1e-6))
            words += chunk_words[: int(share * len(chunk_words))]
        self.text = " ".join(words)


class Items:
    """The items of one conversation, in order, at most ``max_items`` (the oldest go first)."""

    def __init__(self, max_items: int) -> None:
        self.max_items = max_items
        self._items: list[Item] = []

    def __iter__(self) -> Iterator[Item]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def get(self, item_id: str, param: str = "item_id") -> Item:
        """The item with ``item_id``.

        Raises:
            InvalidRequest: no such item.
        """
        for item in self._items:
            if item.id == item_id:
                return item
        raise InvalidRequest(f"Item {item_id[:64]!r} does not exist.", param=param, code="item_not_found")

    def add(self, item: Item, previous_item_id: str | None = None) -> str | None:
        """Insert ``item`` after ``previous_item_id`` ("root": first; None: last); returns the id of
        the item now before it.

        Raises:
            InvalidRequest: ``previous_item_id`` names no item, or the id is taken.
        """
        if any(existing.id == item.id for existing in self._items):
            raise InvalidRequest(
                f"Item {item.id[:64]!r} already exists.", param="item.id", code="duplicate_item_id"
            )
        if previous_item_id is None:
            index = len(self._items)
        elif previous_item_id == "root":
            index = 0
        else:
            index = self._items.index(self.get(previous_item_id, "previous_item_id")) + 1
        self._items.insert(index, item)
        if len(self._items) > self.max_items:
            self._items.pop(0)
        position = self._items.index(item)
        return self._items[position - 1].id if position else None

    def delete(self, item_id: str) -> None:
        """Remove an item.

        Raises:
            InvalidRequest: no such item.
        """
        self._items.remove(self.get(item_id))

    def previous(self, item_id: str) -> str | None:
        """The id of the item before ``item_id`` (None: it is first, or not in the conversation)."""
        ids = [item.id for item in self._items]
        if item_id not in ids:
            return None
        index = ids.index(item_id)
        return ids[index - 1] if index else None


def chat_messages(items: Iterable[Item]) -> list[ChatMessage]:
    """What the model reads: messages with text, and function calls (grouped into the assistant
    message before them) with their outputs. System items are left to the caller: they join the
    instructions."""
    messages: list[ChatMessage] = []
    for item in items:
        if item.type == "function_call":
            call = ToolCall(item.call_id or item.id, item.name or "", item.arguments or "{}")
            last = messages[-1] if messages else None
            if last is not None and last.role == "assistant" and last.tool_call_id is None:
                messages[-1] = ChatMessage("assistant", last.content, tool_calls=(*last.tool_calls, call))
            else:
                messages.append(ChatMessage("assistant", "", tool_calls=(call,)))
        elif item.type == "function_call_output":
            messages.append(ChatMessage("tool", item.output, tool_call_id=item.call_id))
        elif item.text and item.role in ("user", "assistant"):
            messages.append(ChatMessage(item.role, item.text))
    return messages
