"""A conversation session (in-process, the test as its client) whose responder is openai_compat over
real HTTP on loopback: a tool round trip against llama.cpp's own server with SmolLM2, and a chat
server that fails a request (the chat stub, a mock at the network edge), which fails that reply and
not the session. Recognizer and synthesizer are fakes: what they hear and say does not matter here."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conversation import Harness, assert_ga
from tests.e2e.chat_servers import ChatStub, sse_text
from voxrt.config import load_settings
from voxrt.llm.openai_compat import OpenAICompatResponder

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]

WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "The current weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def _user_text(text: str) -> dict[str, Any]:
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
    return {"type": "conversation.item.create", "item": item}


def _harness(base_url: str, **llm: Any) -> tuple[Harness, OpenAICompatResponder]:
    llm = {"engine": "openai_compat", "base_url": base_url, "model": "smollm2", "temperature": 0.0, **llm}
    responder = OpenAICompatResponder(load_settings(overrides={"llm": llm}).llm)
    return Harness(responder, llm=llm), responder


async def test_a_tool_round_trip_with_llama_server(llama_server: str) -> None:
    h, responder = _harness(llama_server)
    await h.send({"type": "session.update", "session": {"tools": [WEATHER_TOOL]}})
    await h.send(_user_text("What is the weather in Paris?"))
    force = {"type": "function", "name": "get_weather"}
    await h.send({"type": "response.create", "response": {"tool_choice": force}})
    done = (await h.wait_for("response.done", timeout=60))["response"]
    assert done["status"] == "completed", done
    (call,) = done["output"]
    arguments = h.of("response.function_call_arguments.done")[0]
    assert (call["type"], call["name"], call["status"]) == ("function_call", "get_weather", "completed")
    assert (arguments["call_id"], arguments["arguments"]) == (call["call_id"], call["arguments"])
    city = json.loads(call["arguments"])["city"]
    assert isinstance(city, str) and city

    output = json.dumps({"city": city, "weather": "sunny, 24 C"})
    result = {"type": "function_call_output", "call_id": call["call_id"], "output": output}
    await h.send({"type": "conversation.item.create", "item": result})
    # With the tool on offer (auto), llama-cpp-python's chatml-function-calling grammar ends a text
    # answer at once and the reply comes back empty: the answer is asked for with tool_choice none.
    await h.send({"type": "response.create", "response": {"tool_choice": "none"}})
    done = (await h.wait_for("response.done", 2, timeout=60))["response"]
    assert done["status"] == "completed", done
    (reply,) = done["output"]
    assert (reply["type"], reply["role"]) == ("message", "assistant")
    assert reply["content"][0]["transcript"].strip()
    assert_ga(h.events)
    await h.close()
    await responder.aclose()


async def test_a_failing_llm_server_fails_the_reply_and_the_next_one_works(chat_stub: ChatStub) -> None:
    chat_stub.script(("status", (500, "llama.cpp crashed")), ("sse", (sse_text("Back", " again."), None)))
    h, responder = _harness(chat_stub.url, retries=0)
    await h.send(_user_text("Are you there?"))
    await h.send({"type": "response.create"})
    failed = (await h.wait_for("response.done", timeout=20))["response"]
    assert failed["status"] == "failed"
    assert failed["status_details"]["error"]["code"] == "upstream_error"
    error = h.of("error")[0]["error"]
    assert error["code"] == "upstream_error" and "llama.cpp crashed" in error["message"]

    await h.send({"type": "response.create"})
    done = (await h.wait_for("response.done", 2, timeout=20))["response"]
    assert done["status"] == "completed"
    assert done["output"][0]["content"][0]["transcript"] == "Back again."
    # the failed reply left nothing the model hears: it is asked the question again
    assert chat_stub.bodies[1]["messages"][1:] == [{"role": "user", "content": "Are you there?"}]
    assert_ga(h.events)
    await h.close()
    await responder.aclose()
