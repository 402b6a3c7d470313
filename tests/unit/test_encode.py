"""Streaming encoders for synthesized speech: every format decodes back to the audio's length at
the rate in its header, and bytes come out before the stream ends."""

from __future__ import annotations

import io
import struct

import av
import numpy as np
import pytest

from voxrt.audio.encode import SPEECH_FORMATS, StreamEncoder

RATE = 24000


def _tone(seconds: float) -> np.ndarray:
    t = np.arange(int(RATE * seconds)) / RATE
    return (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


def _encode(fmt: str, audio: np.ndarray, piece: int = 4800) -> list[bytes]:
    encoder = StreamEncoder(fmt, RATE)  # type: ignore[arg-type]
    parts = [encoder.encode(audio[i : i + piece]) for i in range(0, len(audio), piece)]
    return [*parts, encoder.finish()]


@pytest.mark.parametrize("fmt", [f for f in SPEECH_FORMATS if f != "pcm"])
def test_each_container_decodes_to_the_duration(fmt: str) -> None:
    data = b"".join(_encode(fmt, _tone(3.0)))
    with av.open(io.BytesIO(data), mode="r") as container:
        stream = container.streams.audio[0]
        samples = sum(int(frame.samples) for frame in container.decode(stream))
        rate = stream.rate
    # opus decodes at 48 kHz whatever it was fed; the others keep the 24 kHz they were given
    assert rate == (48000 if fmt == "opus" else RATE)
    assert samples / rate == pytest.approx(3.0, abs=0.1)


def test_pcm_is_raw_16_bit_little_endian() -> None:
    audio = np.array([0.0, 0.5, -0.5, 1.5], dtype=np.float32)
    assert b"".join(_encode("pcm", audio)) == struct.pack("<4h", 0, 16383, -16383, 32767)


def test_wav_header_has_the_true_rate_and_unknown_sizes() -> None:
    data = b"".join(_encode("wav", _tone(0.5)))
    assert data[:4] == b"RIFF" and data[8:16] == b"WAVEfmt "
    channels, rate = struct.unpack("<HI", data[22:28])
    assert (channels, rate) == (1, RATE)
    assert data[36:40] == b"data" and data[40:44] == b"\xff\xff\xff\xff"
    assert len(data) == 44 + 2 * int(RATE * 0.5)


@pytest.mark.parametrize("fmt", SPEECH_FORMATS)
def test_bytes_stream_before_the_end(fmt: str) -> None:
    parts = _encode(fmt, _tone(2.0))
    assert sum(len(p) for p in parts[:-1]) > 0, "everything was held until finish()"


@pytest.mark.parametrize("fmt", SPEECH_FORMATS)
def test_close_without_finishing(fmt: str) -> None:
    encoder = StreamEncoder(fmt, RATE)  # type: ignore[arg-type]
    encoder.encode(_tone(0.5))
    encoder.close()
    encoder.close()  # twice is harmless
