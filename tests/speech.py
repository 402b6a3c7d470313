"""Real speech for the tests: Piper sentences at 16 kHz over low noise with the true start and end
of each sentence (VAD and streaming), and any text spoken as 16-bit PCM (conversations)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from voxrt.audio import resample
from voxrt.audio.pcm import to_float32, to_int16
from voxrt.bench.corpus import SENTENCES, synthesize

RATE = 16000
# Speech edges: the first and last sample of a clean sentence above -40 dBFS.
EDGE_AMPLITUDE = 0.01
NOISE_DBFS = -60.0


@dataclass(frozen=True)
class SpeechStream:
    """Noisy 16 kHz audio and the true (start, end) sample of each sentence in it."""

    audio: np.ndarray
    bounds: tuple[tuple[int, int], ...]


@functools.cache
def sentences() -> tuple[np.ndarray, ...]:
    """Five Piper sentences at 16 kHz, trimmed to their speech edges (synthesized once)."""
    out = []
    for text in SENTENCES[:5]:
        samples, rate = synthesize(text, exact=True)
        audio = resample(to_float32(samples), rate, RATE)
        voiced = np.flatnonzero(np.abs(audio) > EDGE_AMPLITUDE)
        out.append(audio[voiced[0] : voiced[-1] + 1])
    return tuple(out)


def pcm16(audio: np.ndarray, rate: int = 24000) -> bytes:
    """16 kHz float ``audio`` as 16-bit little-endian PCM at ``rate``, as a realtime client sends it."""
    return to_int16(resample(audio, RATE, rate) if rate != RATE else audio).tobytes()


def noise(n: int, dbfs: float, color: str = "white", seed: int = 0) -> np.ndarray:
    """``n`` samples of seeded Gaussian noise at an RMS level; pink/brown: 1/f and 1/f^2 in power."""
    white = np.random.default_rng(seed).normal(0.0, 1.0, n)
    if color != "white":
        spectrum = np.fft.rfft(white)
        freqs = np.arange(len(spectrum), dtype=np.float64)
        freqs[0] = np.inf  # no DC offset
        spectrum /= np.sqrt(freqs) if color == "pink" else freqs
        white = np.fft.irfft(spectrum, n)
    scaled = white / np.sqrt(np.mean(white**2)) * 10 ** (dbfs / 20)
    return np.asarray(scaled, dtype=np.float32)


def speech_stream(
    gaps_ms: tuple[int, ...] = (1000, 1000, 1000, 1000),
    lead_ms: int = 1000,
    tail_ms: int = 1500,
    seed: int = 0,
) -> SpeechStream:
    """``len(gaps_ms) + 1`` sentences with those silences between them, over -60 dBFS noise."""
    parts = [np.zeros(lead_ms * 16, np.float32)]
    bounds = []
    position = len(parts[0])
    for index, sentence in enumerate(sentences()[: len(gaps_ms) + 1]):
        silence = gaps_ms[index] if index < len(gaps_ms) else tail_ms
        bounds.append((position, position + len(sentence)))
        parts += [sentence, np.zeros(silence * 16, np.float32)]
        position += len(sentence) + silence * 16
    clean = np.concatenate(parts)
    return SpeechStream(clean + noise(len(clean), NOISE_DBFS, seed=seed), tuple(bounds))


def spoken_pcm(text: str, rate: int = 24000) -> bytes:
    """``text`` spoken by Piper, as 16-bit little-endian PCM at ``rate``."""
    samples, native = synthesize(text, exact=True)
    audio = resample(samples.astype(np.float32) / 32768.0, native, rate)
    return (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()
