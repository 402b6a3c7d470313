"""Conversation sessions (``/v1/realtime`` without ``intent=transcription``): speech in, spoken
(or written) replies out, interruptible.

The input side is the one transcription sessions use (``InputAudio``); each finished turn becomes
a user item and, with ``create_response``, a ``Response``. Speech that starts during a reply cuts
it short (barge-in): its queued audio is dropped at once, generation stops, and the assistant item
keeps what the user heard. Models are shared and passed in.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from typing import Any, ClassVar

from pydantic import BaseModel, ValidationError

from voxrt.asr import ASREngine, TranscriptionOptions
from voxrt.asr.streaming import Committed, Completed, Partial, SpeechStarted, StreamEvent
from voxrt.config import Settings
from voxrt.errors import InvalidRequest
from voxrt.llm import Conversation, Responder, ResponseOptions
from voxrt.realtime.conversation_config import (
    ConversationConfig,
    ItemIn,
    RealtimeSessionIn,
    ResponseIn,
    chat_tool_choice,
)
from voxrt.realtime.events import InvalidEvent, server_event, validation_error
from voxrt.realtime.input import InputAudio, input_router
from voxrt.realtime.items import Item, Items, chat_messages
from voxrt.realtime.protocol import EventRouter, RealtimeSession
from voxrt.realtime.response import Response, ResponsePlan
from voxrt.tts import TTSEngine
from voxrt.vad import VADModel

__all__ = ["ConversationSession"]

log = logging.getLogger(__name__)

router: EventRouter[ConversationSession] = EventRouter()
router.include(input_router)

_ECHO_SHARE = 0.6  # an interruption whose words are mostly the reply's own is its echo
_WORD = re.compile(r"[a-z0-9']+")


class ConversationSession(RealtimeSession):
    """State and protocol of one conversation connection."""

    router: ClassVar[EventRouter[Any]] = router
    # Off unless asked for (?metrics=true): speech-to-speech clients such as the OpenAI Agents SDK
    # report every server event type they do not know as an error.
    metrics_events = False

    def __init__(
        self,
        settings: Settings,
        engine: ASREngine,
        vad: VADModel,
        responder: Responder,
        tts: TTSEngine | None,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.responder, self.tts = responder, tts
        vad_settings = settings.vad
        self.config = ConversationConfig(instructions=settings.llm.instructions)
        self.config.output_modalities = ["audio"] if tts is not None else ["text"]
        turn = self.config.turn_detection
        assert turn is not None
        turn.threshold = vad_settings.threshold
        turn.prefix_padding_ms = vad_settings.prefix_padding_ms
        turn.silence_duration_ms = vad_settings.silence_duration_ms
        self.config.language = settings.asr.language
        self.id = self.config.id
        self.items = Items(settings.conversation.max_items)
        self.active: Response | None = None
        self._responses: dict[str, Response] = {}  # by id, until their response.done is sent
        self._pending_trigger: str | None = None  # a turn that ended during a reply, to answer next
        self._spoken = False  # a reply has had audio: the voice is fixed
        self._speech_end: dict[str, float] = {}  # user item -> when its speech ended (perf_counter)
        self._trigger: dict[str, str] = {}  # response -> the user item it answers
        self._suspects: dict[str, Response] = {}  # item spoken during the echo guard -> that reply
        self.input = InputAudio(
            settings,
            engine,
            vad,
            self.config.input_format,
            self.config.turn_detection,
            self._options(),
            self.emit,
            on_event=self._heard,
            place_item=self._place_user_item,
        )
        self.emit(server_event("session.created", session=self.config.to_wire()))

    # -- the session base's hooks --

    def receive_audio(self, data: bytes) -> None:
        self.input.append_bytes(data)

    async def after_event(self) -> None:
        await self.input.feed()

    def event_failed(self) -> None:
        self.input.drop_incoming()

    def sent(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        if kind == "response.output_audio.delta":
            response = self._responses.get(event["response_id"])
            if response is not None:
                fmt = response.plan.output_format
                samples = len(event["delta"]) * 3 // 4 // fmt.bytes_per_sample
                response.audio_sent(1000 * samples / fmt.rate)
        elif kind == "response.done":
            response = self._responses.pop(event["response"]["id"], None)
            if response is not None:
                self.emit(self._response_metrics(response))

    async def settle(self) -> None:
        await self.input.recognizer.settle()
        while self.active is not None and self.active.task is not None:
            await asyncio.wait([self.active.task])

    async def close(self) -> None:
        if self.active is not None:
            self.active.cancel("client_cancelled")
        await self.input.recognizer.aclose()

    # -- client events --

    def update(self, update: RealtimeSessionIn) -> None:
        """A ``session.update``: the new configuration takes effect and is echoed."""
        new = self.config.apply(update)
        if "audio" in new.output_modalities and self.tts is None:
            raise InvalidEvent(
                "This server has no speech synthesis: use output_modalities ['text'].",
                param="session.output_modalities",
            )
        if new.voice != self.config.voice:
            if self._spoken:
                raise InvalidEvent(
                    "The voice cannot change once the assistant has spoken.",
                    param="session.audio.output.voice",
                    code="cannot_update_voice",
                )
            if self.tts is not None:
                self.tts.resolve_voice(new.voice)
        self.input.recognizer.engine.check_options(TranscriptionOptions(language=new.language))
        self.config = new
        self.input.configure(new.input_format, new.turn_detection, self._options())
        self.emit(server_event("session.updated", session=new.to_wire()))

    def create_item(self, item: Item, previous_item_id: str | None) -> None:
        previous = self.items.add(item, previous_item_id)
        self.emit(
            server_event("conversation.item.added", previous_item_id=previous, item=item.to_wire()),
            server_event("conversation.item.done", previous_item_id=previous, item=item.to_wire()),
        )

    def truncate(self, item_id: str, content_index: int, audio_end_ms: int) -> None:
        """Cut an assistant audio item to what the user heard.

        Raises:
            InvalidRequest: no such item, not assistant audio, or ``audio_end_ms`` past its audio.
        """
        item = self.items.get(item_id)
        if item.role != "assistant" or item.content_type != "output_audio" or content_index != 0:
            raise InvalidEvent("Only the audio of an assistant message can be truncated.", param="item_id")
        if audio_end_ms < 0 or audio_end_ms > item.audio_ms + 1:
            raise InvalidEvent(
                f"audio_end_ms {audio_end_ms} is past the item's {item.audio_ms:.0f} ms of audio.",
                param="audio_end_ms",
            )
        item.truncate(audio_end_ms)
        self.emit(
            server_event(
                "conversation.item.truncated", item_id=item_id, content_index=0, audio_end_ms=audio_end_ms
            )
        )

    def create_response(self, request: ResponseIn | None = None, trigger: str | None = None) -> None:
        """Start a reply.

        Raises:
            InvalidRequest: a reply is in progress, or the request asks for what this server lacks.
        """
        if self.active is not None:
            raise InvalidRequest(
                f"Conversation already has an active response in progress: {self.active.id}. Wait "
                "for it to finish (response.done) or cancel it (response.cancel).",
                code="conversation_already_has_active_response",
            )
        plan = self._plan(request or ResponseIn())
        response = Response(plan, self.responder, self.tts, self.items, self.outbox, self._response_done)
        self.active = response
        self._responses[response.id] = response
        if trigger is not None:
            self._trigger[response.id] = trigger
        if plan.modality == "audio":
            self._spoken = True
        response.start()

    def cancel_response(self, response_id: str | None, reason: str) -> None:
        """Stop the active reply (``response_id``, when given, must name it).

        Raises:
            InvalidRequest: no reply in progress.
        """
        active = self.active
        if active is None or (response_id is not None and response_id != active.id):
            raise InvalidRequest("There is no active response to cancel.", code="response_cancel_not_active")
        self._interrupt(active, reason)

    # -- what the input side heard --

    def _place_user_item(self, item_id: str) -> str | None:
        return self.items.add(Item(item_id, role="user", content_type="input_audio"))

    def _heard(self, event: StreamEvent) -> None:
        match event:
            case SpeechStarted(item_id, _):
                self._speech_started(item_id)
            case Partial(item_id, _):
                self._check_suspect(item_id, final=False)
            case Completed(item_id, transcript, _, metrics):
                if metrics.asr_final_ms is not None:
                    self._speech_end[item_id] = time.perf_counter() - metrics.asr_final_ms / 1000
                self._completed(item_id, transcript)
            case Committed(item_id):
                self._committed(item_id)

    def _committed(self, item_id: str) -> None:
        try:
            item = self.items.get(item_id)
        except InvalidRequest:
            return  # already dropped from a full conversation
        previous = self._previous(item_id)
        self.emit(
            server_event("conversation.item.added", previous_item_id=previous, item=item.to_wire()),
            server_event("conversation.item.done", previous_item_id=previous, item=item.to_wire()),
        )

    def _speech_started(self, item_id: str) -> None:
        active = self.active
        turn = self.config.turn_detection
        if active is None or turn is None or not turn.interrupt_response:
            return
        guard_s = self.settings.conversation.echo_guard_ms / 1000
        first = active.times.first_sent
        if first is not None and time.perf_counter() - first < guard_s:
            self._suspects[item_id] = active
            return
        self._interrupt(active, "turn_detected")

    def _check_suspect(self, item_id: str, final: bool) -> bool:
        """Whether speech heard during the echo guard is the reply's own echo; speech that is not
        interrupts the reply now."""
        if item_id not in self._suspects:
            return False
        item_text = self._transcript(item_id)
        words = _WORD.findall(item_text.lower())
        if not words:
            return final
        response = self._suspects[item_id]
        reply = set(_WORD.findall((response.message.text or "").lower())) if response.message else set()
        echo = sum(word in reply for word in words) >= _ECHO_SHARE * len(words)
        if not echo and self.active is response:
            self._interrupt(response, "turn_detected")
        if final or not echo:
            del self._suspects[item_id]
        return echo

    def _completed(self, item_id: str, transcript: str) -> None:
        try:
            item = self.items.get(item_id)
        except InvalidRequest:
            return
        item.text = transcript
        if self._check_suspect(item_id, final=True):
            self.items.delete(item_id)  # the reply's own echo: not something the user said
            self.emit(server_event("conversation.item.deleted", item_id=item_id))
            return
        turn = self.config.turn_detection
        if not transcript.strip() or turn is None or not turn.create_response:
            return
        if self.active is not None:
            self._pending_trigger = item_id  # answered when the reply in progress ends
            return
        self.create_response(trigger=item_id)

    def _interrupt(self, response: Response, reason: str) -> None:
        self.outbox.discard(response.id)
        message = response.message
        if (
            reason == "turn_detected"
            and message is not None
            and message.content_type == "output_audio"
            and self.settings.conversation.estimate_playback
        ):
            message.truncate(response.played_ms(time.perf_counter()))
        response.cancel(reason)

    def _response_done(self, response: Response) -> None:
        if self.active is response:
            self.active = None
        if self._pending_trigger is not None and self.active is None:
            trigger, self._pending_trigger = self._pending_trigger, None
            self.create_response(trigger=trigger)

    # -- helpers --

    def _transcript(self, item_id: str) -> str:
        try:
            return self.items.get(item_id).text or ""
        except InvalidRequest:
            return ""

    def _previous(self, item_id: str) -> str | None:
        ids = [item.id for item in self.items]
        index = ids.index(item_id)
        return ids[index - 1] if index else None

    def _options(self) -> TranscriptionOptions:
        return TranscriptionOptions(
            language=self.config.language, prompt=self.config.prompt, timestamps=False, realtime=True
        )

    def _plan(self, request: ResponseIn) -> ResponsePlan:
        config, llm = self.config, self.settings.llm
        modality = (request.output_modalities or config.output_modalities)[0]
        if modality == "audio" and self.tts is None:
            raise InvalidEvent(
                "This server has no speech synthesis: ask for output_modalities ['text'].",
                param="response.output_modalities",
            )
        voice, fmt, speed = config.voice, config.output_format, config.speed
        if request.audio is not None and request.audio.output is not None:
            out = request.audio.output
            voice = out.voice or voice
            if self.tts is not None:
                self.tts.resolve_voice(voice)
        items = list(self.items) if request.input is None else [self._input_item(i) for i in request.input]
        instructions = request.instructions if request.instructions is not None else config.instructions
        extra = [item.text for item in items if item.role == "system" and item.text]
        memory = Conversation(
            "\n\n".join(filter(None, [instructions, *extra])),
            max_turns=llm.memory_turns,
            max_tokens=llm.memory_tokens,
            count_tokens=self.responder.count_tokens,
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
            max_audio_s=self.settings.conversation.max_response_audio_s,
            audio_lead_s=self.settings.conversation.audio_lead_ms / 1000,
            metadata=request.metadata,
        )

    def _input_item(self, given: ItemIn) -> Item:
        if given.type == "item_reference":
            return self.items.get(given.id or "", "response.input.id")
        return given.to_item()

    def _response_metrics(self, response: Response) -> dict[str, Any]:
        times = response.times

        def ms(start: float | None, end: float | None) -> float | None:
            return None if start is None or end is None else round(1000 * (end - start), 1)

        trigger = self._trigger.pop(response.id, None)
        speech_end = self._speech_end.pop(trigger, None) if trigger is not None else None
        return server_event(
            "voxrt.metrics",
            response_id=response.id,
            item_id=trigger,
            status=response.status,
            llm_ttft_ms=ms(times.created, times.first_token),
            tts_ttfb_ms=ms(times.first_chunk, times.first_audio),
            voice_to_voice_ms=ms(speech_end, times.first_sent),
        )


def _parse(model: type[BaseModel], value: Any, param: str) -> Any:
    try:
        return model.model_validate(value if value is not None else {})
    except ValidationError as exc:
        raise validation_error(exc, param) from None


@router.on("session.update")
def _session_update(session: ConversationSession, event: dict[str, Any]) -> None:
    session.update(_parse(RealtimeSessionIn, event.get("session"), "session"))


@router.on("conversation.item.create")
def _item_create(session: ConversationSession, event: dict[str, Any]) -> None:
    given: ItemIn = _parse(ItemIn, event.get("item"), "item")
    if given.type == "item_reference":
        raise InvalidEvent(
            "conversation.item.create takes a message or function call item.", param="item.type"
        )
    previous = event.get("previous_item_id")
    if previous is not None and not isinstance(previous, str):
        raise InvalidEvent("previous_item_id must be a string.", param="previous_item_id")
    session.create_item(given.to_item(), previous)


@router.on("conversation.item.retrieve")
def _item_retrieve(session: ConversationSession, event: dict[str, Any]) -> None:
    item = session.items.get(_string(event, "item_id"))
    session.emit(server_event("conversation.item.retrieved", item=item.to_wire()))


@router.on("conversation.item.delete")
def _item_delete(session: ConversationSession, event: dict[str, Any]) -> None:
    item_id = _string(event, "item_id")
    session.items.delete(item_id)
    session.emit(server_event("conversation.item.deleted", item_id=item_id))


@router.on("conversation.item.truncate")
def _item_truncate(session: ConversationSession, event: dict[str, Any]) -> None:
    end, index = event.get("audio_end_ms"), event.get("content_index", 0)
    if not isinstance(end, int) or not isinstance(index, int):
        raise InvalidEvent(
            "conversation.item.truncate needs integer audio_end_ms and content_index.", param="audio_end_ms"
        )
    session.truncate(_string(event, "item_id"), index, end)


@router.on("response.create")
def _response_create(session: ConversationSession, event: dict[str, Any]) -> None:
    session.create_response(_parse(ResponseIn, event.get("response"), "response"))


@router.on("response.cancel")
def _response_cancel(session: ConversationSession, event: dict[str, Any]) -> None:
    response_id = event.get("response_id")
    session.cancel_response(response_id if isinstance(response_id, str) else None, "client_cancelled")


def _string(event: dict[str, Any], key: str) -> str:
    value = event.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidEvent(f"{event.get('type')} needs '{key}', a string.", param=key)
    return value
