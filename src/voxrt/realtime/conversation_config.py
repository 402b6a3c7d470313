"""OpenAI Realtime shapes of conversation sessions: the ``session.update``, ``response.create`` and
``conversation.item.create`` payloads to validate, and the session's effective configuration."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from voxrt.audio.pcm import AudioFormat
from voxrt.realtime import events
from voxrt.realtime.events import FormatIn, InvalidEvent, TurnDetection, audio_format, input_changes
from voxrt.realtime.items import Item
from voxrt.realtime.protocol import new_id

__all__ = [
    "ConversationConfig",
    "ConversationTurnDetection",
    "ItemIn",
    "RealtimeSessionIn",
    "ResponseIn",
    "ToolIn",
    "chat_tool_choice",
    "format_wire",
]

Modality = Literal["text", "audio"]
MAX_INSTRUCTIONS = 32_000  # characters: the system prompt of a small model is far shorter
MAX_TOOLS = 64
MAX_TEXT = 32_000  # characters of one item's text


class _Lenient(BaseModel):
    # unknown keys are ignored, as OpenAI's server does, so newer clients keep working
    model_config = ConfigDict(extra="ignore")


class ConversationTurnDetection(TurnDetection):
    """``server_vad`` as conversation sessions take it: whether a finished turn gets a reply, and
    whether speech cuts a reply short."""

    create_response: bool = True
    interrupt_response: bool = True
    idle_timeout_ms: int | None = Field(None, ge=5000, le=30000)

    def to_wire(self) -> dict[str, Any]:
        wire = {**super().to_wire(), "create_response": self.create_response}
        wire["interrupt_response"] = self.interrupt_response
        if self.type == "server_vad":
            wire["idle_timeout_ms"] = self.idle_timeout_ms
        return wire


class ToolIn(_Lenient):
    type: Literal["function"] = "function"
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    description: str = Field("", max_length=4000)
    parameters: dict[str, Any] = Field(default_factory=dict)

    def to_chat(self) -> dict[str, Any]:
        """The tool in OpenAI's chat-completions shape."""
        function = {"name": self.name, "description": self.description, "parameters": self.parameters}
        return {"type": "function", "function": function}


class ToolChoiceFunction(_Lenient):
    type: Literal["function"]
    name: str = Field(max_length=64)


ToolChoice = Literal["auto", "none", "required"] | ToolChoiceFunction


def chat_tool_choice(choice: ToolChoice) -> str | dict[str, Any]:
    """``tool_choice`` in OpenAI's chat-completions shape."""
    if isinstance(choice, ToolChoiceFunction):
        return {"type": "function", "function": {"name": choice.name}}
    return choice


class AudioInputIn(events.AudioInputIn):
    turn_detection: ConversationTurnDetection | None = None


class AudioOutputIn(_Lenient):
    format: FormatIn | None = None
    voice: str | None = Field(None, max_length=64)
    speed: float | None = Field(None, ge=0.25, le=1.5)


class AudioIn(_Lenient):
    input: AudioInputIn | None = None
    output: AudioOutputIn | None = None


class RealtimeSessionIn(_Lenient):
    """GA ``session.update`` payload of a conversation session."""

    type: Literal["realtime"] | None = None
    model: str | None = Field(None, max_length=200)  # the realtime model named: echoed, as OpenAI does
    instructions: str | None = Field(None, max_length=MAX_INSTRUCTIONS)
    output_modalities: list[Modality] | None = Field(None, min_length=1, max_length=1)
    max_output_tokens: int | Literal["inf"] | None = None
    tools: list[ToolIn] | None = Field(None, max_length=MAX_TOOLS)
    tool_choice: ToolChoice | None = None
    audio: AudioIn | None = None


class ContentIn(_Lenient):
    type: Literal["input_text", "input_audio", "text", "output_text", "output_audio"]
    text: str | None = Field(None, max_length=MAX_TEXT)
    transcript: str | None = Field(None, max_length=MAX_TEXT)
    audio: str | None = None


class ItemIn(_Lenient):
    """A ``conversation.item.create`` item (or an item of ``response.create``'s ``input``)."""

    id: str | None = Field(None, max_length=64)
    type: Literal["message", "function_call", "function_call_output", "item_reference"]
    role: Literal["user", "assistant", "system"] | None = None
    content: list[ContentIn] = Field(default_factory=list, max_length=16)
    call_id: str | None = Field(None, max_length=64)
    name: str | None = Field(None, max_length=64)
    arguments: str = Field("", max_length=MAX_TEXT)
    output: str = Field("", max_length=MAX_TEXT)

    def to_item(self) -> Item:
        """The conversation item.

        Raises:
            InvalidEvent: a message without a role or text, audio content, or a call without a
                ``call_id``.
        """
        item_id = self.id or new_id("item")
        if self.type in ("function_call", "function_call_output"):
            if not self.call_id:
                raise InvalidEvent(f"A {self.type} item needs 'call_id'.", param="item.call_id")
            if self.type == "function_call":
                return Item(
                    item_id, "function_call", call_id=self.call_id, name=self.name, arguments=self.arguments
                )
            return Item(item_id, "function_call_output", call_id=self.call_id, output=self.output)
        if self.type != "message" or self.role is None:
            raise InvalidEvent("A message item needs 'role' (user, assistant or system).", param="item.role")
        if any(part.type == "input_audio" and part.audio for part in self.content):
            raise InvalidEvent(
                "Audio content in an item is not supported: send audio with input_audio_buffer.append.",
                param="item.content",
            )
        text = " ".join(part.text or part.transcript or "" for part in self.content).strip()
        content_type = "output_text" if self.role == "assistant" else "input_text"
        return Item(item_id, "message", role=self.role, content_type=content_type, text=text)


class ResponseAudioIn(_Lenient):
    output: AudioOutputIn | None = None


class ResponseIn(_Lenient):
    """A ``response.create`` ``response`` payload: this reply's settings."""

    instructions: str | None = Field(None, max_length=MAX_INSTRUCTIONS)
    output_modalities: list[Modality] | None = Field(None, min_length=1, max_length=1)
    max_output_tokens: int | Literal["inf"] | None = None
    tools: list[ToolIn] | None = Field(None, max_length=MAX_TOOLS)
    tool_choice: ToolChoice | None = None
    conversation: Literal["auto", "none"] | None = None
    input: list[ItemIn] | None = Field(None, max_length=256)
    metadata: dict[str, str] | None = Field(None, max_length=16)
    audio: ResponseAudioIn | None = None


class ConversationConfig(BaseModel):
    """The effective settings of one conversation session."""

    id: str = Field(default_factory=lambda: new_id("sess"))
    model: str = "voxrt"
    transcription_model: str = ""
    instructions: str = ""
    output_modalities: list[Modality] = ["audio"]
    max_output_tokens: int | Literal["inf"] = "inf"
    tools: list[ToolIn] = []
    tool_choice: ToolChoice = "auto"
    input_format: AudioFormat = AudioFormat()
    language: str | None = None
    prompt: str | None = None
    turn_detection: ConversationTurnDetection | None = ConversationTurnDetection()
    noise_reduction: str | None = None
    output_format: AudioFormat = AudioFormat()
    voice: str = "alloy"
    speed: float = 1.0

    def apply(self, update: RealtimeSessionIn) -> ConversationConfig:
        """A copy with the keys the update sets.

        Raises:
            InvalidEvent: an unsupported audio format.
        """
        new = self.model_copy()
        for key in (
            "model",
            "instructions",
            "output_modalities",
            "max_output_tokens",
            "tools",
            "tool_choice",
        ):
            value = getattr(update, key)
            if value is not None:
                setattr(new, key, value)
        audio = update.audio
        if audio is not None and audio.input is not None:
            renamed = {"format": "input_format", "model": "transcription_model"}
            for key, value in input_changes(audio.input).items():
                setattr(new, renamed.get(key, key), value)
        out = audio.output if audio else None
        if out is not None:
            if out.format is not None:
                new.output_format = audio_format(out.format, "session.audio.output.format")
            new.voice = out.voice if out.voice is not None else new.voice
            new.speed = out.speed if out.speed is not None else new.speed
        return new

    def to_wire(self) -> dict[str, Any]:
        """The session as ``session.created`` / ``session.updated`` carry it (GA ``realtime``)."""
        turn = self.turn_detection.to_wire() if self.turn_detection is not None else None
        return {
            "type": "realtime",
            "object": "realtime.session",
            "id": self.id,
            "model": self.model,
            "output_modalities": self.output_modalities,
            "instructions": self.instructions,
            "tools": [tool.model_dump() for tool in self.tools],
            "tool_choice": self.tool_choice
            if isinstance(self.tool_choice, str)
            else self.tool_choice.model_dump(),
            "max_output_tokens": self.max_output_tokens,
            "audio": {
                "input": {
                    "format": format_wire(self.input_format),
                    "transcription": {
                        "model": self.transcription_model,
                        "language": self.language,
                        "prompt": self.prompt,
                    },
                    "turn_detection": turn,
                    "noise_reduction": {"type": self.noise_reduction} if self.noise_reduction else None,
                },
                "output": {
                    "format": format_wire(self.output_format),
                    "voice": self.voice,
                    "speed": self.speed,
                },
            },
            "include": [],
        }


def format_wire(fmt: AudioFormat) -> dict[str, Any]:
    """A format as session and response objects show it."""
    return {"type": fmt.type, "rate": fmt.rate} if fmt.type == "audio/pcm" else {"type": fmt.type}
