"""decode_audio, decode_base64 and resample on real speech in the containers clients send."""

from __future__ import annotations

import base64
import io
import random
from typing import Any

import av
import numpy as np
import pytest

from voxrt.audio.decode import SAMPLE_RATE, decode_audio, decode_base64, resample
from voxrt.audio.pcm import to_float32
from voxrt.errors import AudioTooLong, InvalidAudio, UnsupportedMedia

TEXT = "The quick brown fox jumps over the lazy dog."


@pytest.fixture(scope="module")
def speech() -> tuple[np.ndarray, int]:
    from voxrt.bench.corpus import synthesize

    return synthesize(TEXT)


@pytest.fixture(scope="module")
def reference(speech: tuple[np.ndarray, int]) -> np.ndarray:
    """The original speech as float32 at 16 kHz."""
    samples, rate = speech
    return resample(to_float32(samples), rate)


def _encode(
    samples: np.ndarray, rate: int, fmt: str, codec: str, *, out_rate: int | None = None, stereo: bool = False
) -> bytes:
    """Encode mono int16 ``samples`` in memory; PyAV converts to the codec's rate, format and frame size."""
    layout = "stereo" if stereo else "mono"
    planes = np.repeat(samples[:, None], 2, axis=1).reshape(1, -1) if stereo else samples.reshape(1, -1)
    buf = io.BytesIO()
    with av.open(buf, mode="w", format=fmt) as container:
        stream: Any = container.add_stream(codec, rate=out_rate or rate, layout=layout)
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(planes), format="s16", layout=layout)
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    return buf.getvalue()


def _tone(seconds: float, rate: int = SAMPLE_RATE, freq: float = 440.0) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return (np.sin(2 * np.pi * freq * t) * 10000).astype(np.int16)


def _aligned_correlation(a: np.ndarray, b: np.ndarray, max_lag: int) -> float:
    """Best normalised cross-correlation of ``a`` and ``b`` within ``max_lag`` samples either way."""
    n = len(a) + len(b)
    xc = np.fft.irfft(np.fft.rfft(a, n) * np.conj(np.fft.rfft(b, n)), n)
    near = np.concatenate([xc[: max_lag + 1], xc[-max_lag:]])
    return float(near.max() / (np.linalg.norm(a) * np.linalg.norm(b)))


# Lossless formats keep the length exactly. Lossy codecs may add priming and padding: mp3 (LAME
# header) and opus (pre-skip, end granule) are trimmed on decode; AAC in mp4 is not: 1024 priming
# samples plus up to 1023 of padding to a whole frame, up to 93 ms at Piper's 22.05 kHz.
FORMATS = [
    pytest.param("wav", "pcm_s16le", None, None, id="wav-s16"),
    pytest.param("wav", "pcm_f32le", None, None, id="wav-f32"),
    pytest.param("flac", "flac", None, None, id="flac"),
    pytest.param("mp3", "libmp3lame", None, 0.08, id="mp3"),
    pytest.param("ogg", "libopus", 48000, 0.08, id="ogg-opus"),
    pytest.param("webm", "libopus", 48000, 0.08, id="webm-opus"),
    pytest.param("ipod", "aac", None, 0.1, id="m4a-aac"),
]


@pytest.mark.parametrize(("fmt", "codec", "out_rate", "lossy_tolerance_s"), FORMATS)
def test_decodes_speech_to_16k_mono(speech, reference, fmt, codec, out_rate, lossy_tolerance_s):
    samples, rate = speech
    audio = decode_audio(_encode(samples, rate, fmt, codec, out_rate=out_rate))

    assert audio.dtype == np.float32
    assert audio.ndim == 1
    duration_error = abs(len(audio) / SAMPLE_RATE - len(samples) / rate)
    if lossy_tolerance_s is None:
        assert duration_error < 1e-3
        n = min(len(audio), len(reference))
        assert np.max(np.abs(audio[:n] - reference[:n])) < 1e-3
    else:
        assert duration_error <= lossy_tolerance_s
        assert _aligned_correlation(audio, reference, max_lag=int(0.1 * SAMPLE_RATE)) > 0.97


def test_stereo_44k_wav_is_downmixed_and_resampled(speech, reference):
    samples, rate = speech
    audio = decode_audio(_encode(samples, rate, "wav", "pcm_s16le", out_rate=44100, stereo=True))

    assert audio.ndim == 1
    assert abs(len(audio) / SAMPLE_RATE - len(samples) / rate) <= 0.01
    n = min(len(audio), len(reference))
    assert np.corrcoef(audio[:n], reference[:n])[0, 1] > 0.99


def test_wav_truncated_mid_data_decodes_what_is_there(speech, reference):
    samples, rate = speech
    wav = _encode(samples, rate, "wav", "pcm_s16le")
    data_start = wav.index(b"data") + 8
    kept_samples = (len(wav) - data_start) // 4  # half of the 2-byte samples
    audio = decode_audio(wav[: data_start + 2 * kept_samples])

    assert abs(len(audio) / SAMPLE_RATE - kept_samples / rate) < 0.01
    n = min(len(audio), len(reference)) - 200  # leave out the resampler's edge at the cut
    assert np.max(np.abs(audio[:n] - reference[:n])) < 1e-3


def _invalid(data: bytes) -> InvalidAudio:
    with pytest.raises(InvalidAudio) as info:
        decode_audio(data)
    assert info.value.status == 400
    assert info.value.code == "invalid_audio"
    return info.value


def test_empty_bytes_are_invalid():
    _invalid(b"")


def test_random_bytes_are_invalid():
    _invalid(random.Random(0).randbytes(8192))


def test_wav_truncated_inside_header_is_invalid(speech):
    samples, rate = speech
    _invalid(_encode(samples, rate, "wav", "pcm_s16le")[:30])


def _png() -> bytes:
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="image2pipe") as container:
        stream: Any = container.add_stream("png", rate=1)
        stream.width, stream.height, stream.pix_fmt = 16, 16, "rgb24"
        frame = av.VideoFrame.from_ndarray(np.zeros((16, 16, 3), np.uint8), format="rgb24")
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    return buf.getvalue()


def _silent_video() -> bytes:
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp4") as container:
        stream: Any = container.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = 16, 16, "yuv420p"
        frame = av.VideoFrame.from_ndarray(np.zeros((16, 16, 3), np.uint8), format="rgb24")
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    return buf.getvalue()


@pytest.mark.parametrize("make", [_png, _silent_video], ids=["png", "mp4-video-only"])
def test_media_without_audio_is_unsupported(make):
    data = make()
    with pytest.raises(UnsupportedMedia) as info:
        decode_audio(data)
    assert info.value.status == 415


def test_audio_over_the_limit_is_refused_without_decoding_it_all(monkeypatch):
    wav = _encode(_tone(60), SAMPLE_RATE, "wav", "pcm_s16le")
    real_resampler = av.AudioResampler
    fed: list[int] = []

    class CountingResampler:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self._inner = real_resampler(*args, **kwargs)

        def resample(self, frame: Any) -> Any:
            if frame is not None:
                fed.append(frame.samples)
            return self._inner.resample(frame)

    monkeypatch.setattr(av, "AudioResampler", CountingResampler)
    with pytest.raises(AudioTooLong) as info:
        decode_audio(wav, max_audio_s=5)

    assert info.value.status == 400
    assert info.value.code == "audio_too_long"
    assert 5 * SAMPLE_RATE < sum(fed) < 10 * SAMPLE_RATE


def test_audio_at_the_limit_passes_and_just_over_it_is_refused():
    wav = _encode(_tone(6), SAMPLE_RATE, "wav", "pcm_s16le")

    assert len(decode_audio(wav, max_audio_s=6)) == 6 * SAMPLE_RATE
    with pytest.raises(AudioTooLong):
        decode_audio(wav, max_audio_s=5.99)


def test_decode_base64_plain_and_data_uri(speech):
    samples, rate = speech
    wav = _encode(samples, rate, "wav", "pcm_s16le")
    encoded = base64.b64encode(wav).decode()

    assert decode_base64(encoded) == wav
    assert decode_base64(encoded + "\n") == wav
    wrapped = "\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))  # `base64` CLI output
    assert decode_base64(wrapped) == wav
    assert decode_base64("data:audio/wav;base64," + encoded) == wav
    assert decode_base64("data:audio/webm;codecs=opus;base64," + encoded) == wav


def test_decode_base64_refuses_a_non_audio_data_uri():
    with pytest.raises(UnsupportedMedia) as info:
        decode_base64("data:image/png;base64," + base64.b64encode(_png()).decode())
    assert info.value.status == 415


@pytest.mark.parametrize("text", ["not base64 at all!", "QUJD$", "data:audio/wav;base64,@@@@"])
def test_decode_base64_refuses_invalid_base64(text):
    with pytest.raises(InvalidAudio) as info:
        decode_base64(text)
    assert info.value.status == 400


def test_resample_keeps_duration_and_pitch():
    rate_in = 24000
    tone = np.sin(2 * np.pi * 440 * np.arange(rate_in) / rate_in).astype(np.float32)
    out = resample(tone, rate_in, 16000)

    assert out.dtype == np.float32
    assert abs(len(out) - 16000) <= 1
    spectrum = np.abs(np.fft.rfft(out))
    peak_hz = np.argmax(spectrum) * 16000 / len(out)
    assert abs(peak_hz - 440) <= 2


def test_resample_at_the_same_rate_returns_the_samples_as_float32():
    samples = np.linspace(-1, 1, 100)
    out = resample(samples, 16000, 16000)

    assert out.dtype == np.float32
    np.testing.assert_allclose(out, samples, atol=1e-7)
