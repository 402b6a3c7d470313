"""Conversation sessions in-process with fakes (scripted recognizer, responder and tone
synthesizer; the energy VAD hears loud noise as speech): event order, tools, failures, out-of-band
replies, bad client events and preemptive generation, deterministic and fast (cancellation and
barge-in are in test_barge_in.py). The real models and the official SDK drive the same session in
tests/e2e/test_conversation.py."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.conversation import AUDIO_END, AUDIO_TURN, REPLY, USER_TURN, Harness, assert_ga, collapse
from tests.fakes import ScriptedResponder
from voxrt.errors import UpstreamError
from voxrt.llm import ToolCall

pytestmark = pytest.mark.anyio

RATE = 24000


async def test_a_voice_turn_is_answered_with_events_in_order_and_every_event_is_a_ga_event() -> None:
    responder = ScriptedResponder(list(REPLY), gap_s=0.01)
    h = Harness(responder)
    await h.speak(1.0)
    done = await h.wait_for("response.done")
    await h.wait_for("voxrt.metrics", 2)
    kinds = collapse(h.kinds())
    assert kinds[:9] == ["session.created", *USER_TURN, "voxrt.metrics", "response.created"]
    body = kinds[9:]
    assert body[:3] == AUDIO_TURN[1:]
    middle = body[3 : -len(AUDIO_END)]
    assert set(middle) == {"response.output_audio_transcript.delta", "response.output_audio.delta"}
    assert middle[0] == "response.output_audio_transcript.delta"  # each chunk's text precedes its audio
    assert body[-len(AUDIO_END) :] == AUDIO_END
    assert_ga(h.events)
    # The user item carries the transcript; the reply is in the conversation and heard by the model.
    assert responder.seen[0][-1].content == "What is the capital of France?"
    assert done["response"]["status"] == "completed"
    transcript = h.of("response.output_audio_transcript.done")[0]["transcript"]
    assert transcript == "Paris is the capital of France. It lies on the Seine, in the north."
    assert "".join(e["delta"] for e in h.of("response.output_audio_transcript.delta")) == transcript
    assert done["response"]["output"][0]["content"][0]["transcript"] == transcript
    audio = b"".join(base64.b64decode(e["delta"]) for e in h.of("response.output_audio.delta"))
    assert len(audio) / 2 / RATE == pytest.approx(len(" ".join(h.tts.spoken)) * 0.06, abs=0.2)
    metrics = h.of("voxrt.metrics")[-1]
    assert metrics["response_id"] == done["response"]["id"]
    assert metrics["voice_to_voice_ms"] > 0 and metrics["llm_ttft_ms"] >= 0
    await h.close()


async def test_text_turns_out_of_band_replies_and_text_output() -> None:
    responder = ScriptedResponder(["Hello", " there."])
    h = Harness(responder)
    await h.send(
        {
            "type": "conversation.item.create",
            "item": {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "Say hello."}],
            },
        }
    )
    await h.send({"type": "response.create", "response": {"output_modalities": ["text"]}})
    await h.wait_for("response.done")
    kinds = collapse(h.kinds(1))
    assert kinds == [
        "conversation.item.added",
        "conversation.item.done",
        "response.created",
        "response.output_item.added",
        "conversation.item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "conversation.item.done",
        "response.done",
        "voxrt.metrics",
    ]
    assert h.of("response.output_text.done")[0]["text"] == "Hello there."
    assert len(h.session.items) == 2
    # Out of band: the reply stays out of the conversation, and its input replaces the context.
    start = len(h.events)
    await h.send(
        {
            "type": "response.create",
            "response": {
                "conversation": "none",
                "output_modalities": ["text"],
                "metadata": {"topic": "x"},
                "input": [
                    {
                        "type": "message",
                        "role": "user",
                        "content": [{"type": "input_text", "text": "Only me."}],
                    }
                ],
            },
        }
    )
    done = await h.wait_for("response.done", 2)
    assert "conversation.item.added" not in h.kinds(start)
    assert done["response"]["conversation_id"] is None and done["response"]["metadata"] == {"topic": "x"}
    assert [m.content for m in responder.seen[1] if m.role == "user"] == ["Only me."]
    assert len(h.session.items) == 2
    assert_ga(h.events)
    await h.close()


async def test_a_tool_call_round_trip() -> None:
    call = ToolCall("call_1", "get_weather", '{"city": "Paris"}')
    responder = ScriptedResponder([call])
    h = Harness(responder)
    tool = {
        "type": "function",
        "name": "get_weather",
        "description": "Weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
    await h.send({"type": "session.update", "session": {"type": "realtime", "tools": [tool]}})
    await h.send({"type": "response.create"})
    done = await h.wait_for("response.done")
    assert collapse(h.kinds(2)) == [
        "response.created",
        "response.output_item.added",
        "conversation.item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "conversation.item.done",
        "response.done",
        "voxrt.metrics",
    ]
    args = h.of("response.function_call_arguments.done")[0]
    assert (args["name"], args["arguments"], args["call_id"]) == (
        "get_weather",
        '{"city": "Paris"}',
        "call_1",
    )
    assert done["response"]["output"][0]["type"] == "function_call"
    responder.deltas = ["It is sunny in Paris."]
    await h.send(
        {
            "type": "conversation.item.create",
            "item": {"type": "function_call_output", "call_id": "call_1", "output": '{"sky": "sunny"}'},
        }
    )
    await h.send({"type": "response.create"})
    await h.wait_for("response.done", 2)
    seen = responder.seen[1]
    assert [m.role for m in seen] == ["system", "assistant", "tool"]
    assert seen[1].tool_calls == (call,) and seen[2].tool_call_id == "call_1"
    assert_ga(h.events)
    await h.close()


async def test_a_failing_model_fails_the_reply_and_the_next_one_works() -> None:
    responder = ScriptedResponder(["Half a"], error=UpstreamError("The chat server is down."))
    h = Harness(responder)
    await h.send({"type": "response.create"})
    done = await h.wait_for("response.done")
    assert done["response"]["status"] == "failed"
    assert done["response"]["status_details"]["error"]["code"] == UpstreamError.code
    assert h.of("error")[0]["error"]["message"] == "The chat server is down."
    responder.error, responder.deltas = None, ["Back again."]
    await h.send({"type": "response.create"})
    assert (await h.wait_for("response.done", 2))["response"]["status"] == "completed"
    assert_ga(h.events)
    await h.close()


@pytest.mark.parametrize(
    ("event", "param"),
    [
        ({"type": "conversation.item.create", "item": {"type": "message"}}, "item.role"),
        ({"type": "conversation.item.create", "item": {"type": "bogus"}}, "item.type"),
        (
            {
                "type": "conversation.item.create",
                "item": {"type": "message", "role": "user"},
                "previous_item_id": "nope",
            },
            "previous_item_id",
        ),
        ({"type": "conversation.item.truncate", "item_id": "nope", "audio_end_ms": 1}, "item_id"),
        ({"type": "conversation.item.delete"}, "item_id"),
        (
            {"type": "response.create", "response": {"output_modalities": ["video"]}},
            "response.output_modalities.0",
        ),
        ({"type": "session.update", "session": {"audio": {"output": {"voice": "nobody"}}}}, "voice"),
        (
            {"type": "session.update", "session": {"tools": [{"type": "function", "name": "a b"}]}},
            "session.tools.0.name",
        ),
        # oversized: every text and list a client sends has a cap
        ({"type": "session.update", "session": {"instructions": "x" * 40_000}}, "session.instructions"),
        (
            {"type": "session.update", "session": {"tools": [{"name": f"t{i}"} for i in range(65)]}},
            "session.tools",
        ),
        (
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "x" * 40_000}],
                },
            },
            "item.content.0.text",
        ),
        (
            {"type": "response.create", "response": {"metadata": {f"k{i}": "v" for i in range(17)}}},
            "response.metadata",
        ),
    ],
)
async def test_bad_client_events_get_an_error_naming_the_field(event: dict[str, Any], param: str) -> None:
    h = Harness(ScriptedResponder(["Fine."]))
    await h.send(event)
    error = await h.wait_for("error")
    assert error["error"]["param"] == param
    await h.send({"type": "response.create"})
    await h.wait_for("response.done")  # the session goes on
    await h.close()


async def test_the_voice_is_fixed_once_the_assistant_has_spoken() -> None:
    h = Harness(ScriptedResponder(["Fine."]))
    await h.send({"type": "session.update", "session": {"audio": {"output": {"voice": "echo"}}}})
    assert (await h.wait_for("session.updated"))["session"]["audio"]["output"]["voice"] == "echo"
    await h.send({"type": "response.create"})
    await h.wait_for("response.done")
    await h.send({"type": "session.update", "session": {"audio": {"output": {"voice": "alloy"}}}})
    assert (await h.wait_for("error"))["error"]["code"] == "cannot_update_voice"
    await h.close()


async def test_silence_after_a_reply_past_idle_timeout_makes_the_server_take_the_turn() -> None:
    h = Harness(ScriptedResponder(["Are you still there?"]))
    turn = {"type": "server_vad", "idle_timeout_ms": 5000}
    await h.send({"type": "session.update", "session": {"audio": {"input": {"turn_detection": turn}}}})
    await h.send({"type": "response.create"})
    done = await h.wait_for("response.done")
    done_at = next(t for t, e in h.events if e is done)
    triggered = await h.wait_for("input_audio_buffer.timeout_triggered", timeout=12)
    triggered_at = next(t for t, e in h.events if e is triggered)
    # The reply's ~1.2 s of audio plays (most of it after response.done: 1.5 s lead), then 5 s.
    assert 5.0 <= triggered_at - done_at <= 7.5
    start = h.kinds().index("input_audio_buffer.timeout_triggered")
    assert h.kinds(start)[:5] == [
        "input_audio_buffer.timeout_triggered",
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
        "response.created",
    ]
    assert_ga(h.events)
    await h.close()


async def test_the_session_model_and_the_transcription_model_are_echoed_apart() -> None:
    h = Harness(ScriptedResponder(["Fine."]))
    assert (await h.wait_for("session.created"))["session"]["model"] == "voxrt"
    transcription = {"model": "gpt-4o-mini-transcribe"}
    session = {"model": "gpt-realtime", "audio": {"input": {"transcription": transcription}}}
    await h.send({"type": "session.update", "session": session})
    echoed = (await h.wait_for("session.updated"))["session"]
    assert echoed["model"] == "gpt-realtime"
    assert echoed["audio"]["input"]["transcription"]["model"] == "gpt-4o-mini-transcribe"
    await h.close()


@pytest.mark.parametrize("preemptive", [True, False])
async def test_the_reply_is_written_from_the_speculative_transcript_before_the_turn_ends(
    preemptive: bool,
) -> None:
    responder = ScriptedResponder(list(REPLY))
    h = Harness(responder, preemptive_generation=preemptive)
    await h.speak(1.0, speed=1.0)  # in real time: the speculative final is ready within the window
    done = await h.wait_for("response.done")
    committed = await h.wait_for("input_audio_buffer.committed")
    committed_at = next(t for t, e in h.events if e is committed)
    # Preemptive: the model was asked once, during the silence window (before the commit), and the
    # reply adopted that draft, whose first words were voiced then too; otherwise both came after
    # the transcript. Either way each chunk was voiced once.
    assert len(responder.seen) == 1
    assert (responder.asked_at[0] < committed_at) == preemptive
    assert (h.tts.started_at[0] < committed_at) == preemptive
    assert h.tts.spoken == ["Paris is the capital", "of France.", "It lies on the Seine, in the north."]
    assert done["response"]["status"] == "completed"
    transcript = h.of("response.output_audio_transcript.done")[0]["transcript"]
    assert transcript == "Paris is the capital of France. It lies on the Seine, in the north."
    assert responder.seen[0][-1].content == "What is the capital of France?"
    await h.close()


@pytest.mark.parametrize("preemptive", [True, False])
async def test_the_words_heard_so_far_are_prefilled_before_the_reply_is_written(preemptive: bool) -> None:
    responder = ScriptedResponder(list(REPLY))
    h = Harness(responder, partials=True, preemptive_generation=preemptive)
    await h.speak(1.5, speed=1.0)
    await h.wait_for("response.done")
    deltas = [e["delta"] for e in h.of("conversation.item.input_audio_transcription.delta")]
    heard = ["".join(deltas[: i + 1]) for i in range(len(deltas))]
    assert heard and heard[-1] == "What is the capital of France?"
    # Preemptive: the model was handed the words heard so far (the latest, when several came while
    # a prefill ran), all before it was asked for the reply; otherwise never.
    prefilled = [text for _, text in responder.prefilled]
    if preemptive:
        assert prefilled and set(prefilled) <= set(heard) and prefilled[-1] == heard[-1]
        assert max(t for t, _ in responder.prefilled) < responder.asked_at[0]
    else:
        assert prefilled == []
    await h.close()


async def test_speech_resuming_after_the_speculative_transcript_drops_the_draft() -> None:
    responder = ScriptedResponder(["Fine."], gap_s=0.3)
    h = Harness(responder, preemptive_generation=True)
    await h.speak(1.0, silence_s=0.28, speed=1.0)  # past the speculative point, short of the window
    await h.speak(0.6, speed=1.0)  # the same utterance goes on, then ends
    await h.wait_for("response.done")
    # The draft written on the first half was dropped when speech resumed, and the reply answers
    # the whole utterance from a second request (itself a draft, made once the speech had ended).
    assert len(h.of("input_audio_buffer.committed")) == 1
    assert len(responder.seen) == 2
    assert h.of("response.done")[0]["response"]["status"] == "completed"
    await h.close()


async def test_a_flood_of_items_keeps_the_conversation_bounded() -> None:
    h = Harness(ScriptedResponder(["Fine."]), max_items=10)
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hello " * 100}]}
    for _ in range(200):
        await h.send({"type": "conversation.item.create", "item": item})
    assert len(h.session.items) == 10  # the oldest went first
    await h.send({"type": "response.create"})
    assert (await h.wait_for("response.done"))["response"]["status"] == "completed"
    await h.close()
