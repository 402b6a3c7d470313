"""One reply of a conversation: the responder's tokens -> speakable chunks -> speech -> audio deltas,
with the ``response.*`` events around them.

A ``Response`` runs as one task. The responder streams into a queue of chunks (text, or a whole
tool call) while speech is synthesized from it, so the model goes on writing while the first
sentence is spoken. However it ends (completed, cancelled, failed) every part it opened is closed
and ``response.done`` is the last event; a cancelled response's queued output is dropped by the
session (``Outbox.discard``) before that.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from voxrt.errors import VoxrtError
from voxrt.llm import Responder, ToolCall
from voxrt.realtime.conversation_config import format_wire
from voxrt.realtime.draft import Draft
from voxrt.realtime.events import error_event, server_event
from voxrt.realtime.items import Item, Items
from voxrt.realtime.plan import ResponsePlan
from voxrt.realtime.protocol import Outbox, new_id
from voxrt.tts import TTSEngine
from voxrt.tts.chunker import SentenceChunker

__all__ = ["Response", "ResponseTimes"]

log = logging.getLogger(__name__)

Status = Literal["in_progress", "completed", "cancelled", "failed", "incomplete"]
_DELTA_S = 0.2  # audio per output_audio.delta: what a cancel can leave in flight
_PREFETCH_S = 10.0  # speech synthesized ahead of what has been sent


@dataclass
class ResponseTimes:
    """``perf_counter`` stamps of one response, for its latency figures."""

    created: float
    first_token: float | None = None
    first_chunk: float | None = None
    first_audio: float | None = None  # synthesized
    first_sent: float | None = None  # handed to the socket
    audio_sent_ms: float = 0.0


class Response:
    """One reply being generated; ``task`` runs it."""

    def __init__(
        self,
        plan: ResponsePlan,
        responder: Responder,
        tts: TTSEngine | None,
        items: Items,
        outbox: Outbox,
        on_done: Callable[[Response], None],
        draft: Draft | None = None,
    ) -> None:
        self.id = new_id("resp")
        self.plan = plan
        self.status: Status = "in_progress"
        self.reason: str | None = None
        self.error: VoxrtError | None = None
        self.output: list[Item] = []
        self.times = ResponseTimes(created=time.perf_counter())
        self.usage: dict[str, int] | None = None
        self._responder, self._tts, self._items, self._outbox = responder, tts, items, outbox
        self._on_done = on_done
        self._draft = draft  # a reply written ahead to this input (preemptive generation), to adopt
        self._message: Item | None = None  # the assistant message being spoken or written
        self._voiced_s = 0.0  # audio synthesized
        self._queued_s = 0.0  # audio queued for the client
        self._room = asyncio.Event()  # set when audio is queued: the synthesizer may go on
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._emit(server_event("response.created", response=self.to_wire()))
        self.task = asyncio.create_task(self._run())

    def cancel(self, reason: str) -> None:
        """Stop generating at once; ``response.done`` says ``cancelled`` for ``reason``."""
        if self.task is not None and not self.task.done() and self.status == "in_progress":
            self.status, self.reason = "cancelled", reason
            self.task.cancel()

    @property
    def message(self) -> Item | None:
        """The assistant message of this response, once it has one."""
        return self._message

    def played_ms(self, now: float) -> float:
        """How much of the reply's audio a client playing it in real time has heard by ``now``."""
        if self.times.first_sent is None:
            return 0.0
        return min(self.times.audio_sent_ms, 1000 * (now - self.times.first_sent))

    def audio_sent(self, audio_ms: float) -> None:
        """An audio delta of this response was handed to the socket."""
        if self.times.first_sent is None:
            self.times.first_sent = time.perf_counter()
        self.times.audio_sent_ms += audio_ms

    def metrics_event(self, item_id: str | None, speech_end: float | None) -> dict[str, Any]:
        """The reply's ``voxrt.metrics`` event: ``item_id`` is the user's turn it answers, and
        ``speech_end`` when that speech ended (``perf_counter``), for voice_to_voice_ms."""
        times = self.times

        def ms(start: float | None, end: float | None) -> float | None:
            return None if start is None or end is None else round(1000 * (end - start), 1)

        return server_event(
            "voxrt.metrics",
            response_id=self.id,
            item_id=item_id,
            status=self.status,
            llm_ttft_ms=ms(times.created, times.first_token),
            first_chunk_ms=ms(times.created, times.first_chunk),
            tts_ttfb_ms=ms(times.first_chunk, times.first_audio),
            voice_to_voice_ms=ms(speech_end, times.first_sent),
        )

    def to_wire(self) -> dict[str, Any]:
        plan = self.plan
        details: dict[str, Any] | None = None
        if self.status not in ("in_progress", "completed"):
            details = {"type": self.status, "reason": self.reason}
            if self.error is not None:
                body = self.error.body()["error"]
                details["error"] = {"type": body["type"], "code": body["code"], "message": body["message"]}
        return {
            "object": "realtime.response",
            "id": self.id,
            "status": self.status,
            "status_details": details,
            "output": [item.to_wire() for item in self.output],
            "conversation_id": "conv_default" if plan.in_conversation else None,
            "output_modalities": [plan.modality],
            "max_output_tokens": plan.max_output_tokens,
            "audio": {"output": {"format": format_wire(plan.output_format), "voice": plan.voice}},
            "usage": self.usage,
            "metadata": plan.metadata,
        }

    async def _run(self) -> None:
        try:
            await self._generate()
            if self.status == "in_progress":
                self.status = "completed"
        except asyncio.CancelledError:
            self.status = "cancelled" if self.status == "in_progress" else self.status
            self._finish()
            raise
        except VoxrtError as exc:
            self._fail(exc)
        except Exception as exc:
            log.exception("a response failed")
            self._fail(VoxrtError(f"The response failed ({type(exc).__name__})."))
        self._finish()

    def _fail(self, error: VoxrtError) -> None:
        self.status, self.error = "failed", error
        self._emit(error_event(error))

    async def _generate(self) -> None:
        """Three stages: the model writes text chunks, the synthesizer voices them (a few seconds
        ahead), and this task sends the audio at the client's playback pace."""
        chunks: asyncio.Queue[str | ToolCall | None] = asyncio.Queue()
        pieces: asyncio.Queue[str | np.ndarray | ToolCall | None] = asyncio.Queue()
        writer = asyncio.create_task(self._write(chunks))
        voice = asyncio.create_task(self._voice(chunks, pieces))
        try:
            while (piece := await pieces.get()) is not None:
                if isinstance(piece, ToolCall):
                    self._close_message()
                    self._call(piece)
                else:
                    await self._send(piece)
                if self.status != "in_progress":
                    return
            await voice  # their failures surface here
            await writer
        finally:
            writer.cancel()
            voice.cancel()
            if self._draft is not None:
                self._draft.drop()  # speech it voiced that this reply did not take

    async def _write(self, chunks: asyncio.Queue[str | ToolCall | None]) -> None:
        """The responder's reply into ``chunks``: speakable text (or, for text output, each delta as
        it comes, which goes out at once) and tool calls."""
        chunker = SentenceChunker(first_max_words=self.plan.first_chunk_words)
        try:
            reply = self._draft or self._responder.stream(self.plan.messages, self.plan.options)
            async with reply:
                async for delta in reply:
                    if self.times.first_token is None:
                        self.times.first_token = time.perf_counter()
                    if isinstance(delta, ToolCall):
                        for text in chunker.flush():
                            chunks.put_nowait(text)
                        chunks.put_nowait(delta)
                    elif self.plan.modality == "text":
                        self._write_text(delta)
                    else:
                        self._open_message()
                        for text in chunker.push(delta):
                            chunks.put_nowait(text)
                for text in chunker.flush():
                    chunks.put_nowait(text)
            if reply.metrics is not None:
                prompt, completion = reply.metrics.prompt_tokens or 0, reply.metrics.completion_tokens
                self.usage = {
                    "total_tokens": prompt + completion,
                    "input_tokens": prompt,
                    "output_tokens": completion,
                }
        finally:
            chunks.put_nowait(None)

    def _open_message(self) -> Item:
        if self._message is None:
            content = "output_audio" if self.plan.modality == "audio" else "output_text"
            self._message = Item(
                new_id("item"), role="assistant", content_type=content, text="", status="in_progress"
            )
            self._add_output(self._message)
            part = (
                {"type": "audio", "transcript": ""}
                if content == "output_audio"
                else {"type": "text", "text": ""}
            )
            self._emit(self._part_event("response.content_part.added", part=part))
        return self._message

    def _write_text(self, delta: str) -> None:
        if self.status != "in_progress":
            return  # cancelled: nothing more goes out
        message = self._open_message()
        message.text = (message.text or "") + delta
        self._emit(self._part_event("response.output_text.delta", delta=delta), tagged=True)

    async def _voice(
        self,
        chunks: asyncio.Queue[str | ToolCall | None],
        pieces: asyncio.Queue[str | np.ndarray | ToolCall | None],
    ) -> None:
        """Chunks of text into ``pieces``: each chunk's text, then its audio in delta-sized pieces,
        at most ``_PREFETCH_S`` ahead of what has been sent. Tool calls pass through."""
        plan = self.plan
        rate = plan.output_format.rate
        size = int(_DELTA_S * rate)
        try:
            while (chunk := await chunks.get()) is not None:
                pieces.put_nowait(chunk)
                if isinstance(chunk, ToolCall) or plan.modality == "text":
                    continue
                ahead = None
                if self.times.first_chunk is None:
                    self.times.first_chunk = time.perf_counter()
                    ahead = self._draft.speech(chunk, plan) if self._draft is not None else None
                async for audio in self._speak(chunk, ahead):
                    if self.times.first_audio is None:
                        self.times.first_audio = time.perf_counter()
                    for start in range(0, len(audio), size):
                        pieces.put_nowait(audio[start : start + size])
                    self._voiced_s += len(audio) / rate
                    while self._voiced_s - self._queued_s > _PREFETCH_S:
                        self._room.clear()
                        await self._room.wait()
        finally:
            pieces.put_nowait(None)

    async def _speak(
        self, text: str, ahead: asyncio.Task[list[np.ndarray]] | None
    ) -> AsyncIterator[np.ndarray]:
        """The audio of ``text``: voiced ahead by the draft (``ahead``), or now."""
        if ahead is not None:
            for audio in await ahead:
                yield audio
            return
        assert self._tts is not None
        async for audio in self.plan.speak(self._tts, text):
            yield audio

    async def _send(self, piece: str | np.ndarray) -> None:
        """A chunk's transcript delta, or a piece of its audio once the client's playback is less
        than ``audio_lead_s`` behind."""
        message = self._open_message()
        if isinstance(piece, str):
            delta = message.speak(piece)
            self._emit(self._part_event("response.output_audio_transcript.delta", delta=delta), tagged=True)
            return
        plan = self.plan
        while (ahead := self._queued_s - self.played_ms(time.perf_counter()) / 1000) > plan.audio_lead_s:
            await asyncio.sleep(min(ahead - plan.audio_lead_s, 0.1))
        seconds = len(piece) / plan.output_format.rate
        data = base64.b64encode(plan.output_format.encode(piece)).decode()
        await self._outbox.put_audio(
            self._part_event("response.output_audio.delta", delta=data), seconds, self.id
        )
        message.spoken[-1].end_ms += 1000 * seconds
        self._queued_s += seconds
        self._room.set()
        if self._queued_s > plan.max_audio_s:
            self.status, self.reason = "incomplete", "max_output_tokens"

    def _close_message(self) -> None:
        message, self._message = self._message, None
        if message is None:
            return
        if message.content_type == "output_audio":
            self._emit(
                self._part_event("response.output_audio.done", item=message),
                self._part_event(
                    "response.output_audio_transcript.done", item=message, transcript=message.text
                ),
                self._part_event(
                    "response.content_part.done",
                    item=message,
                    part={"type": "audio", "transcript": message.text},
                ),
            )
        else:
            self._emit(
                self._part_event("response.output_text.done", item=message, text=message.text),
                self._part_event(
                    "response.content_part.done", item=message, part={"type": "text", "text": message.text}
                ),
            )
        self._done_item(message, "completed" if self.status in ("in_progress", "completed") else "incomplete")

    def _call(self, call: ToolCall) -> None:
        item = Item(new_id("item"), "function_call", call_id=call.id, name=call.name, status="in_progress")
        self._add_output(item)
        fields = {
            "response_id": self.id,
            "item_id": item.id,
            "output_index": self.output.index(item),
            "call_id": call.id,
        }
        item.arguments = call.arguments
        self._emit(
            server_event("response.function_call_arguments.delta", **fields, delta=call.arguments),
            server_event(
                "response.function_call_arguments.done", **fields, name=call.name, arguments=call.arguments
            ),
        )
        self._done_item(item, "completed")

    def _add_output(self, item: Item) -> None:
        self.output.append(item)
        index = len(self.output) - 1
        self._emit(
            server_event(
                "response.output_item.added", response_id=self.id, output_index=index, item=item.to_wire()
            )
        )
        if self.plan.in_conversation:
            previous = self._items.add(item)
            self._emit(
                server_event("conversation.item.added", previous_item_id=previous, item=item.to_wire())
            )

    def _done_item(self, item: Item, status: Literal["completed", "incomplete"]) -> None:
        item.status = status
        index = self.output.index(item)
        self._emit(
            server_event(
                "response.output_item.done", response_id=self.id, output_index=index, item=item.to_wire()
            )
        )
        if self.plan.in_conversation:
            previous = self._items.previous(item.id)
            self._emit(server_event("conversation.item.done", previous_item_id=previous, item=item.to_wire()))

    def _finish(self) -> None:
        """Close what is open and send ``response.done`` (called once, however the response ended)."""
        self._close_message()
        self._emit(server_event("response.done", response=self.to_wire()))
        self._on_done(self)

    def _part_event(self, kind: str, item: Item | None = None, **fields: Any) -> dict[str, Any]:
        item = item or self._message
        assert item is not None
        return server_event(
            kind,
            response_id=self.id,
            item_id=item.id,
            output_index=self.output.index(item),
            content_index=0,
            **fields,
        )

    def _emit(self, *events: dict[str, Any], tagged: bool = False) -> None:
        for event in events:
            self._outbox.put(event, self.id if tagged else None)
