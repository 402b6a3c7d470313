"""A draft (preemptive generation) voices its first speakable chunk as soon as it is written, and
hands that audio only to a reply whose first chunk is the same text said the same way; dropping
the draft stops the voicing. Fakes: a scripted responder and a tone synthesizer."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from tests.conversation import REPLY
from tests.fakes import ScriptedResponder, ToneTTS
from voxrt.audio.pcm import AudioFormat
from voxrt.llm import ChatMessage, ResponseOptions
from voxrt.realtime.draft import Draft
from voxrt.realtime.plan import ResponsePlan

pytestmark = pytest.mark.anyio

FIRST = "Paris is the capital"  # REPLY's first chunk at four words

PLAN = ResponsePlan(
    messages=[ChatMessage(role="user", content="What is the capital of France?")],
    options=ResponseOptions(),
    modality="audio",
    voice="tone",
    speed=1.0,
    output_format=AudioFormat(),
    in_conversation=True,
    max_output_tokens="inf",
    max_audio_s=60.0,
    audio_lead_s=1.5,
    first_chunk_words=4,
)


def responder() -> ScriptedResponder:
    scripted = ScriptedResponder(list(REPLY))
    scripted.load()
    return scripted


async def started(tts: ToneTTS, count: int) -> None:
    """Wait until ``count`` syntheses have started."""
    async with asyncio.timeout(5):
        while len(tts.started_at) < count:
            await asyncio.sleep(0.01)


@pytest.fixture
def tts() -> ToneTTS:
    engine = ToneTTS(delay_s=0.2)
    engine.load(warmup=False)
    return engine


async def test_the_first_chunk_is_voiced_ahead_and_handed_once_to_a_reply_said_the_same_way(
    tts: ToneTTS,
) -> None:
    draft = Draft(responder(), PLAN, tts)
    assert "".join([delta async for delta in draft if isinstance(delta, str)]) == "".join(REPLY)
    await started(tts, 1)  # voicing starts once the first chunk is written, unasked
    assert draft.speech(FIRST, dataclasses.replace(PLAN, voice="alloy")) is None  # another voice
    assert draft.speech(FIRST, dataclasses.replace(PLAN, speed=1.5)) is None
    assert draft.speech(FIRST, dataclasses.replace(PLAN, output_format=AudioFormat(rate=16000))) is None
    assert draft.speech("Paris is", PLAN) is None  # another first chunk
    task = draft.speech(FIRST, PLAN)
    assert task is not None
    audio = await task
    assert sum(len(part) for part in audio) == int(len(FIRST) * tts.s_per_char * tts.sample_rate)
    assert draft.speech(FIRST, PLAN) is None  # taken
    assert tts.spoken == [FIRST]
    tts.close()


async def test_dropping_a_draft_stops_its_voicing_and_a_text_reply_voices_nothing(tts: ToneTTS) -> None:
    async def busy() -> None:  # holds the synthesizer's one worker for 0.2 s
        [audio async for audio in tts.synthesize("Busy.")]

    busy_task = asyncio.create_task(busy())
    await started(tts, 1)
    draft = Draft(responder(), PLAN, tts)
    [delta async for delta in draft]  # the first chunk's synthesis is queued behind "Busy."
    draft.drop()
    assert draft.speech(FIRST, PLAN) is None
    text = Draft(responder(), dataclasses.replace(PLAN, modality="text"), tts)
    [delta async for delta in text]
    await busy_task
    await asyncio.sleep(0.3)
    assert text.speech(FIRST, PLAN) is None
    assert tts.spoken == ["Busy."]  # the dropped draft's synthesis never ran
    tts.close()
