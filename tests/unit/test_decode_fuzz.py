"""Property-based fuzzing of the audio decoder: whatever the bytes, a typed error or bounded audio.

Inputs are mutations of small valid files in every accepted container (bit flips, overwritten,
inserted and deleted runs, truncation, splices of two files), playlist and SDP texts, and raw
bytes. 10^4 of them run in well under a minute here.
"""

from __future__ import annotations

import io
from typing import Any

import av
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voxrt.audio.decode import SAMPLE_RATE, decode_audio
from voxrt.errors import VoxrtError

MAX_AUDIO_S = 2.0
EXAMPLES = 10_000


def _encode(fmt: str, codec: str, rate: int) -> bytes:
    t = np.arange(int(0.25 * rate)) / rate
    tone = (np.sin(2 * np.pi * 330 * t) * 8000).astype(np.int16).reshape(1, -1)
    buf = io.BytesIO()
    with av.open(buf, mode="w", format=fmt) as container:
        stream: Any = container.add_stream(codec, rate=rate, layout="mono")
        frame = av.AudioFrame.from_ndarray(tone, format="s16", layout="mono")
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    return buf.getvalue()


SEEDS = [
    _encode("wav", "pcm_s16le", 16000),
    _encode("wav", "adpcm_ima_wav", 8000),
    _encode("flac", "flac", 44100),
    _encode("mp3", "libmp3lame", 22050),
    _encode("ogg", "libopus", 48000),
    _encode("webm", "libopus", 48000),
    _encode("ipod", "aac", 24000),
    _encode("adts", "aac", 16000),
    b"ffconcat version 1.0\nfile secret.wav\n",
    b"v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 41234 RTP/AVP 0\r\n",
    b"#EXTM3U\n#EXTINF:1,\nhttp://127.0.0.1/a.wav\n",
]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["flip", "overwrite", "insert", "delete", "truncate", "splice"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "overwrite":
            chunk = draw(st.binary(min_size=1, max_size=16))
            data[at : at + len(chunk)] = chunk
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 64))]
        elif kind == "truncate":
            del data[at:]
        else:
            other = draw(st.sampled_from(SEEDS))
            data[at:] = other[draw(st.integers(0, len(other) - 1)) :]
    return bytes(data)


@pytest.mark.filterwarnings("ignore")
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.one_of(mutated(), st.binary(max_size=4096)))
def test_any_bytes_decode_to_bounded_audio_or_a_typed_error(data: bytes) -> None:
    try:
        audio = decode_audio(data, max_audio_s=MAX_AUDIO_S)
    except VoxrtError as exc:
        assert 400 <= exc.status < 500 and exc.message
        return
    assert audio.dtype == np.float32 and audio.ndim == 1 and len(audio) > 0
    assert len(audio) <= MAX_AUDIO_S * SAMPLE_RATE + SAMPLE_RATE // 10
    assert np.isfinite(audio).all()
