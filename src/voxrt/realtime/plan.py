"""What a conversation's reply generates from: the model's input (instructions, then the
conversation's items within the memory bounds) and options, and how it is said."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal

import numpy as np

from voxrt.audio.pcm import AudioFormat
from voxrt.config import Settings
from voxrt.llm import ChatMessage, Conversation, Responder, ResponseOptions
from voxrt.realtime.conversation_config import ConversationConfig, ResponseIn, chat_tool_choice
from voxrt.realtime.events import InvalidEvent
from voxrt.realtime.items import Item, chat_messages
from voxrt.runtime import Priority
from voxrt.tts import TTSEngine

__all__ = ["ResponsePlan", "plan_reply"]


@dataclass(frozen=True)
class ResponsePlan:
    """What to generate: the model's input and options, how to say it, and where it goes."""

    messages: list[ChatMessage]
    options: ResponseOptions
    modality: Literal["audio", "text"]
    voice: str
    speed: float
    output_format: AudioFormat
    in_conversation: bool  # False: an out-of-band response (``conversation: "none"``)
    max_output_tokens: int | Literal["inf"]
    max_audio_s: float
    audio_lead_s: float  # most audio sent ahead of the client's (real-time) playback
    first_chunk_words: int  # the first speakable chunk ends after this many words at most (0: at a clause)
    metadata: dict[str, str] | None = None

    def speak(self, tts: TTSEngine, text: str) -> AsyncIterator[np.ndarray]:
        """``text`` spoken as this reply speaks (its voice, speed and output rate), at the active
        reply's priority."""
        return tts.synthesize(
            text, self.voice, self.speed, sample_rate=self.output_format.rate, priority=Priority.TTS
        )


def plan_reply(
    settings: Settings,
    config: ConversationConfig,
    items: list[Item],
    request: ResponseIn,
    responder: Responder,
    tts: TTSEngine | None,
) -> ResponsePlan:
    """The plan of a reply to ``items`` as ``request`` asks, within the session's ``config``.

    Raises:
        InvalidRequest: audio asked of a server without speech synthesis, or an unknown voice.
    """
    llm = settings.llm
    modality = (request.output_modalities or config.output_modalities)[0]
    if modality == "audio" and tts is None:
        raise InvalidEvent(
            "This server has no speech synthesis: ask for output_modalities ['text'].",
            param="response.output_modalities",
        )
    voice, fmt, speed = config.voice, config.output_format, config.speed
    if request.audio is not None and request.audio.output is not None:
        voice = request.audio.output.voice or voice
        if tts is not None:
            tts.resolve_voice(voice)
    instructions = request.instructions if request.instructions is not None else config.instructions
    extra = [item.text for item in items if item.role == "system" and item.text]
    memory = Conversation(
        "\n\n".join(filter(None, [instructions, *extra])),
        max_turns=llm.memory_turns,
        max_tokens=llm.memory_tokens,
        count_tokens=responder.count_tokens,
    )
    for message in chat_messages(items):
        memory.add(message)
    limit = request.max_output_tokens or config.max_output_tokens
    tools = request.tools if request.tools is not None else config.tools
    choice = request.tool_choice or config.tool_choice
    options = ResponseOptions(
        temperature=llm.temperature,
        max_output_tokens=llm.max_output_tokens if limit == "inf" else limit,
        tools=tuple(tool.to_chat() for tool in tools),
        tool_choice=chat_tool_choice(choice) if tools else None,
    )
    return ResponsePlan(
        messages=memory.messages(),
        options=options,
        modality=modality,
        voice=voice,
        speed=speed,
        output_format=fmt,
        in_conversation=request.conversation != "none",
        max_output_tokens=limit,
        max_audio_s=settings.conversation.max_response_audio_s,
        audio_lead_s=settings.conversation.audio_lead_ms / 1000,
        first_chunk_words=settings.conversation.first_chunk_words,
        metadata=request.metadata,
    )
