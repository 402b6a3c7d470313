"""Conversations against a live server on the embedded models (tiny.en, Silero, SmolLM2 through
llama.cpp, Piper), driven by the official ``openai`` SDK's realtime client: a spoken question
streamed at real-time pace is answered in speech, every event is a GA event in the documented
order, the reply's audio says its transcript; text turns, out-of-band replies, barge-in with the
client's truncate, and the reply's own echo during the guard."""

from __future__ import annotations

import asyncio
import base64
import time
from typing import Any

import httpx
import numpy as np
import openai
import pytest
from openai.types.realtime import RealtimeServerEvent
from prometheus_client.parser import text_string_to_metric_families
from pydantic import TypeAdapter

from tests.conversation import AUDIO_END, AUDIO_TURN, USER_TURN, collapse
from tests.e2e.conftest import CONVERSATION_KEY
from tests.speech import spoken_pcm
from voxrt.audio.pcm import wav_bytes
from voxrt.bench.server import ServerProcess
from voxrt.bench.wer import wer

pytestmark = pytest.mark.e2e

RATE = 24000
SERVER_EVENT: TypeAdapter[Any] = TypeAdapter(RealtimeServerEvent)
PCM_SESSION = {"type": "realtime", "audio": {"input": {"format": {"type": "audio/pcm", "rate": RATE}}}}
QUESTION = "Tell me about the planet Mars."  # SmolLM2 answers in ~50 words: a WER that means something


class Conversation:
    """An SDK realtime connection and every event it received, with receive times."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.events: list[tuple[float, dict[str, Any]]] = []
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for event in self.conn:
            self.events.append((time.perf_counter(), event.model_dump(exclude_unset=True)))

    async def stream(self, pcm: bytes, silence_s: float = 1.5) -> None:
        """``pcm`` then silence, 40 ms at a time at real-time pace."""
        pcm += bytes(int(silence_s * RATE) * 2)
        step = RATE * 2 * 40 // 1000
        start = time.perf_counter()
        for k, offset in enumerate(range(0, len(pcm), step)):
            await asyncio.sleep(max(0.0, start + k * 0.04 - time.perf_counter()))
            await self.conn.input_audio_buffer.append(
                audio=base64.b64encode(pcm[offset : offset + step]).decode()
            )

    async def wait_for(self, kind: str, count: int = 1, timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.perf_counter() + timeout
        while True:
            found = self.of(kind)
            if len(found) >= count:
                return found[count - 1]
            assert time.perf_counter() < deadline, f"no {kind}: {[e['type'] for _, e in self.events]}"
            await asyncio.sleep(0.02)

    def of(self, kind: str, response_id: str | None = None) -> list[dict[str, Any]]:
        return [
            e for _, e in self.events
            if e["type"] == kind and (response_id is None or e.get("response_id") == response_id)
        ]  # fmt: skip

    def audio(self, response_id: str) -> bytes:
        return b"".join(
            base64.b64decode(e["delta"]) for e in self.of("response.output_audio.delta", response_id)
        )

    async def close(self) -> None:
        self._reader.cancel()


def _connect(server: ServerProcess) -> Any:
    url = server.base_url.replace("http", "ws") + "/v1"
    client = openai.AsyncOpenAI(api_key=CONVERSATION_KEY, websocket_base_url=url)
    return client.realtime.connect(model="voxrt", extra_query={"metrics": "true"})  # per-turn latencies


def _scrape(server: ServerProcess) -> dict[str, float]:
    """``/metrics`` as ``{'name{label="value"}': value}``."""
    text = httpx.get(f"{server.base_url}/metrics", timeout=10).text
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            out[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return out


def _transcribe(server: ServerProcess, pcm: bytes) -> str:
    wav = wav_bytes(np.frombuffer(pcm, dtype="<i2"), RATE)
    reply = httpx.post(
        f"{server.base_url}/v1/audio/transcriptions",
        headers={"Authorization": f"Bearer {CONVERSATION_KEY}"},
        files={"file": ("reply.wav", wav, "audio/wav")},
        data={"model": "whisper-1", "response_format": "text"},
        timeout=120,
    )
    reply.raise_for_status()
    return reply.text


def test_a_spoken_question_gets_a_spoken_answer(conversation_server: ServerProcess) -> None:
    async def run() -> Conversation:
        async with _connect(conversation_server) as conn:
            talk = Conversation(conn)
            await conn.session.update(session=PCM_SESSION)
            await talk.stream(spoken_pcm(QUESTION))
            await talk.wait_for("response.done", timeout=90)
            await talk.wait_for("voxrt.metrics", 2)
            await talk.close()
            return talk

    talk = asyncio.run(run())
    for _, event in talk.events:
        if event["type"] != "voxrt.metrics":
            SERVER_EVENT.validate_python(event)
    user = talk.of("conversation.item.input_audio_transcription.completed")[0]
    assert wer([QUESTION], [user["transcript"]]) <= 0.15, user["transcript"]
    kinds = collapse([e["type"] for _, e in talk.events if not e["type"].endswith("transcription.delta")])
    turn = kinds[kinds.index("input_audio_buffer.speech_started") :]
    assert turn[:6] == USER_TURN
    reply = turn[turn.index("response.created") :]
    assert reply[:4] == AUDIO_TURN
    assert set(reply[4:-7]) == {"response.output_audio_transcript.delta", "response.output_audio.delta"}
    assert reply[-7:] == AUDIO_END
    done = talk.of("response.done")[0]["response"]
    assert done["status"] == "completed"
    transcript = talk.of("response.output_audio_transcript.done")[0]["transcript"]
    assert transcript.strip()
    heard = _transcribe(conversation_server, talk.audio(done["id"]))
    assert wer([transcript], [heard]) <= 0.15, (transcript, heard)
    metrics = talk.of("voxrt.metrics")[-1]
    assert metrics["voice_to_voice_ms"] > 0
    scraped = _scrape(conversation_server)
    assert scraped["voxrt_voice_to_voice_seconds_count"] >= 1
    assert scraped['voxrt_responses_total{status="completed"}'] >= 1


def test_text_turns_and_out_of_band_replies(conversation_server: ServerProcess) -> None:
    async def run() -> Conversation:
        async with _connect(conversation_server) as conn:
            talk = Conversation(conn)
            await conn.conversation.item.create(
                item={"type": "message", "role": "user",
                      "content": [{"type": "input_text", "text": "What is the capital of France?"}]}
            )  # fmt: skip
            await conn.response.create(response={"output_modalities": ["text"]})
            await talk.wait_for("response.done", timeout=60)
            await conn.response.create(
                response={
                    "conversation": "none",
                    "output_modalities": ["text"],
                    "metadata": {"purpose": "title"},
                    "instructions": "Answer with one word.",
                    "input": [{"type": "message", "role": "user",
                               "content": [{"type": "input_text", "text": "Name a colour."}]}],
                }
            )  # fmt: skip
            await talk.wait_for("response.done", 2, timeout=60)
            await talk.close()
            return talk

    talk = asyncio.run(run())
    first, second = (e["response"] for e in talk.of("response.done"))
    assert first["status"] == second["status"] == "completed"
    answer = talk.of("response.output_text.done")[0]["text"]
    assert "paris" in answer.lower(), answer
    assert second["conversation_id"] is None and second["metadata"] == {"purpose": "title"}
    added = [e["item"]["id"] for e in talk.of("conversation.item.added")]
    assert second["output"][0]["id"] not in added  # out of band: not in the conversation


def test_speech_during_a_reply_interrupts_it_and_is_answered(conversation_server: ServerProcess) -> None:
    async def run() -> tuple[Conversation, dict[str, Any]]:
        async with _connect(conversation_server) as conn:
            talk = Conversation(conn)
            await conn.session.update(
                session={
                    "type": "realtime",
                    "instructions": "You tell long, detailed stories.",
                    "audio": {"input": {"format": {"type": "audio/pcm", "rate": RATE}}},
                }
            )
            story = "Tell me a long story about a dragon and a knight."
            await conn.conversation.item.create(
                item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": story}]}
            )
            await conn.response.create()
            first_audio = await talk.wait_for("response.output_audio.delta", timeout=60)
            started_at = next(t for t, e in talk.events if e is first_audio)
            await asyncio.sleep(3.5)  # past the echo guard
            await talk.stream(spoken_pcm(QUESTION))
            done = await talk.wait_for("response.done", timeout=60)
            # The client stops playback at speech_started and says how much it played: no more than
            # it had received (on a loaded machine synthesis can fall behind real time).
            speech = talk.of("input_audio_buffer.speech_started")[0]
            heard_at = next(t for t, e in talk.events if e is speech)
            received = sum(
                len(base64.b64decode(e["delta"])) for t, e in talk.events
                if e["type"] == "response.output_audio.delta" and t <= heard_at
            )  # fmt: skip
            played_ms = min(int(1000 * (heard_at - started_at)), 1000 * received // 2 // RATE)
            await conn.conversation.item.truncate(
                item_id=first_audio["item_id"], content_index=0, audio_end_ms=played_ms
            )
            await talk.wait_for("conversation.item.truncated")
            await conn.conversation.item.retrieve(item_id=first_audio["item_id"])
            retrieved = await talk.wait_for("conversation.item.retrieved")
            answer = await talk.wait_for("response.created", 2, timeout=60)
            while not talk.of("response.output_audio.delta", answer["response"]["id"]):
                await talk.wait_for(
                    "response.output_audio.delta", len(talk.of("response.output_audio.delta")) + 1
                )
            await talk.close()
            return talk, {
                "done": done,
                "retrieved": retrieved,
                "speech": speech,
                "first_audio_at": started_at,
            }

    talk, seen = asyncio.run(run())
    done = seen["done"]["response"]
    assert (done["status"], done["status_details"]["reason"]) == ("cancelled", "turn_detected")
    heard_at = next(t for t, e in talk.events if e is seen["speech"])
    late = [t for t, e in talk.events if e["type"] == "response.output_audio.delta"
            and e["response_id"] == done["id"] and t > heard_at + 0.15]  # fmt: skip
    assert late == []
    # The item keeps what was played before the interruption: a prefix of the transcript sent, no
    # more words than ~4 a second of playback (Piper speaks under 3), and not nothing.
    sent = "".join(e["delta"] for e in talk.of("response.output_audio_transcript.delta", done["id"]))
    kept = seen["retrieved"]["item"]["content"][0]["transcript"]
    assert kept and sent.strip().startswith(kept)
    assert len(kept.split()) <= 5 * (heard_at - seen["first_audio_at"]) + 3  # Piper: under 4 words a second
    assert _scrape(conversation_server)["voxrt_interruptions_total"] >= 1
    # The interruption is answered: the next reply reads the question it asked.
    asked = talk.of("conversation.item.input_audio_transcription.completed")[0]["transcript"]
    assert wer([QUESTION], [asked]) <= 0.15, asked


def test_the_replys_own_audio_heard_back_during_the_echo_guard_does_not_interrupt_it(
    conversation_server: ServerProcess,
) -> None:
    """A client without echo cancellation: the reply's audio, as received, goes straight back into
    the microphone for its first 2.5 s (inside the 3 s guard), then silence."""

    async def run() -> Conversation:
        async with _connect(conversation_server) as conn:
            talk = Conversation(conn)
            await conn.session.update(session=PCM_SESSION)
            await conn.conversation.item.create(
                item={
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": QUESTION}],
                }
            )
            await conn.response.create()
            first = await talk.wait_for("response.output_audio.delta", timeout=60)
            echo = b""
            while len(echo) < 2.5 * RATE * 2:  # the reply as it arrives, paced as it plays
                echo = talk.audio(first["response_id"])
                await asyncio.sleep(0.05)
            await talk.stream(echo[: int(2.5 * RATE) * 2], silence_s=1.5)
            await talk.wait_for("response.done", timeout=90)
            await talk.close()
            return talk

    talk = asyncio.run(run())
    done = talk.of("response.done")[0]["response"]
    assert done["status"] == "completed", done["status_details"]
    # The echo was heard as speech, recognised as the reply's own words, and dropped unanswered.
    assert talk.of("input_audio_buffer.speech_started")
    echoed = talk.of("conversation.item.input_audio_transcription.completed")
    assert [e["item_id"] for e in talk.of("conversation.item.deleted")] == [e["item_id"] for e in echoed]
    assert len(talk.of("response.created")) == 1
