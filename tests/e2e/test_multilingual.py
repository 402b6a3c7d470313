"""Whisper base (multilingual) through a live server: Spanish and French real speech through the
official SDK, REST and realtime, with the language given and detected."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from typing import Any

import numpy as np
import openai
import pytest
import yaml

from voxrt.bench.realspeech import ManifestEntry
from voxrt.bench.realtime_client import pace, split
from voxrt.bench.server import ServerProcess, running_server
from voxrt.bench.stream_client import RATE, load_clip
from voxrt.bench.wer import wer

pytestmark = pytest.mark.e2e

KEY = "ml-key"
# base reads these two prompts without an error here; a wrong language reads ~100 %
MAX_WER = 0.25


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    directory = tmp_path_factory.mktemp("multilingual")
    config = directory / "voxrt.yaml"
    config.write_text(yaml.safe_dump({"auth": {"api_keys": [KEY]}, "asr": {"model": "base"}}))
    with running_server(directory / "server.log", config=config) as process:
        yield process


@pytest.fixture(scope="module")
def client(server: ServerProcess) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{server.base_url}/v1", api_key=KEY, max_retries=0) as c:
        yield c


@pytest.mark.parametrize("lang", ["es", "fr"])
def test_rest_language_given_and_detected(
    client: openai.OpenAI, real_prompts: dict[str, ManifestEntry], lang: str
) -> None:
    entry = real_prompts[lang]
    with entry.audio.open("rb") as f:
        given = client.audio.transcriptions.create(model="base", file=f, language=lang)
    assert wer([entry.text], [given.text], lang) <= MAX_WER, (entry.text, given.text)
    with entry.audio.open("rb") as f:
        detected = client.audio.transcriptions.create(model="base", file=f, response_format="verbose_json")
    assert detected.language == lang
    assert wer([entry.text], [detected.text], lang) <= MAX_WER, (entry.text, detected.text)


async def _realtime(server: ServerProcess, entry: ManifestEntry, language: str | None) -> str:
    clip = load_clip(entry.text, entry.audio)
    silence = np.zeros(RATE // 2, "<i2")
    data = np.concatenate([silence, clip.pcm, silence, silence, silence]).tobytes()
    sdk = openai.AsyncOpenAI(api_key=KEY, websocket_base_url=server.base_url.replace("http", "ws") + "/v1")
    audio_input: dict[str, Any] = {"format": {"type": "audio/pcm", "rate": RATE}}
    if language:
        audio_input["transcription"] = {"language": language}
    session: Any = {"type": "transcription", "audio": {"input": audio_input}}
    async with sdk.realtime.connect(model="base", extra_query={"intent": "transcription"}) as conn:
        await conn.session.update(session=session)
        async for _, chunk in pace(split(data, RATE, 40), 0.01):  # four times faster than real time
            await conn.input_audio_buffer.append(audio=base64.b64encode(chunk).decode())
        async with asyncio.timeout(30):
            async for event in conn:
                if event.type == "conversation.item.input_audio_transcription.completed":
                    return event.transcript
                assert event.type != "error", event
    raise AssertionError("the connection closed before a transcript")


@pytest.mark.parametrize("lang", ["es", "fr"])
def test_realtime_language_given_and_detected(
    server: ServerProcess, real_prompts: dict[str, ManifestEntry], lang: str
) -> None:
    entry = real_prompts[lang]
    for language in (lang, None):
        transcript = asyncio.run(_realtime(server, entry, language))
        assert wer([entry.text], [transcript], lang) <= MAX_WER, (language, entry.text, transcript)
