"""Every event voxrt sends, typed: one pydantic model per event type, from one table of fields.

``server_event`` builds each event through its model, so a field missing, unknown or of the wrong
type fails where the event is made (and in the tests), not in a client. The shapes are OpenAI's GA
Realtime events as the ``openai`` SDK's ``openai.types.realtime`` define them (a test validates
recorded sessions against those), plus voxrt's ``voxrt.metrics`` extension. Nested objects
(sessions, items, responses, errors) are built by their owners and typed here as objects.
"""

from __future__ import annotations

import secrets
from typing import Any

from pydantic import BaseModel, ConfigDict, create_model

__all__ = ["EVENT_TYPES", "server_event"]

Object = dict[str, Any]
_Optional = object()  # marks a field that may be left out (voxrt.metrics has two shapes)
_PART = {"response_id": str, "item_id": str, "output_index": int, "content_index": int}
_ITEM_IN_CONVERSATION = {"previous_item_id": str | None, "item": Object}
_OUTPUT_ITEM = {"response_id": str, "output_index": int, "item": Object}
_TRANSCRIPTION = {"item_id": str, "content_index": int}
_CALL = {"response_id": str, "item_id": str, "output_index": int, "call_id": str}
_MS = float | None

_FIELDS: dict[str, dict[str, Any]] = {
    "error": {"error": Object},
    "session.created": {"session": Object},
    "session.updated": {"session": Object},
    "transcription_session.updated": {"session": Object},
    "input_audio_buffer.speech_started": {"audio_start_ms": int, "item_id": str},
    "input_audio_buffer.speech_stopped": {"audio_end_ms": int, "item_id": str},
    "input_audio_buffer.committed": {"item_id": str, "previous_item_id": str | None},
    "input_audio_buffer.cleared": {},
    "input_audio_buffer.timeout_triggered": {"audio_start_ms": int, "audio_end_ms": int, "item_id": str},
    "conversation.item.input_audio_transcription.delta": {**_TRANSCRIPTION, "delta": str},
    "conversation.item.input_audio_transcription.completed": {
        **_TRANSCRIPTION,
        "transcript": str,
        "usage": Object,
    },
    "conversation.item.input_audio_transcription.failed": {**_TRANSCRIPTION, "error": Object},
    "conversation.item.added": _ITEM_IN_CONVERSATION,
    "conversation.item.done": _ITEM_IN_CONVERSATION,
    "conversation.item.retrieved": {"item": Object},
    "conversation.item.deleted": {"item_id": str},
    "conversation.item.truncated": {"item_id": str, "content_index": int, "audio_end_ms": int},
    "response.created": {"response": Object},
    "response.done": {"response": Object},
    "response.output_item.added": _OUTPUT_ITEM,
    "response.output_item.done": _OUTPUT_ITEM,
    "response.content_part.added": {**_PART, "part": Object},
    "response.content_part.done": {**_PART, "part": Object},
    "response.output_audio.delta": {**_PART, "delta": str},
    "response.output_audio.done": _PART,
    "response.output_audio_transcript.delta": {**_PART, "delta": str},
    "response.output_audio_transcript.done": {**_PART, "transcript": str},
    "response.output_text.delta": {**_PART, "delta": str},
    "response.output_text.done": {**_PART, "text": str},
    "response.function_call_arguments.delta": {**_CALL, "delta": str},
    "response.function_call_arguments.done": {**_CALL, "name": str, "arguments": str},
    # voxrt's extension: an utterance's latencies, or a reply's (with its response_id and status)
    "voxrt.metrics": {
        "item_id": str | None,
        "endpoint_ms": (_MS, _Optional),
        "asr_final_ms": (_MS, _Optional),
        "asr_partial_ms": (list[float], _Optional),
        "decode_ms": (_MS, _Optional),
        "audio_ms": (_MS, _Optional),
        "response_id": (str, _Optional),
        "status": (str, _Optional),
        "llm_ttft_ms": (_MS, _Optional),
        "first_chunk_ms": (_MS, _Optional),
        "tts_ttfb_ms": (_MS, _Optional),
        "voice_to_voice_ms": (_MS, _Optional),
    },
}


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str
    event_id: str


def _model(kind: str, fields: dict[str, Any]) -> type[_Event]:
    spec: dict[str, Any] = {
        name: (kind_[0], None) if isinstance(kind_, tuple) else (kind_, ...) for name, kind_ in fields.items()
    }
    name = "".join(part.title() for part in kind.replace("_", ".").split(".")) + "Event"
    return create_model(name, __base__=_Event, **spec)


_MODELS = {kind: _model(kind, fields) for kind, fields in _FIELDS.items()}
EVENT_TYPES = frozenset(_MODELS)


def server_event(type_: str, **fields: Any) -> dict[str, Any]:
    """The server event ``type_`` with ``fields`` and a fresh ``event_id``, built through its model.

    Raises:
        KeyError: a type voxrt does not send.
        pydantic.ValidationError: a field missing, unknown, or of the wrong type.
    """
    event = _MODELS[type_](type=type_, event_id="event_" + secrets.token_hex(10), **fields)
    return event.model_dump(exclude_unset=True)
