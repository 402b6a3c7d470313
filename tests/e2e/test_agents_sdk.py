"""A client nobody here wrote: the OpenAI Agents SDK's realtime runner (``openai-agents``), pointed
at a live voxrt server. Two questions spoken at real-time pace are heard and answered in speech on
the embedded models; a function tool declared on the agent is called by the model (llama.cpp's
recorded tool call, replayed by the chat stub), run by the SDK, and its result answered. What the
SDK surfaces is checked, and it reports no error: it validates every server event against OpenAI's
GA types and reports any it cannot read as one."""

from __future__ import annotations

import asyncio
import functools
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml
from agents import function_tool
from agents.realtime import (
    AssistantMessageItem,
    InputAudio,
    RealtimeAgent,
    RealtimeRunConfig,
    RealtimeRunner,
    RealtimeSession,
    RealtimeSessionEvent,
)
from agents.realtime.items import AssistantAudio

from tests.e2e.chat_servers import ChatStub, recorded_tool_call, sse_text
from tests.e2e.conftest import CONVERSATION_KEY
from tests.speech import spoken_pcm
from voxrt.bench.server import ServerProcess, running_server
from voxrt.bench.wer import wer

pytestmark = pytest.mark.e2e

RATE = 24000  # pcm16, the SDK's default audio format
QUESTIONS = ("What is the capital of France?", "And what is the capital of Spain?")
WEATHER = "sunny, 24 C"


@function_tool
def get_weather(city: str) -> str:
    """The current weather in a city."""
    return f"{WEATHER} in {city}"


@pytest.fixture(scope="module")
def tool_server(tmp_path_factory: pytest.TempPathFactory, chat_stub: ChatStub) -> Iterator[ServerProcess]:
    """A live server whose language model is the chat stub: what the model says is scripted (llama.cpp's
    recorded tool call, then a reply), so the test reads what the SDK and voxrt do with it."""
    directory = tmp_path_factory.mktemp("agents-tools")
    config = directory / "voxrt.yaml"
    llm = {"engine": "openai_compat", "base_url": chat_stub.url, "model": "smollm2", "retries": 0}
    config.write_text(yaml.safe_dump({"auth": {"api_keys": [CONVERSATION_KEY]}, "llm": llm}))
    with running_server(directory / "server.log", config=config) as process:
        yield process


class Call:
    """A runner's session and every event the SDK surfaced from it, with the times of its audio."""

    def __init__(self, session: RealtimeSession) -> None:
        self.session = session
        self.events: list[RealtimeSessionEvent] = []
        self.audio_at: list[float] = []  # when each "audio" event came
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for event in self.session:
            self.events.append(event)
            if event.type == "audio":
                self.audio_at.append(time.perf_counter())

    async def speak(self, pcm: bytes, silence_s: float = 1.5) -> None:
        """``pcm`` then silence, 40 ms at a time at real-time pace, as audio the SDK sends."""
        pcm += bytes(int(silence_s * RATE) * 2)
        step = RATE * 2 * 40 // 1000
        start = time.perf_counter()
        for k, offset in enumerate(range(0, len(pcm), step)):
            await asyncio.sleep(max(0.0, start + k * 0.04 - time.perf_counter()))
            await self.session.send_audio(pcm[offset : offset + step])

    async def wait_for(self, done: Callable[[], bool], timeout: float = 90.0) -> None:
        deadline = time.perf_counter() + timeout
        while not done():
            assert time.perf_counter() < deadline, [e.type for e in self.events]
            await asyncio.sleep(0.02)

    def of(self, kind: str) -> list[Any]:
        return [e for e in self.events if e.type == kind]

    def history(self) -> list[Any]:
        updates = self.of("history_updated")
        return list(updates[-1].history) if updates else []

    def answered(self, turns: int) -> bool:
        """``turns`` replies are over and the history holds the last one, completed."""
        last = self.history()[-1:]
        return (
            len(self.of("agent_end")) >= turns
            and isinstance(last[0], AssistantMessageItem)
            and (last[0].status == "completed")
        )

    async def listen(self) -> None:
        """Wait until the last reply has played out in real time: a person speaking before then
        interrupts it (voxrt paces audio to playback, so its last part comes before its time)."""
        audio = self.of("audio")
        mine = [(t, e) for t, e in zip(self.audio_at, audio, strict=True) if e.item_id == audio[-1].item_id]
        end = mine[0][0] + sum(len(e.audio.data) for _, e in mine) / 2 / RATE
        await asyncio.sleep(max(0.0, end - time.perf_counter()))

    async def close(self) -> None:
        self._reader.cancel()


def _runner() -> RealtimeRunner:
    agent = RealtimeAgent(
        name="Assistant",
        instructions="You are a helpful assistant. Answer in one short sentence.",
        tools=[get_weather],
    )
    # server_vad explicitly: semantic_vad (the SDK's default) comes with the Smart Turn detector
    config: RealtimeRunConfig = {"model_settings": {"turn_detection": {"type": "server_vad"}}}
    return RealtimeRunner(agent, config=config)


async def _call(server: ServerProcess, talk: Callable[[Call], Any]) -> Call:
    url = server.base_url.replace("http", "ws") + "/v1/realtime"
    session = await _runner().run(model_config={"url": url, "api_key": CONVERSATION_KEY})
    async with session:
        call = Call(session)
        await talk(call)
        await call.close()
    return call


def test_spoken_questions_through_the_agents_sdk(conversation_server: ServerProcess) -> None:
    async def talk(call: Call) -> None:
        for turn, question in enumerate(QUESTIONS, 1):
            await call.speak(spoken_pcm(question, RATE))
            await call.wait_for(functools.partial(call.answered, turn))
            await call.listen()

    call = asyncio.run(_call(conversation_server, talk))
    assert call.of("error") == []
    # Each turn: the question heard in the right words, a spoken reply with its transcript (the
    # second turn also takes the SDK's own conversation.item.retrieve of the reply before it).
    history = call.history()
    assert [item.role for item in history] == ["user", "assistant"] * len(QUESTIONS)
    replies = []
    for question, user, assistant in zip(QUESTIONS, history[::2], history[1::2], strict=True):
        asked, answered = user.content[0], assistant.content[0]
        assert isinstance(asked, InputAudio) and isinstance(answered, AssistantAudio)
        assert wer([question], [asked.transcript or ""]) <= 0.15, asked.transcript
        assert answered.transcript and assistant.status == "completed"
        replies.append(answered.transcript)
    assert "paris" in replies[0].lower(), replies
    audio = b"".join(e.audio.data for e in call.of("audio"))
    assert len(audio) / 2 / RATE > 1.0 and len(call.of("audio_end")) == len(QUESTIONS)


def test_a_function_tool_on_the_agent_is_called_and_its_result_answered(
    tool_server: ServerProcess, chat_stub: ChatStub
) -> None:
    chat_stub.script(
        ("sse", (recorded_tool_call(), None)),
        ("sse", (sse_text("It is sunny", " in Paris today."), None)),
    )

    async def talk(call: Call) -> None:
        await call.session.send_message("What is the weather in Paris?")
        await call.wait_for(functools.partial(call.answered, 2))  # the call, then the answer

    call = asyncio.run(_call(tool_server, talk))
    assert call.of("error") == []
    (start,), (end,) = call.of("tool_start"), call.of("tool_end")
    assert start.tool.name == "get_weather" and json.loads(start.arguments) == {"city": "Paris"}
    assert end.output == f"{WEATHER} in Paris"
    # The model was offered the agent's tool, and heard the SDK's result with the call it answers.
    first, second = chat_stub.bodies
    assert [tool["function"]["name"] for tool in first["tools"]] == ["get_weather"]
    call_message, result = second["messages"][-2:]
    assert call_message["tool_calls"][0]["function"]["name"] == "get_weather"
    assert result == {
        "role": "tool",
        "tool_call_id": call_message["tool_calls"][0]["id"],
        "content": f"{WEATHER} in Paris",
    }
    answer = call.history()[-1]
    assert answer.content[0].transcript == "It is sunny in Paris today."
    assert call.of("audio")
