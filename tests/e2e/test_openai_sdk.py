"""The official ``openai`` SDK against a live voxrt process: every response format, streaming, errors."""

from __future__ import annotations

import re
from collections.abc import Iterator

import openai
import pytest

from tests.e2e.conftest import API_KEY, MAX_UPLOAD
from voxrt.bench.corpus import Utterance
from voxrt.bench.server import ServerProcess
from voxrt.bench.wer import wer

pytestmark = pytest.mark.e2e

MAX_WER = 0.10
_CUE_TIME = re.compile(r"^(\d\d):(\d\d):(\d\d)[.,](\d\d\d) --> (\d\d):(\d\d):(\d\d)[.,](\d\d\d)$")


@pytest.fixture(scope="module")
def client(server: ServerProcess) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{server.base_url}/v1", api_key=API_KEY, max_retries=0) as c:
        yield c


def _transcribe(client: openai.OpenAI, utt: Utterance, **kwargs: object) -> object:
    with utt.path.open("rb") as f:
        return client.audio.transcriptions.create(model="whisper-1", file=f, **kwargs)  # type: ignore[call-overload]


def _cues(text: str, duration: float) -> tuple[str, list[tuple[float, float]]]:
    """The spoken text and the (start, end) of each cue of an SRT or WebVTT file."""
    spans, words = [], []
    for line in text.splitlines():
        match = _CUE_TIME.match(line)
        if match:
            h1, m1, s1, ms1, h2, m2, s2, ms2 = map(int, match.groups())
            spans.append((h1 * 3600 + m1 * 60 + s1 + ms1 / 1000, h2 * 3600 + m2 * 60 + s2 + ms2 / 1000))
        elif line.strip() and line.strip() != "WEBVTT" and not line.strip().isdigit():
            words.append(line.strip())
    return " ".join(words), spans


def _assert_times(spans: list[tuple[float, float]], duration: float) -> None:
    assert spans, "no timestamps"
    previous = 0.0
    for start, end in spans:
        assert previous <= start <= end <= duration + 1e-3, (spans, duration)
        previous = start


def test_json_wer(client: openai.OpenAI, corpus: list[Utterance]) -> None:
    texts = [_transcribe(client, u).text for u in corpus]  # type: ignore[attr-defined]
    assert wer([u.text for u in corpus], texts) <= MAX_WER, texts


def test_text(client: openai.OpenAI, corpus: list[Utterance]) -> None:
    texts = [str(_transcribe(client, u, response_format="text")) for u in corpus[:5]]
    assert wer([u.text for u in corpus[:5]], texts) <= MAX_WER, texts


@pytest.mark.parametrize("kind", ["srt", "vtt"])
def test_subtitles(client: openai.OpenAI, corpus: list[Utterance], kind: str) -> None:
    texts = []
    for utt in corpus[:5]:
        body = str(_transcribe(client, utt, response_format=kind))
        assert body.startswith("WEBVTT\n\n" if kind == "vtt" else "1\n")
        text, spans = _cues(body, utt.duration_s)
        _assert_times(spans, utt.duration_s)
        texts.append(text)
    assert wer([u.text for u in corpus[:5]], texts) <= MAX_WER, texts


def test_verbose_json_segments_and_words(client: openai.OpenAI, corpus: list[Utterance]) -> None:
    texts = []
    for utt in corpus[:5]:
        result = _transcribe(client, utt, response_format="verbose_json", timestamp_granularities=["word"])
        assert abs(result.duration - utt.duration_s) < 0.05  # type: ignore[attr-defined]
        _assert_times([(s.start, s.end) for s in result.segments], utt.duration_s)  # type: ignore[attr-defined]
        words = result.words  # type: ignore[attr-defined]
        _assert_times([(w.start, w.end) for w in words], utt.duration_s)
        assert wer([utt.text], [" ".join(w.word for w in words)]) <= MAX_WER
        texts.append(result.text)  # type: ignore[attr-defined]
    assert wer([u.text for u in corpus[:5]], texts) <= MAX_WER, texts
    plain = _transcribe(client, corpus[0], response_format="verbose_json")
    assert not getattr(plain, "words", None)  # words only when asked for


def test_streaming(client: openai.OpenAI, corpus: list[Utterance]) -> None:
    texts = []
    for utt in corpus[:5]:
        events = list(_transcribe(client, utt, stream=True))  # type: ignore[call-overload]
        types = [e.type for e in events]
        assert types[-1] == "transcript.text.done" and set(types[:-1]) == {"transcript.text.delta"}
        assert "".join(e.delta for e in events[:-1]) == events[-1].text
        texts.append(events[-1].text)
    assert wer([u.text for u in corpus[:5]], texts) <= MAX_WER, texts


def test_wrong_key(server: ServerProcess, corpus: list[Utterance]) -> None:
    bad = openai.OpenAI(base_url=f"{server.base_url}/v1", api_key="not-the-key", max_retries=0)
    with bad, pytest.raises(openai.AuthenticationError) as info:
        _transcribe(bad, corpus[0])
    assert info.value.status_code == 401 and info.value.code == "invalid_api_key"


def test_bad_input_through_sdk(client: openai.OpenAI, corpus: list[Utterance]) -> None:
    with pytest.raises(openai.BadRequestError) as bad:
        client.audio.transcriptions.create(model="whisper-1", file=("x.wav", b"not audio at all" * 20))
    assert bad.value.code == "invalid_audio"
    with pytest.raises(openai.APIStatusError) as big:
        client.audio.transcriptions.create(model="whisper-1", file=("big.wav", b"\0" * (MAX_UPLOAD + 10)))
    assert big.value.status_code == 413 and big.value.code == "payload_too_large"
    assert _transcribe(client, corpus[0]).text  # type: ignore[attr-defined]


def test_models(client: openai.OpenAI) -> None:
    models = client.models.list().data
    # the loaded recognizer, the other installed ones, then the language model (voxrt.kind: llm)
    # and the speech models (which list voices)
    kinds = {m.id: (m.model_extra or {}).get("voxrt", {}).get("kind") for m in models}
    assert [m.id for m in models if not hasattr(m, "voices") and kinds[m.id] != "llm"] == ["tiny.en", "base"]
    assert "tts-1" in [m.id for m in models]
