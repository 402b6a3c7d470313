"""VAD engines on real speech (Piper sentences) and on noise."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest

from tests.speech import RATE, noise, speech_stream
from voxrt.vad import VADModel, create_vad
from voxrt.vad.energy import EnergyVAD
from voxrt.vad.webrtc import WebRtcVAD


def frames_of(model: VADModel, audio: np.ndarray) -> np.ndarray:
    """The complete frames of ``audio`` for ``model``, shaped (n, frame_samples)."""
    n = len(audio) // model.frame_samples
    return audio[: n * model.frame_samples].reshape(n, model.frame_samples)


@pytest.fixture(scope="module")
def silero() -> VADModel:
    return create_vad("silero")


def test_create_vad_names_each_engine() -> None:
    assert {name: create_vad(name).frame_samples for name in ("silero", "webrtc", "energy")} == {
        "silero": 512,
        "webrtc": 480,
        "energy": 320,
    }
    with pytest.raises(ValueError, match="unknown VAD engine"):
        create_vad("nope")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("engine", "speech_above", "gap_below"),
    # Measured (mean in speech / mean in gaps): silero ~0.91 / 0.02, webrtc ~0.99 / 0.02,
    # energy ~0.83 / 0.001 (quiet consonants fall under -40 dBFS).
    [("silero", 0.8, 0.1), ("webrtc", 0.8, 0.15), ("energy", 0.65, 0.05)],
)
def test_probabilities_high_in_speech_low_in_gaps(engine: str, speech_above: float, gap_below: float):
    model = create_vad(engine)  # type: ignore[arg-type]
    stream = speech_stream()
    frames = frames_of(model, stream.audio)
    probs = model.stream().probabilities(frames)
    assert probs.shape == (len(frames),) and probs.dtype == np.float32
    assert np.all((probs >= 0) & (probs <= 1))
    starts = np.arange(len(frames)) * model.frame_samples
    ends = starts + model.frame_samples
    inside = np.zeros(len(frames), bool)
    gap = np.ones(len(frames), bool)
    for first, last in stream.bounds:
        inside |= (starts >= first) & (ends <= last)
        gap &= (ends <= first - 3200) | (starts >= last + 3200)  # 200 ms clear of speech
    print(f"{engine}: speech mean {probs[inside].mean():.3f}, gap mean {probs[gap].mean():.3f}")
    assert probs[inside].mean() > speech_above
    assert probs[gap].mean() < gap_below


def test_probabilities_check_frame_shape(silero: VADModel) -> None:
    stream = silero.stream()
    assert stream.probabilities(np.zeros((0, 512), np.float32)).shape == (0,)
    with pytest.raises(ValueError, match=r"\(n, 512\)"):
        stream.probabilities(np.zeros((2, 480), np.float32))
    with pytest.raises(ValueError):
        stream.probabilities(np.zeros(512, np.float32))


def test_silero_streaming_matches_one_call(silero: VADModel) -> None:
    frames = frames_of(silero, speech_stream(gaps_ms=(500,)).audio)
    whole = silero.stream().probabilities(frames)
    one_stream = silero.stream()
    one_by_one = np.concatenate([one_stream.probabilities(frames[i : i + 1]) for i in range(len(frames))])
    uneven_stream = silero.stream()
    cuts = [0, 1, 4, 5, 17, 60, 61, 200, len(frames)]
    uneven = np.concatenate([uneven_stream.probabilities(frames[a:b]) for a, b in itertools.pairwise(cuts)])
    np.testing.assert_allclose(one_by_one, whole, atol=1e-5)
    np.testing.assert_allclose(uneven, whole, atol=1e-5)


def test_silero_streams_are_independent_and_reset(silero: VADModel) -> None:
    frames = frames_of(silero, speech_stream(gaps_ms=()).audio)
    expected = silero.stream().probabilities(frames)
    first, second = silero.stream(), silero.stream()
    second.probabilities(frames[::-1])  # unrelated audio on a stream sharing the session
    first_probs = first.probabilities(frames)
    second.reset()
    np.testing.assert_allclose(first_probs, expected, atol=1e-5)
    np.testing.assert_allclose(second.probabilities(frames), expected, atol=1e-5)


@pytest.mark.parametrize("color", ["white", "pink", "brown"])
def test_silero_ignores_moderate_noise(silero: VADModel, color: str) -> None:
    # Measured at -25 dBFS: white mean 0.03 / max 0.17, pink 0.007 / 0.06, brown 0.002 / 0.03.
    probs = silero.stream().probabilities(frames_of(silero, noise(20 * RATE, -25.0, color, seed=3)))
    print(f"silero on {color} noise at -25 dBFS: mean {probs.mean():.3f}, max {probs.max():.3f}")
    assert probs.mean() < 0.1
    assert probs.max() < 0.4


def test_webrtc_mode_is_checked() -> None:
    with pytest.raises(ValueError, match="mode"):
        WebRtcVAD(mode=4)
    assert WebRtcVAD(mode=0).mode == 0


def test_energy_probability_follows_level() -> None:
    def prob(model: EnergyVAD, dbfs: float) -> float:
        tone = np.sqrt(2) * 10 ** (dbfs / 20) * np.sin(np.arange(320) * 2 * np.pi * 200 / RATE)
        return float(model.stream().probabilities(tone[None, :].astype(np.float32))[0])

    default = EnergyVAD()
    assert prob(default, -40.0) == pytest.approx(0.5, abs=0.01)
    assert prob(default, -30.0) > 0.95 and prob(default, -50.0) < 0.05
    assert prob(EnergyVAD(level_dbfs=-20.0), -30.0) < 0.05  # the level is a real setting
    zeros = default.stream().probabilities(np.zeros((1, 320), np.float32))
    assert np.isfinite(zeros).all() and zeros[0] < 1e-6  # digital silence: no log(0)
    with pytest.raises(ValueError):
        EnergyVAD(width_db=0)


def test_silero_batching_speed(silero: VADModel) -> None:
    frames = frames_of(silero, speech_stream(gaps_ms=(1000,)).audio)
    # 20 ms pushes hand the model 0 or 1 frame a call; a 200 ms chunk of them, about 6.
    costs = {}
    for batch in (1, 6, len(frames)):
        stream = silero.stream()
        started = time.perf_counter()
        for i in range(0, len(frames), batch):
            stream.probabilities(frames[i : i + batch])
        costs[batch] = (time.perf_counter() - started) / len(frames)
    print("silero per-frame cost:", ", ".join(f"{b} frames/call {c * 1e6:.0f} us" for b, c in costs.items()))
    assert all(cost < 0.032 for cost in costs.values())  # faster than real time, generously
