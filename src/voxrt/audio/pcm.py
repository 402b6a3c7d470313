"""Raw audio formats of the realtime protocol (16-bit PCM, G.711 mu-law and A-law) and a
streaming resampler to the recognizer's 16 kHz."""

from __future__ import annotations

import functools
import io
import wave
from dataclasses import dataclass
from typing import Literal

import numpy as np
import soxr

from voxrt.audio.decode import SAMPLE_RATE
from voxrt.errors import InvalidAudio

__all__ = ["AudioFormat", "StreamDecoder", "to_float32", "to_int16", "wav_bytes"]

FormatType = Literal["audio/pcm", "audio/pcmu", "audio/pcma"]


# One float <-> int16 convention for the whole project (as WAV writers and most codecs use it):
# int16 to float divides by 32768, so -32768 maps to -1.0 exactly and every value stays in
# [-1, 1); float to int16 clips to [-1, 1], scales by 32767 and truncates toward zero, so 1.0
# maps to 32767 and -1.0 to -32767 and nothing wraps around.
def to_int16(samples: np.ndarray) -> np.ndarray:
    """Float samples (nominally in [-1, 1]) as little-endian int16: clipped to [-1, 1], times
    32767, truncated toward zero. ``.tobytes()`` of the result is 16-bit PCM."""
    return (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")


def to_float32(pcm: bytes | bytearray | memoryview | np.ndarray) -> np.ndarray:
    """16-bit samples (little-endian PCM bytes, or an integer array) as float32 divided by 32768,
    so in [-1, 1).

    Raises:
        ValueError: bytes of an odd length (half a sample).
    """
    samples = pcm if isinstance(pcm, np.ndarray) else np.frombuffer(pcm, dtype="<i2")
    return samples.astype(np.float32) / 32768.0


def _mulaw_table() -> np.ndarray:
    codes = ~np.arange(256, dtype=np.uint8)
    exponent = (codes >> 4) & 0x07
    mantissa = (codes & 0x0F).astype(np.int32)
    magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return to_float32(np.where(codes & 0x80, -magnitude, magnitude))


def _alaw_table() -> np.ndarray:
    codes = np.arange(256, dtype=np.uint8) ^ 0x55
    exponent = ((codes >> 4) & 0x07).astype(np.int32)
    mantissa = (codes & 0x0F).astype(np.int32)
    magnitude = np.where(
        exponent == 0, (mantissa << 4) + 8, ((mantissa << 4) + 0x108) << np.maximum(exponent - 1, 0)
    )
    return to_float32(np.where(codes & 0x80, magnitude, -magnitude))


def wav_bytes(samples: np.ndarray, rate: int) -> bytes:
    """Mono samples (int16, or float in [-1, 1]) as the bytes of a 16-bit PCM WAV file."""
    if samples.dtype.kind == "f":
        samples = to_int16(samples)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.astype("<i2").tobytes())
    return buffer.getvalue()


_G711 = {"audio/pcmu": _mulaw_table(), "audio/pcma": _alaw_table()}


@functools.cache
def _g711_encoder(kind: str) -> np.ndarray:
    """For each 16-bit sample value (offset by 32768), the G.711 code that decodes nearest to it."""
    decoded = _G711[kind] * 32768.0
    order = np.argsort(decoded, kind="stable")
    levels = decoded[order]
    values = np.arange(-32768, 32768, dtype=np.float32)
    upper = np.clip(np.searchsorted(levels, values), 1, len(levels) - 1)
    nearer_lower = values - levels[upper - 1] < levels[upper] - values
    codes: np.ndarray = order[np.where(nearer_lower, upper - 1, upper)].astype(np.uint8)
    return codes


@dataclass(frozen=True)
class AudioFormat:
    """An input format: ``audio/pcm`` (16-bit little-endian mono at ``rate``) or G.711 at 8 kHz."""

    type: FormatType = "audio/pcm"
    rate: int = 24000

    @property
    def bytes_per_sample(self) -> int:
        return 2 if self.type == "audio/pcm" else 1

    def decode(self, data: bytes) -> np.ndarray:
        """float32 samples at ``rate``.

        Raises:
            InvalidAudio: 16-bit PCM with an odd number of bytes.
        """
        if self.type == "audio/pcm":
            if len(data) % 2:
                raise InvalidAudio("audio/pcm needs whole 16-bit samples (an even number of bytes).")
            return to_float32(data)
        return _G711[self.type][np.frombuffer(data, dtype=np.uint8)]

    def encode(self, samples: np.ndarray) -> bytes:
        """float32 samples in [-1, 1] at ``rate`` as bytes of this format."""
        pcm = to_int16(samples)
        if self.type == "audio/pcm":
            return pcm.tobytes()
        return _g711_encoder(self.type)[pcm.astype(np.int32) + 32768].tobytes()


class StreamDecoder:
    """Per-session: raw chunks in the session's format in, float32 16 kHz out, filter state kept
    across chunks so chunk boundaries leave no clicks."""

    def __init__(self, audio_format: AudioFormat) -> None:
        self.format = audio_format
        self._resampler = (
            None
            if audio_format.rate == SAMPLE_RATE
            else soxr.ResampleStream(audio_format.rate, SAMPLE_RATE, 1, dtype="float32", quality="HQ")
        )

    def push(self, data: bytes) -> np.ndarray:
        samples = self.format.decode(data)
        if self._resampler is None:
            return samples
        return np.asarray(self._resampler.resample_chunk(samples), dtype=np.float32)
