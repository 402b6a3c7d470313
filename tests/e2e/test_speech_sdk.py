"""The official ``openai`` SDK's speech calls against a live voxrt process (Piper, the default
engine when installed): every response format, streaming as it is synthesized, SSE."""

from __future__ import annotations

import base64
import io
import json
import time
from collections.abc import Iterator

import av
import openai
import pytest

from tests.e2e.conftest import API_KEY
from voxrt.bench.server import ServerProcess
from voxrt.bench.wer import wer

pytestmark = pytest.mark.e2e

TEXT = "The library opens at nine in the morning. Please return your books on time."
# Twenty-four sentences (~2 minutes of speech): long enough that streaming is plainly visible.
LONG = " ".join(
    f"This is sentence number {n} of a long text that is read aloud to test streaming." for n in range(1, 25)
)


@pytest.fixture(scope="module")
def client(server: ServerProcess) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{server.base_url}/v1", api_key=API_KEY, max_retries=0) as c:
        yield c


def _seconds(data: bytes) -> float:
    with av.open(io.BytesIO(data), mode="r") as container:
        stream = container.streams.audio[0]
        return sum(int(frame.samples) for frame in container.decode(stream)) / int(stream.rate)


@pytest.fixture(scope="module")
def pcm_seconds(client: openai.OpenAI) -> float:
    pcm = client.audio.speech.create(model="tts-1", voice="alloy", input=TEXT, response_format="pcm").content
    return len(pcm) / 48000  # raw 24 kHz 16-bit mono, as OpenAI sends it


@pytest.mark.parametrize("fmt", ["mp3", "opus", "aac", "flac", "wav"])
def test_every_format_decodes(client: openai.OpenAI, pcm_seconds: float, fmt: str) -> None:
    response = client.audio.speech.create(
        model="tts-1",
        voice="alloy",
        input=TEXT,
        response_format=fmt,  # type: ignore[arg-type]
    )
    assert 3.0 < pcm_seconds < 10.0
    # Piper's durations vary a little from run to run (its noise), encoders pad a little
    assert _seconds(response.content) == pytest.approx(pcm_seconds, rel=0.2)


def test_speech_transcribes_back(client: openai.OpenAI) -> None:
    # Four sentences, so that one word slurred by the voice's random variation (it is on, as a
    # served voice should be) does not decide the test: tiny.en misread one such word in 14 once.
    text = (
        f"{TEXT} The reading room on the second floor is quiet. "
        "Children can join the story hour every Saturday afternoon."
    )
    mp3 = client.audio.speech.create(model="gpt-4o-mini-tts", voice="nova", input=text).content
    heard = client.audio.transcriptions.create(model="whisper-1", file=("speech.mp3", mp3)).text
    assert wer([text], [heard]) <= 0.1, heard


def test_first_bytes_come_before_synthesis_ends(client: openai.OpenAI) -> None:
    started = time.perf_counter()
    first = None
    received = 0
    with client.audio.speech.with_streaming_response.create(
        model="tts-1", voice="echo", input=LONG, response_format="pcm"
    ) as response:
        for data in response.iter_bytes(4096):
            first = first or time.perf_counter() - started
            received += len(data)
    total = time.perf_counter() - started
    assert first is not None and received / 48000 > 60  # a minute and more of speech arrived
    assert first < total / 4, (first, total)


def test_sse(client: openai.OpenAI) -> None:
    with client.audio.speech.with_streaming_response.create(
        model="gpt-4o-mini-tts", voice="coral", input=TEXT, response_format="pcm", stream_format="sse"
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: ")]
    types = [e["type"] for e in events]
    assert types[-1] == "speech.audio.done" and set(types[:-1]) == {"speech.audio.delta"}
    pcm = b"".join(base64.b64decode(e["audio"]) for e in events[:-1])
    assert 3.0 < len(pcm) / 48000 < 10.0
    assert events[-1]["usage"]["input_tokens"] == len(TEXT)


def test_bad_input_is_an_sdk_error_and_the_server_goes_on(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as error:
        client.audio.speech.create(model="tts-1", voice="alloy", input="x" * 4097)
    assert error.value.body["param"] == "input"  # type: ignore[index]
    with pytest.raises(openai.NotFoundError):
        client.audio.speech.create(model="no-such-model", voice="alloy", input="Hello.")
    with pytest.raises(openai.BadRequestError):
        client.audio.speech.create(model="tts-1", voice="nobody", input="Hello.")
    assert len(client.audio.speech.create(model="tts-1", voice="alloy", input="Hello.").content) > 0
