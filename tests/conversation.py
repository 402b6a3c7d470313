"""A conversation session driven in-process, the test playing its client: the scripted recognizer,
the energy VAD (loud noise is speech) and the tone synthesizer, with any responder."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any

import numpy as np
from openai.types.realtime import RealtimeServerEvent
from pydantic import TypeAdapter

from tests.fakes import ScriptedASR, ToneTTS
from voxrt.audio.pcm import to_int16
from voxrt.config import load_settings
from voxrt.llm import Responder
from voxrt.realtime.conversation import ConversationSession
from voxrt.vad import create_vad

__all__ = ["AUDIO_END", "AUDIO_TURN", "REPLY", "USER_TURN", "Harness", "assert_ga", "collapse"]

RATE = 24000
# A scripted reply as a model streams it: four deltas, two sentences, clauses inside.
REPLY = ["Paris is the capital", " of France.", " It lies on the Seine,", " in the north."]
SERVER_EVENT: TypeAdapter[Any] = TypeAdapter(RealtimeServerEvent)


class Harness:
    """A session and a reader of its events that plays the client: takes each event as it comes,
    stamps it, and tells the session it was sent."""

    def __init__(
        self,
        responder: Responder,
        asr_text: str = "What is the capital of France?",
        tts: ToneTTS | None = None,
        llm: dict[str, Any] | None = None,
        partials: bool = False,
        **conversation: Any,
    ) -> None:
        settings = load_settings(
            overrides={
                "vad": {"engine": "energy", "silence_duration_ms": 300},
                "realtime": {"partials": partials},
                "conversation": conversation,
                "llm": llm or {},
            }
        )
        self.asr = ScriptedASR(asr_text, delay_s=0.05)
        self.asr.load(warmup=False)
        self.tts = tts or ToneTTS()
        self.tts.load(warmup=False)
        responder.load()
        self.session = ConversationSession(settings, self.asr, create_vad("energy"), responder, self.tts)
        self.events: list[tuple[float, dict[str, Any]]] = []
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        while True:
            event = await self.session.next_event()
            self.events.append((time.perf_counter(), event))
            self.session.sent(event)

    async def send(self, event: dict[str, Any]) -> None:
        await self.session.receive_text(json.dumps(event))

    async def speak(self, seconds: float, silence_s: float = 0.6, speed: float = 4.0) -> None:
        """Loud noise (speech to the energy VAD), then silence, at ``speed`` times real time."""
        rng = np.random.default_rng(0)
        audio = np.concatenate([rng.normal(0, 0.3, int(seconds * RATE)), np.zeros(int(silence_s * RATE))])
        pcm = to_int16(audio).tobytes()
        step = RATE // 10 * 2
        for start in range(0, len(pcm), step):
            chunk = base64.b64encode(pcm[start : start + step]).decode()
            await self.send({"type": "input_audio_buffer.append", "audio": chunk})
            await asyncio.sleep(0.1 / speed)

    async def wait_for(self, kind: str, count: int = 1, timeout: float = 10.0) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                found = [e for _, e in self.events if e["type"] == kind]
                if len(found) >= count:
                    return found[count - 1]
                await asyncio.sleep(0.01)

    def kinds(self, start: int = 0) -> list[str]:
        return [e["type"] for _, e in self.events[start:]]

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for _, e in self.events if e["type"] == kind]

    async def close(self) -> None:
        await self.session.close()
        self._reader.cancel()
        self.tts.close()


def assert_ga(events: list[tuple[float, dict[str, Any]]]) -> None:
    for _, event in events:
        if event["type"] != "voxrt.metrics":
            SERVER_EVENT.validate_python(event)


# A voice turn's events, in order: the user's, then those that open and close the spoken reply
# (its transcript and audio deltas between).
USER_TURN = [
    "input_audio_buffer.speech_started",
    "input_audio_buffer.speech_stopped",
    "input_audio_buffer.committed",
    "conversation.item.added",
    "conversation.item.done",
    "conversation.item.input_audio_transcription.completed",
]
AUDIO_TURN = [
    "response.created",
    "response.output_item.added",
    "conversation.item.added",
    "response.content_part.added",
]
AUDIO_END = [
    "response.output_audio.done",
    "response.output_audio_transcript.done",
    "response.content_part.done",
    "response.output_item.done",
    "conversation.item.done",
    "response.done",
    "voxrt.metrics",
]


def collapse(kinds: list[str]) -> list[str]:
    """Runs of transcript and audio deltas as one entry each (their count depends on timing)."""
    out: list[str] = []
    for kind in kinds:
        if kind.endswith(".delta") and out and out[-1] == kind:
            continue
        out.append(kind)
    return out
