"""decode_audio against hostile uploads: playlist and network demuxers, rate and memory bombs."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from voxrt.audio.decode import MAX_SAMPLE_RATE, SAMPLE_RATE, decode_audio
from voxrt.audio.pcm import wav_bytes
from voxrt.errors import InvalidAudio, UnsupportedMedia, VoxrtError

# FFmpeg's concat demuxer opens the files a playlist names, relative to the working directory.
FFCONCAT = b"ffconcat version 1.0\nfile secret.wav\n"
# FFmpeg's SDP demuxer binds the UDP ports named here and waits for RTP packets.
SDP = (
    b"v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 41234 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)
HLS = b"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nsecret.wav\n#EXT-X-ENDLIST\n"


@pytest.fixture
def secret_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory holding a readable ``secret.wav`` (a tone)."""
    tone = (np.sin(np.arange(SAMPLE_RATE) * 0.2) * 10000).astype(np.int16)
    (tmp_path / "secret.wav").write_bytes(wav_bytes(tone, SAMPLE_RATE))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _refused(data: bytes) -> VoxrtError:
    started = time.perf_counter()
    with pytest.raises((InvalidAudio, UnsupportedMedia)) as info:
        decode_audio(data, max_audio_s=60)
    assert time.perf_counter() - started < 1.0
    assert "unsupported or unrecognised audio" in info.value.message.lower()
    return info.value


@pytest.mark.parametrize("playlist", [FFCONCAT, HLS], ids=["ffconcat", "hls"])
def test_a_playlist_naming_a_server_file_is_refused_alike_whether_the_file_exists(secret_dir, playlist):
    present = _refused(playlist)
    (secret_dir / "secret.wav").unlink()
    missing = _refused(playlist)

    assert (present.status, present.code, present.message) == (missing.status, missing.code, missing.message)
    assert "secret" not in present.message and str(secret_dir) not in present.message


def test_an_sdp_file_is_refused_at_once_without_binding_ports():
    error = _refused(SDP)
    assert error.status in (400, 415)


def _flac_of_silence(seconds: float, rate: int) -> bytes:
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="flac") as container:
        stream: Any = container.add_stream("flac", rate=rate, layout="mono")
        block = np.zeros((1, rate), np.int16)
        for _ in range(int(seconds)):
            frame = av.AudioFrame.from_ndarray(block, format="s16", layout="mono")
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buf.getvalue()


def test_a_rate_above_the_supported_maximum_is_refused_before_decoding():
    data = _flac_of_silence(2, 2 * MAX_SAMPLE_RATE)

    with pytest.raises(UnsupportedMedia) as info:
        decode_audio(data)
    assert str(2 * MAX_SAMPLE_RATE) in info.value.message


_PEAK_SCRIPT = textwrap.dedent(
    """
    import resource, sys
    from voxrt.audio.decode import decode_audio
    from voxrt.errors import VoxrtError
    data = open(sys.argv[1], "rb").read()
    decode_audio(open(sys.argv[2], "rb").read())  # warm: libraries and allocator pools loaded
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        samples = len(decode_audio(data, max_audio_s=float(sys.argv[3])))
    except VoxrtError as exc:
        samples = exc.code
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(samples, (after - before) * 1024)
    """
)


def _peak_growth(tmp_path: Path, data: bytes, max_audio_s: float) -> tuple[str, int]:
    """Decode ``data`` in a fresh interpreter: (samples or error code, peak RSS growth in bytes)."""
    (tmp_path / "input").write_bytes(data)
    (tmp_path / "warm").write_bytes(wav_bytes(np.zeros(SAMPLE_RATE, np.int16), SAMPLE_RATE))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    args = [str(tmp_path / "input"), str(tmp_path / "warm"), str(max_audio_s)]
    out = subprocess.run(
        [sys.executable, "-c", _PEAK_SCRIPT, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=True,
    ).stdout.split()
    return out[0], int(out[1])


def test_a_high_rate_flac_of_silence_peaks_below_500_mb(tmp_path):
    data = _flac_of_silence(300, 384_000)  # 300 s at 384 kHz: 115 M samples, ~460 MB as float32
    assert len(data) < 1_000_000

    result, growth = _peak_growth(tmp_path, data, max_audio_s=1800)
    assert growth < 500 * 2**20, f"{result}: peak RSS grew by {growth / 2**20:.0f} MB"


def test_memory_follows_the_16k_output_not_the_native_rate(tmp_path):
    data = _flac_of_silence(300, MAX_SAMPLE_RATE)  # decoded in full: 300 s at 16 kHz = 19 MB of float32

    result, growth = _peak_growth(tmp_path, data, max_audio_s=1800)
    assert result == str(300 * SAMPLE_RATE)
    assert growth < 120 * 2**20, f"peak RSS grew by {growth / 2**20:.0f} MB"  # native rate: > 460 MB


def test_a_file_at_the_default_duration_limit_peaks_near_twice_its_16k_size(tmp_path):
    data = _flac_of_silence(1800, 48000)  # limits.max_audio_s: 1800 s at 16 kHz = 115 MB of float32

    result, growth = _peak_growth(tmp_path, data, max_audio_s=1800)
    print(f"1800 s of 48 kHz FLAC: {len(data)} bytes, peak RSS growth {growth / 2**20:.0f} MB")
    assert result == str(1800 * SAMPLE_RATE)
    assert growth < 300 * 2**20, f"peak RSS grew by {growth / 2**20:.0f} MB"
