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
import time
from typing import Any, ClassVar

from voxrt.asr import ASREngine, TranscriptionOptions
from voxrt.asr.stream_events import (
    Committed,
    Completed,
    Partial,
    Resumed,
    Settled,
    SpeechStarted,
    StreamEvent,
)
from voxrt.config import Settings
from voxrt.errors import InvalidRequest
from voxrt.llm import Responder
from voxrt.realtime.barge_in import BargeIn
from voxrt.realtime.conversation_config import (
    ConversationConfig,
    ItemIn,
    RealtimeSessionIn,
    ResponseIn,
)
from voxrt.realtime.conversation_handlers import router
from voxrt.realtime.draft import Draft, Warmup
from voxrt.realtime.events import InvalidEvent, server_event
from voxrt.realtime.input import InputAudio, InputSession
from voxrt.realtime.items import Item, Items
from voxrt.realtime.plan import ResponsePlan, plan_reply
from voxrt.realtime.protocol import EventRouter, new_id
from voxrt.realtime.response import Response
from voxrt.tts import TTSEngine
from voxrt.vad import VADModel
from voxrt.vad.smart_turn import EndOfTurnModel

__all__ = ["ConversationSession"]

log = logging.getLogger(__name__)


class ConversationSession(InputSession):
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
        end_of_turn: EndOfTurnModel | None = None,
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
        self.barge_in = BargeIn(settings.conversation, self.outbox)
        self._draft: tuple[str, str, Draft] | None = None  # item, its speculative transcript, the reply
        self._heard_so_far = ("", "")  # the utterance being spoken: its item, the partials' words
        self._warmup = Warmup(responder)
        self._idle: asyncio.TimerHandle | None = None  # turn_detection.idle_timeout_ms
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
            end_of_turn=end_of_turn,
        )
        self.emit(server_event("session.created", session=self.config.to_wire()))

    # -- the session base's hooks --

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
                trigger = self._trigger.pop(response.id, None)
                speech_end = self._speech_end.pop(trigger, None) if trigger is not None else None
                self.emit(response.metrics_event(trigger, speech_end))

    async def settle(self) -> None:
        await super().settle()
        while self.active is not None and self.active.task is not None:
            await asyncio.wait([self.active.task])

    async def close(self) -> None:
        self._disarm_idle()
        self._warmup.stop()
        self._drop_draft()
        if self.active is not None:
            self.active.cancel("client_cancelled")
        await super().close()

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

    def create_response(
        self, request: ResponseIn | None = None, trigger: str | None = None, draft: Draft | None = None
    ) -> None:
        """Start a reply; it adopts ``draft`` when that was written to exactly its input.

        Raises:
            InvalidRequest: a reply is in progress, or the request asks for what this server lacks.
        """
        if self.active is not None:
            raise InvalidRequest(
                f"Conversation already has an active response in progress: {self.active.id}. Wait "
                "for it to finish (response.done) or cancel it (response.cancel).",
                code="conversation_already_has_active_response",
            )
        self._disarm_idle()
        plan = self._plan(request or ResponseIn())
        if draft is not None and not draft.matches(plan.messages, plan.options):
            draft.drop()
            draft = None
        response = Response(
            plan, self.responder, self.tts, self.items, self.outbox, self._response_done, draft=draft
        )
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
        self.barge_in.interrupt(active, reason)

    # -- what the input side heard --

    def _place_user_item(self, item_id: str) -> str | None:
        return self.items.add(Item(item_id, role="user", content_type="input_audio"))

    def _heard(self, event: StreamEvent) -> None:
        match event:
            case SpeechStarted(item_id, _):
                self._disarm_idle()
                self._drop_draft()
                turn = self.config.turn_detection
                if turn is not None and turn.interrupt_response:
                    self.barge_in.speech_started(item_id, self.active)
            case Partial(item_id, delta):
                self.barge_in.heard(item_id, delta, final=False)
                heard = self._heard_so_far[1] + delta if self._heard_so_far[0] == item_id else delta
                self._heard_so_far = (item_id, heard)
                if self._writes_ahead(heard):
                    self._warmup.update(self._plan(ResponseIn(), _spoken(item_id, heard)))
            case Settled(item_id, transcript):
                self._prepare(item_id, transcript)
            case Resumed():
                self._drop_draft()
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
        previous = self.items.previous(item_id)
        self.emit(
            server_event("conversation.item.added", previous_item_id=previous, item=item.to_wire()),
            server_event("conversation.item.done", previous_item_id=previous, item=item.to_wire()),
        )

    def _completed(self, item_id: str, transcript: str) -> None:
        try:
            item = self.items.get(item_id)
        except InvalidRequest:
            return
        item.text = transcript
        draft = self._take_draft(item_id, transcript)
        if self.barge_in.heard(item_id, transcript, final=True):
            self.items.delete(item_id)  # the reply's own echo: not something the user said
            self.emit(server_event("conversation.item.deleted", item_id=item_id))
            return
        turn = self.config.turn_detection
        if not transcript.strip() or turn is None or not turn.create_response:
            return
        if self.active is not None:
            self._pending_trigger = item_id  # answered when the reply in progress ends
            return
        self.create_response(trigger=item_id, draft=draft)

    def _prepare(self, item_id: str, transcript: str) -> None:
        """The turn will end with ``transcript`` if the silence goes on: start writing its reply
        (preemptive generation)."""
        self._warmup.stop()
        self._drop_draft()
        if self._writes_ahead(transcript):
            plan = self._plan(ResponseIn(), _spoken(item_id, transcript))
            self._draft = (item_id, transcript, Draft(self.responder, plan, self.tts))

    def _writes_ahead(self, transcript: str) -> bool:
        """Whether the reply to a turn heard so far as ``transcript`` is prepared before the turn
        ends (preemptive generation)."""
        turn = self.config.turn_detection
        return (
            self.settings.conversation.preemptive_generation
            and turn is not None
            and turn.create_response
            and self.active is None
            and bool(transcript.strip())
        )

    def _take_draft(self, item_id: str, transcript: str) -> Draft | None:
        """The draft written for this turn's transcript, if any (any other is dropped)."""
        held, self._draft = self._draft, None
        if held is None:
            return None
        if held[:2] == (item_id, transcript):
            return held[2]
        held[2].drop()
        return None

    def _drop_draft(self) -> None:
        if self._draft is not None:
            self._draft[2].drop()
            self._draft = None

    def _response_done(self, response: Response) -> None:
        if self.active is response:
            self.active = None
        if self._pending_trigger is not None and self.active is None:
            trigger, self._pending_trigger = self._pending_trigger, None
            self.create_response(trigger=trigger)
        elif self.active is None:
            self._arm_idle(response)

    def _arm_idle(self, response: Response) -> None:
        """With ``idle_timeout_ms``: if the user says nothing for that long after the reply has
        played, the server takes the turn (``input_audio_buffer.timeout_triggered``, then a reply)."""
        turn = self.config.turn_detection
        if turn is None or turn.idle_timeout_ms is None:
            return
        times = response.times
        playing_s = 0.0
        if times.first_sent is not None:
            playing_s = max(0.0, times.first_sent + times.audio_sent_ms / 1000 - time.perf_counter())
        self._disarm_idle()
        self._idle = asyncio.get_running_loop().call_later(
            playing_s + turn.idle_timeout_ms / 1000, self._idle_timeout
        )

    def _disarm_idle(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None

    def _idle_timeout(self) -> None:
        self._idle = None
        if self.active is not None:
            return
        item = Item(new_id("item"), role="user", content_type="input_audio", text="")
        at_ms = int(self.input.recognizer.audio_ms)
        previous = self.items.add(item)
        self.emit(
            server_event(
                "input_audio_buffer.timeout_triggered",
                audio_start_ms=at_ms,
                audio_end_ms=at_ms,
                item_id=item.id,
            ),
            server_event("input_audio_buffer.committed", item_id=item.id, previous_item_id=previous),
            server_event("conversation.item.added", previous_item_id=previous, item=item.to_wire()),
            server_event("conversation.item.done", previous_item_id=previous, item=item.to_wire()),
        )
        self.create_response(trigger=item.id)

    # -- helpers --

    def _options(self) -> TranscriptionOptions:
        return TranscriptionOptions(
            language=self.config.language, prompt=self.config.prompt, timestamps=False, realtime=True
        )

    def _plan(self, request: ResponseIn, provisional: Item | None = None) -> ResponsePlan:
        """What a reply to ``request`` would generate from, with ``provisional`` as the last user
        item (a turn not yet over)."""
        items = list(self.items) if request.input is None else [self._input_item(i) for i in request.input]
        if provisional is not None:
            items.append(provisional)
        return plan_reply(self.settings, self.config, items, request, self.responder, self.tts)

    def _input_item(self, given: ItemIn) -> Item:
        if given.type == "item_reference":
            return self.items.get(given.id or "", "response.input.id")
        return given.to_item()


def _spoken(item_id: str, transcript: str) -> Item:
    """The user item of a turn not over yet, as heard so far."""
    return Item(item_id, role="user", content_type="input_audio", text=transcript)
