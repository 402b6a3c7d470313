"""Streaming audio encoders for synthesized speech: float32 mono chunks in, bytes of the
container out as they are ready (PyAV for mp3, opus, aac and flac)."""

from __future__ import annotations

import struct
from typing import Literal, get_args

import av
import numpy as np

from voxrt.audio.pcm import to_int16

__all__ = ["MEDIA_TYPES", "SPEECH_FORMATS", "SpeechFormat", "StreamEncoder", "wav_header"]

SpeechFormat = Literal["mp3", "opus", "aac", "flac", "wav", "pcm"]
SPEECH_FORMATS: tuple[str, ...] = get_args(SpeechFormat)
MEDIA_TYPES: dict[str, str] = {
    "mp3": "audio/mpeg",
    "opus": "audio/ogg",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}
# container and codec per format
_PYAV: dict[str, tuple[str, str]] = {
    "mp3": ("mp3", "libmp3lame"),
    "opus": ("ogg", "libopus"),
    "aac": ("adts", "aac"),
    "flac": ("flac", "flac"),
}
_UNKNOWN_SIZE = 0xFFFFFFFF  # a streamed WAV's sizes are unknown when its header is sent


def wav_header(rate: int) -> bytes:
    """The header of a 16-bit mono WAV stream of unknown length (what OpenAI streams)."""
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    return (
        b"RIFF"
        + struct.pack("<I", _UNKNOWN_SIZE)
        + b"WAVEfmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"data"
        + struct.pack("<I", _UNKNOWN_SIZE)
    )


class _Sink:
    """A write-only file for PyAV: what the muxer wrote since the last ``take``."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        out, self._parts = b"".join(self._parts), []
        return out


class StreamEncoder:
    """Encode one stream: ``encode`` each chunk (returns the bytes ready so far, maybe none), then
    ``finish`` once (the rest). ``pcm`` is raw 16-bit little-endian mono; ``wav`` the same after
    a header with unknown sizes; the others are PyAV containers at ``rate``."""

    def __init__(self, fmt: SpeechFormat, rate: int) -> None:
        self.format = fmt
        self.rate = rate
        self.media_type = MEDIA_TYPES[fmt]
        self._header = wav_header(rate) if fmt == "wav" else b""
        self._samples = 0
        self._sink: _Sink | None = None
        self._container: av.container.OutputContainer | None = None
        self._stream: av.audio.stream.AudioStream | None = None
        if fmt in _PYAV:
            container, codec = _PYAV[fmt]
            self._sink = _Sink()
            # ogg holds a page back until a second of audio by default: flush every 100 ms
            options = {"page_duration": "100000"} if container == "ogg" else {}
            self._container = av.open(self._sink, mode="w", format=container, options=options)
            stream = self._container.add_stream(codec, rate=rate, layout="mono")
            assert isinstance(stream, av.audio.stream.AudioStream)
            if fmt != "flac":
                stream.bit_rate = 64000
            self._stream = stream

    def encode(self, samples: np.ndarray) -> bytes:
        """Bytes for ``samples`` (float32 mono in [-1, 1] at ``rate``); an encoder may hold some back."""
        head, self._header = self._header, b""
        if self._container is None:
            return head + to_int16(samples).tobytes()
        return head + self._mux(samples)

    def finish(self) -> bytes:
        """The rest of the stream (encoder delay, container trailer)."""
        head, self._header = self._header, b""
        if self._container is None or self._stream is None or self._sink is None:
            return head
        for packet in self._stream.encode(None):
            self._container.mux(packet)
        self._container.close()
        self._container = None
        return head + self._sink.take()

    def close(self) -> None:
        """Release the encoder without finishing the stream (the client went away)."""
        if self._container is not None:
            self._container.close()
            self._container = None

    def _mux(self, samples: np.ndarray) -> bytes:
        assert self._stream is not None and self._container is not None and self._sink is not None
        if len(samples) == 0:
            return b""
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples, dtype=np.float32).reshape(1, -1), format="flt", layout="mono"
        )
        frame.sample_rate = self.rate
        frame.pts = self._samples
        self._samples += len(samples)
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        return self._sink.take()
