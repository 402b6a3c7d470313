"""Server events are built through their typed models: a wrong field fails where the event is made,
and every type voxrt sends is one of OpenAI's GA types (or its documented extension)."""

from __future__ import annotations

from typing import Any, get_args

import pytest
from openai.types.realtime import RealtimeServerEvent
from pydantic import ValidationError

from voxrt.realtime.server_events import EVENT_TYPES, server_event


def _ga_types() -> set[str]:
    union = get_args(RealtimeServerEvent)[0]
    types: set[str] = set()
    for model in get_args(union):
        types |= set(get_args(model.model_fields["type"].annotation))
    return types


def test_every_event_type_is_a_ga_type_or_voxrts_extension() -> None:
    assert EVENT_TYPES - _ga_types() == {"voxrt.metrics", "transcription_session.updated"}


@pytest.mark.parametrize(
    ("kind", "fields"),
    [
        ("input_audio_buffer.speech_started", {"audio_start_ms": 10}),  # item_id missing
        ("input_audio_buffer.speech_started", {"audio_start_ms": 10, "item_id": "i", "extra": 1}),
        (
            "response.output_audio.delta",
            {"response_id": "r", "item_id": "i", "output_index": "first", "content_index": 0, "delta": ""},
        ),  # output_index is not an int
    ],
)
def test_a_wrong_field_fails_where_the_event_is_made(kind: str, fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        server_event(kind, **fields)


def test_an_event_keeps_its_fields_in_order_and_the_metrics_extension_only_what_was_given() -> None:
    event = server_event("input_audio_buffer.committed", item_id="item_1", previous_item_id=None)
    assert list(event) == ["type", "event_id", "item_id", "previous_item_id"]
    assert event["event_id"].startswith("event_")
    reply = server_event("voxrt.metrics", item_id=None, response_id="resp_1", voice_to_voice_ms=812.5)
    assert set(reply) == {"type", "event_id", "item_id", "response_id", "voice_to_voice_ms"}
    with pytest.raises(KeyError):
        server_event("response.audio.delta")  # a beta name voxrt does not send
