"""Interrupting a conversation's reply, in-process with fakes (as in test_conversation.py):
response.cancel, speech during a reply (barge-in), the echo guard, and truncation of the assistant
item to what was heard, by the client or by voxrt's playback estimate."""

from __future__ import annotations

import asyncio

import pytest

from tests.conversation import REPLY, Harness, assert_ga
from tests.fakes import ScriptedResponder

pytestmark = pytest.mark.anyio


async def test_cancel_stops_the_reply_and_only_one_reply_runs_at_a_time() -> None:
    responder = ScriptedResponder([f"Sentence number {i} is here. " for i in range(40)], gap_s=0.02)
    h = Harness(responder)
    await h.send({"type": "response.create"})
    await h.send({"type": "response.create", "event_id": "evt_2"})
    error = await h.wait_for("error")
    assert error["error"]["code"] == "conversation_already_has_active_response"
    assert error["error"]["event_id"] == "evt_2"
    await h.wait_for("response.output_audio.delta")
    await h.send({"type": "response.cancel"})
    done = await h.wait_for("response.done")
    assert done["response"]["status"] == "cancelled"
    assert done["response"]["status_details"]["reason"] == "client_cancelled"
    kinds = h.kinds()
    assert "response.output_audio.delta" not in kinds[kinds.index("response.done") :]
    await asyncio.sleep(0.3)
    assert responder.closed  # generation stopped
    assert h.kinds().count("response.done") == 1
    await h.send({"type": "response.cancel", "event_id": "evt_3"})
    assert (await h.wait_for("error", 2))["error"]["code"] == "response_cancel_not_active"
    assert_ga(h.events)
    await h.close()


async def test_speech_during_a_reply_cuts_it_short_and_the_item_keeps_what_was_heard() -> None:
    responder = ScriptedResponder([f"Sentence number {i} is here. " for i in range(40)], gap_s=0.01)
    h = Harness(responder, echo_guard_ms=0)
    await h.send({"type": "response.create"})
    await h.wait_for("response.output_audio.delta")
    await asyncio.sleep(1.0)
    await h.speak(0.8)
    started = await h.wait_for("input_audio_buffer.speech_started")
    done = await h.wait_for("response.done")
    assert done["response"]["status_details"]["reason"] == "turn_detected"
    started_at = next(t for t, e in h.events if e is started)
    cut = done["response"]["id"]
    late = [
        t
        for t, e in h.events
        if e["type"] == "response.output_audio.delta" and e["response_id"] == cut and t > started_at + 0.15
    ]
    assert late == []
    # The assistant item holds about what a real-time listener heard: ~1 s of ~5 s of queued audio.
    heard = done["response"]["output"][0]["content"][0]["transcript"]
    assert 0 < len(heard) < len("Sentence number 0 is here. ") * 3
    # The interruption is answered.
    await h.wait_for("response.output_audio.delta", timeout=15)
    await h.wait_for("response.created", 2)
    await asyncio.sleep(0.1)
    assert responder.seen[1][-1].content == "What is the capital of France?"
    await h.close()


async def test_the_replys_own_echo_during_the_guard_does_not_interrupt_it() -> None:
    words = "Sentence number one is here. " * 30
    responder = ScriptedResponder([words], gap_s=0.0)
    h = Harness(responder, asr_text="sentence number one is here")
    await h.send({"type": "response.create"})
    await h.wait_for("response.output_audio.delta")
    await h.speak(0.8)  # heard back within the 3 s guard, recognised as the reply's own words
    deleted = await h.wait_for("conversation.item.deleted")
    assert h.of("response.done") == []
    assert all(item.id != deleted["item_id"] for item in h.session.items)
    await h.send({"type": "response.cancel"})
    await h.wait_for("response.done")
    await h.close()


async def test_the_clients_truncate_at_speech_started_outlives_the_servers_estimate() -> None:
    """A client stops playback at speech_started and truncates at once, as OpenAI's guide says;
    within the echo guard the server interrupts the reply only later, once it has heard words. The
    item keeps what the client played: the server's estimate (later, larger) does not replace it,
    and the reply's text sent after the truncate is not added to it."""
    responder = ScriptedResponder([f"Sentence number {i} is here. " for i in range(40)], gap_s=0.01)
    h = Harness(responder)  # the default 3 s echo guard
    await h.send({"type": "response.create"})
    first = await h.wait_for("response.output_audio.delta")
    await asyncio.sleep(1.8)  # then ~2.1 s played by the server's estimate, within the guard
    speaking = asyncio.create_task(h.speak(0.8))
    await h.wait_for("input_audio_buffer.speech_started")
    await h.send(
        {
            "type": "conversation.item.truncate",
            "item_id": first["item_id"],
            "content_index": 0,
            "audio_end_ms": 700,
        }
    )
    await h.wait_for("conversation.item.truncated")
    assert h.of("response.done") == []  # the words are not heard yet
    await speaking
    done = await h.wait_for("response.done")
    assert done["response"]["status_details"]["reason"] == "turn_detected"
    await h.send({"type": "conversation.item.retrieve", "item_id": first["item_id"]})
    retrieved = await h.wait_for("conversation.item.retrieved")
    # 0.06 s a character: 700 ms of the first sentence (1.62 s, five words) is its first two words.
    assert retrieved["item"]["content"][0]["transcript"] == "Sentence number"
    assert done["response"]["output"][0]["content"][0]["transcript"] == "Sentence number"
    await h.close()


async def test_truncate_cuts_the_transcript_and_refuses_a_point_past_the_audio() -> None:
    responder = ScriptedResponder(list(REPLY))
    h = Harness(responder)
    await h.send({"type": "response.create"})
    done = await h.wait_for("response.done")
    item = done["response"]["output"][0]
    await h.send(
        {
            "type": "conversation.item.truncate",
            "item_id": item["id"],
            "content_index": 0,
            "audio_end_ms": 10**6,
        }
    )
    assert (await h.wait_for("error"))["error"]["param"] == "audio_end_ms"
    await h.send(
        {
            "type": "conversation.item.truncate",
            "item_id": item["id"],
            "content_index": 0,
            "audio_end_ms": 1500,
        }
    )
    truncated = await h.wait_for("conversation.item.truncated")
    assert truncated["audio_end_ms"] == 1500
    await h.send({"type": "conversation.item.retrieve", "item_id": item["id"]})
    retrieved = await h.wait_for("conversation.item.retrieved")
    # 0.06 s a character: the first chunk ("Paris is the capital", cut after four words) is 1.2 s
    # long; 0.3 s into the next ("of France. It lies on the Seine, in the north.", 2.82 s) one of its
    # ten words has been heard whole.
    assert retrieved["item"]["content"][0]["transcript"] == "Paris is the capital of"
    await h.send({"type": "conversation.item.delete", "item_id": item["id"]})
    await h.wait_for("conversation.item.deleted")
    await h.send({"type": "conversation.item.retrieve", "item_id": item["id"]})
    assert (await h.wait_for("error", 2))["error"]["code"] == "item_not_found"
    assert_ga(h.events)
    await h.close()
