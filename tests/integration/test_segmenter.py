"""The segmenter on real speech: utterance boundaries, every VadSettings knob, limits and memory."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.speech import RATE, noise, sentences, speech_stream
from voxrt.config import VadSettings
from voxrt.vad import Segmenter, SegmenterEvent, SpeechStarted, SpeechStopped, VADModel, create_vad

CHUNK = 320  # 20 ms pushes, as a realtime client sends them


@pytest.fixture(scope="module")
def silero() -> VADModel:
    return create_vad("silero")


def segmenter(model: VADModel, **settings: Any) -> Segmenter:
    return Segmenter(model.stream(), model.frame_samples, VadSettings(**settings))


def run(seg: Segmenter, audio: np.ndarray, chunk: int = CHUNK) -> list[tuple[float, SegmenterEvent]]:
    """Push ``audio`` in chunks, then flush; each event with the ``audio_ms`` at which it came."""
    events = []
    for i in range(0, len(audio), chunk):
        events += [(seg.audio_ms, e) for e in seg.push(audio[i : i + chunk])]
    return events + [(seg.audio_ms, e) for e in seg.flush()]


def utterances(events: list[tuple[float, SegmenterEvent]]) -> list[tuple[int, SpeechStopped, float]]:
    """(audio_start_ms, stop event, audio_ms when it was emitted) per utterance; checks the order."""
    kinds = [type(e) for _, e in events]
    assert kinds == [SpeechStarted, SpeechStopped] * (len(events) // 2)
    out = []
    for (_, start), (at, stop) in zip(events[::2], events[1::2], strict=True):
        assert isinstance(start, SpeechStarted) and isinstance(stop, SpeechStopped)
        out.append((start.audio_start_ms, stop, at))
    return out


def test_five_sentences_with_default_settings(silero: VADModel) -> None:
    stream = speech_stream()
    defaults = VadSettings()
    found = utterances(run(segmenter(silero), stream.audio))
    assert len(found) == 5
    for (start_ms, stop, emitted_at), (first, last) in zip(found, stream.bounds, strict=True):
        true_start, true_end = first / 16, last / 16
        assert true_start - defaults.prefix_padding_ms - 100 <= start_ms <= true_start
        assert abs(stop.audio_end_ms - true_end) <= 300
        assert not stop.forced
        expected = (stop.audio_end_ms - start_ms + defaults.trailing_pad_ms) * 16
        assert abs(len(stop.audio) - expected) <= 512
        # The event comes silence_duration_ms after the end of speech (plus frame and chunk rounding).
        endpoint_ms = emitted_at - stop.audio_end_ms
        assert defaults.silence_duration_ms <= endpoint_ms <= defaults.silence_duration_ms + 32 + 20


@pytest.mark.parametrize(("silence_ms", "count"), [(500, 1), (200, 2)])
def test_short_pause_splits_only_below_silence_duration(silero: VADModel, silence_ms: int, count: int):
    stream = speech_stream(gaps_ms=(300,))
    found = utterances(run(segmenter(silero, silence_duration_ms=silence_ms), stream.audio))
    assert len(found) == count
    assert abs(found[-1][1].audio_end_ms - stream.bounds[-1][1] / 16) <= 300


def test_silence_duration_sets_the_endpoint(silero: VADModel) -> None:
    stream = speech_stream(gaps_ms=(), tail_ms=2000)
    for silence_ms in (300, 1200):
        seg = segmenter(silero, silence_duration_ms=silence_ms)
        [(_, stop, emitted_at)] = utterances(run(seg, stream.audio))
        assert silence_ms <= emitted_at - stop.audio_end_ms <= silence_ms + 52


def test_prefix_padding_moves_the_start(silero: VADModel) -> None:
    stream = speech_stream(gaps_ms=())
    [(start_0, stop_0, _)] = utterances(run(segmenter(silero, prefix_padding_ms=0), stream.audio))
    [(start_500, stop_500, _)] = utterances(run(segmenter(silero, prefix_padding_ms=500), stream.audio))
    assert start_0 - start_500 == 500
    assert len(stop_500.audio) - len(stop_0.audio) == 500 * 16


def test_threshold_decides_what_is_speech() -> None:
    energy = create_vad("energy")
    tone = (0.02 * np.sin(np.arange(3 * RATE) * 2 * np.pi * 220 / RATE)).astype(np.float32)
    frame_prob = float(energy.stream().probabilities(tone[:320][None, :])[0])  # about 0.73
    assert len(run(segmenter(energy, threshold=frame_prob - 0.1), tone)) == 2
    assert run(segmenter(energy, threshold=frame_prob + 0.1), tone) == []


@pytest.mark.parametrize(
    ("level", "color"), [(-60.0, "white"), (-25.0, "white"), (-25.0, "pink"), (-25.0, "brown")]
)
def test_noise_emits_nothing(silero: VADModel, level: float, color: str) -> None:
    assert run(segmenter(silero), noise(20 * RATE, level, color, seed=7)) == []


def test_bursts_shorter_than_min_speech_emit_nothing(silero: VADModel) -> None:
    background = noise(4 * RATE, -60.0, seed=1)
    burst = background.copy()
    burst[RATE : RATE + 1600] += noise(1600, -10.0, seed=2)  # 100 ms of loud noise
    energy = create_vad("energy")
    assert run(segmenter(energy), burst) == []  # min_speech_duration_ms=250
    assert len(run(segmenter(energy, min_speech_duration_ms=60), burst)) == 2
    click = background.copy()
    click[RATE : RATE + 80] = 0.9  # a 5 ms click
    assert run(segmenter(silero), click) == []
    word = sentences()[0][:2400]  # the first 150 ms of a sentence
    snippet = np.concatenate([background, word, background])
    assert run(segmenter(silero, min_speech_duration_ms=600), snippet) == []


@pytest.mark.parametrize("gap_ms", [0, 150])
def test_max_utterance_cuts_long_speech(silero: VADModel, gap_ms: int) -> None:
    stream = speech_stream(gaps_ms=(gap_ms,) * 3, tail_ms=1000)
    assert len(stream.audio) / RATE > 11.5
    found = utterances(run(segmenter(silero, max_utterance_s=5), stream.audio))
    assert len(found) >= 3
    for index, (start_ms, stop, _) in enumerate(found):
        assert stop.audio_end_ms - start_ms <= 5000 + 32
        if stop.forced:  # cut mid-speech: no trailing pad, and the next utterance starts at the cut
            assert stop.audio_end_ms - start_ms > 5000 - 32
            assert len(stop.audio) == (stop.audio_end_ms - start_ms) * 16
            assert found[index + 1][0] == stop.audio_end_ms
        elif index < len(found) - 1:
            # Cut at the first unvoiced frame past 80% (4 s); its speech ended under 500 ms before.
            assert stop.audio_end_ms - start_ms > 4000 - 500


def test_max_utterance_forces_cuts_in_endless_sound() -> None:
    energy = create_vad("energy")
    loud = noise(12 * RATE, -20.0, seed=4)
    found = utterances(run(segmenter(energy, max_utterance_s=5, prefix_padding_ms=0), loud))
    assert [(start, stop.audio_end_ms, stop.forced) for start, stop, _ in found] == [
        (0, 5000, True),
        (5000, 10000, True),
        (10000, 12000, False),  # the flush at the end of the stream
    ]
    assert [len(stop.audio) for _, stop, _ in found] == [80000, 80000, 32000]


def test_flush_ends_an_open_utterance(silero: VADModel) -> None:
    stream = speech_stream(gaps_ms=(), tail_ms=0)
    seg = segmenter(silero)
    events = [e for i in range(0, len(stream.audio), CHUNK) for e in seg.push(stream.audio[i : i + CHUNK])]
    assert [type(e) for e in events] == [SpeechStarted]
    assert isinstance(events[0], SpeechStarted)
    assert seg.in_speech and seg.trailing_silence_ms < 200
    assert len(seg.utterance_audio()) == len(stream.audio) - events[0].audio_start_ms * 16
    [stop] = seg.flush()
    assert isinstance(stop, SpeechStopped) and not stop.forced
    assert abs(stop.audio_end_ms - stream.bounds[0][1] / 16) <= 100
    assert not seg.in_speech and len(seg.utterance_audio()) == 0
    assert seg.flush() == []


def test_reset_drops_everything(silero: VADModel) -> None:
    stream = speech_stream(gaps_ms=())
    seg = segmenter(silero)
    seg.push(stream.audio[: 3 * RATE])
    assert seg.in_speech and seg.audio_ms == 3000
    seg.reset()
    assert not seg.in_speech and seg.audio_ms == 0 and seg.trailing_silence_ms == 0
    assert len(seg.utterance_audio()) == 0 and seg.flush() == []
    assert run(seg, stream.audio) == run(segmenter(silero), stream.audio)


def test_properties_track_the_stream(silero: VADModel) -> None:
    stream = speech_stream(gaps_ms=(), tail_ms=400)
    seg = segmenter(silero)
    assert seg.push(stream.audio[:100]) == [] and seg.audio_ms == pytest.approx(100 / 16)
    seg.push(stream.audio[100 : stream.bounds[0][1]])
    assert seg.in_speech
    seg.push(stream.audio[stream.bounds[0][1] :])
    # 400 ms of tail, plus up to two frames where silero already called the last sounds silence.
    assert seg.in_speech and 150 < seg.trailing_silence_ms <= 400 + 64
    with pytest.raises(ValueError, match="mono"):
        seg.push(np.zeros((2, 320), np.float32))
    with pytest.raises(ValueError, match="512"):
        Segmenter(silero.stream(), 320, VadSettings())


def test_memory_stays_bounded() -> None:
    energy = create_vad("energy")
    seg = segmenter(energy)
    quiet, loud = noise(RATE, -60.0, seed=5), noise(40 * RATE, -20.0, seed=6)
    biggest = 0
    for _ in range(600):  # ten minutes of silence, in 20 ms chunks
        for i in range(0, RATE, CHUNK):
            assert seg.push(quiet[i : i + CHUNK]) == []
        biggest = max(biggest, seg._history.capacity)
    assert biggest <= RATE and seg.audio_ms == 600_000
    run(seg, loud)  # 40 s of sound: one 30 s utterance held, then cut
    for i in range(0, RATE, CHUNK):
        seg.push(quiet[i : i + CHUNK])
    assert seg._history.capacity <= RATE  # the long utterance's memory was given back
