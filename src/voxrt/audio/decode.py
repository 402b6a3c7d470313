"""Decode the audio containers voxrt accepts into float32 mono at 16 kHz (PyAV decodes, soxr resamples).

Clients send the bytes, so FFmpeg is held to an allow-list: only the demuxers
named in ``ALLOWED_FORMATS`` may take the file (auto-detection would otherwise
hand an ``ffconcat`` playlist to the concat demuxer, which opens server files,
or an SDP text to the RTP demuxer, which binds UDP ports), and no protocol at
all may be opened from inside a file (no nested opens). Memory is bounded by
the output: frames are downmixed and resampled to 16 kHz as they are decoded,
a declared sample rate above ``MAX_SAMPLE_RATE`` is refused before decoding,
and decoding stops at the duration limit.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
from collections.abc import Iterator

import av
import numpy as np
import soxr

from voxrt.errors import AudioTooLong, InvalidAudio, UnsupportedMedia

__all__ = [
    "ALLOWED_FORMATS",
    "MAX_SAMPLE_RATE",
    "SAMPLE_RATE",
    "decode_audio",
    "decode_base64",
    "iter_decode",
    "resample",
]

SAMPLE_RATE = 16000
MAX_SAMPLE_RATE = 192_000
# FFmpeg demuxer names (the mp4 family is FFmpeg's "mov" demuxer, webm its "matroska" one).
ALLOWED_FORMATS = ("wav", "flac", "mp3", "ogg", "matroska", "webm", "mov", "mp4", "m4a", "aac")
_OPEN_OPTIONS = {
    "format_whitelist": ",".join(ALLOWED_FORMATS),
    # no protocol matches: a demuxer cannot open another file or URL from inside the upload
    "protocol_whitelist": "none",
}
_UNSUPPORTED = (
    "Unsupported or unrecognised audio; accepted: wav, flac, mp3, ogg/opus, webm/matroska, mp4/m4a, aac."
)
_CORRUPT = "The audio file is corrupt or truncated."
_CHUNK_SAMPLES = 10 * SAMPLE_RATE  # output handed back per iteration: ~10 s of audio
_DATA_URI = re.compile(r"^data:(?P<mime>[\w/+.-]*)(?:;[\w=.-]+)*;base64,", re.IGNORECASE)


def resample(samples: np.ndarray, rate_in: int, rate_out: int = SAMPLE_RATE) -> np.ndarray:
    """Resample mono float32 audio from ``rate_in`` to ``rate_out``."""
    if rate_in == rate_out:
        return samples.astype(np.float32, copy=False)
    return np.asarray(soxr.resample(samples, rate_in, rate_out, quality="HQ"), dtype=np.float32)


def decode_audio(data: bytes, *, max_audio_s: float | None = None) -> np.ndarray:
    """Decode an encoded audio file in one call; see ``iter_decode`` for formats and errors.

    Returns:
        float32 mono samples at 16 kHz, nominally in [-1, 1] (lossy codecs may overshoot a little).
    """
    chunks = list(iter_decode(data, max_audio_s=max_audio_s))
    return np.concatenate(chunks) if len(chunks) > 1 else chunks[0]


def iter_decode(data: bytes, *, max_audio_s: float | None = None) -> Iterator[np.ndarray]:
    """Decode an encoded audio file incrementally, about 10 s of 16 kHz output per item.

    Args:
        data: the file's bytes, in one of ``ALLOWED_FORMATS``.
        max_audio_s: refuse audio longer than this many seconds; checked while
            decoding, so an overlong file is not decoded in full.

    Yields:
        float32 mono chunks at 16 kHz; at least one, together at least one sample.

    Raises:
        InvalidAudio: empty, corrupt or truncated data, or not a recognised container.
        UnsupportedMedia: a container outside the allow-list, a file with no audio
            stream, or a sample rate above ``MAX_SAMPLE_RATE``.
        AudioTooLong: longer than ``max_audio_s``.
    """
    if not data:
        raise InvalidAudio("The audio file is empty.", param="file")
    try:
        container = av.open(io.BytesIO(data), mode="r", options=_OPEN_OPTIONS)
    except av.error.InvalidDataError:
        raise InvalidAudio(_UNSUPPORTED, param="file") from None
    except (av.FFmpegError, UnicodeDecodeError, ValueError):
        # a format FFmpeg knows but the allow-list refuses (EINVAL), or anything else at open
        raise UnsupportedMedia(_UNSUPPORTED, param="file") from None
    with container:
        if not container.streams.audio:
            raise UnsupportedMedia("The file holds no audio stream.", param="file")
        stream = container.streams.audio[0]
        if stream.codec_context is None:  # a codec FFmpeg does not know
            raise UnsupportedMedia(_UNSUPPORTED, param="file")
        _check_rate(stream.codec_context.sample_rate)
        yield from _decode_stream(container, stream, max_audio_s)


def _check_rate(rate: int) -> None:
    if rate > MAX_SAMPLE_RATE:
        raise UnsupportedMedia(
            f"The audio's sample rate ({rate} Hz) is above the {MAX_SAMPLE_RATE} Hz supported.", param="file"
        )


def _decode_stream(
    container: av.container.InputContainer, stream: av.AudioStream, max_audio_s: float | None
) -> Iterator[np.ndarray]:
    to_mono = av.AudioResampler(format="fltp", layout="mono")
    resampler: soxr.ResampleStream | None = None
    rate = 0
    decoded = 0  # input samples so far, at the file's rate
    pending: list[np.ndarray] = []
    pending_samples = 0
    produced = 0
    try:
        for frame in container.decode(stream):
            _check_rate(frame.sample_rate)
            for out in to_mono.resample(frame):
                if not rate:
                    rate = out.sample_rate
                    if rate != SAMPLE_RATE:
                        resampler = soxr.ResampleStream(rate, SAMPLE_RATE, 1, dtype="float32", quality="HQ")
                samples = out.to_ndarray()[0]
                decoded += samples.shape[0]
                if max_audio_s is not None and decoded > max_audio_s * rate:
                    raise AudioTooLong(
                        f"The audio is longer than the limit of {max_audio_s:g} s.", param="file"
                    )
                chunk = resampler.resample_chunk(samples) if resampler is not None else samples
                pending.append(chunk)
                pending_samples += chunk.shape[0]
            if pending_samples >= _CHUNK_SAMPLES:
                yield _join(pending)
                produced += pending_samples
                pending, pending_samples = [], 0
        tail = [out.to_ndarray()[0] for out in to_mono.resample(None)]
    except av.FFmpegError:
        raise InvalidAudio(_CORRUPT, param="file") from None
    except ValueError:  # PyAV: a frame whose rate or layout differs from the stream's first
        raise InvalidAudio(_CORRUPT, param="file") from None
    if resampler is not None:
        pending.append(resampler.resample_chunk(_join(tail), last=True))
    else:
        pending += tail
    if not rate or produced + sum(len(c) for c in pending) == 0:
        raise InvalidAudio("The audio file holds no samples.", param="file")
    yield _join(pending)


def _join(chunks: list[np.ndarray]) -> np.ndarray:
    if not chunks:
        return np.zeros(0, np.float32)
    joined: np.ndarray = np.concatenate(chunks)
    return joined.astype(np.float32, copy=False)


def decode_base64(text: str) -> bytes:
    """Bytes of a base64 string or a ``data:audio/...;base64,`` URI.

    Raises:
        InvalidAudio: not valid base64, or a data URI that is not audio.
    """
    match = _DATA_URI.match(text)
    if match:
        mime = match.group("mime").lower()
        if mime and not (mime.startswith("audio/") or mime.startswith("video/")):
            raise UnsupportedMedia(f"The data URI holds {mime}, not audio.", param="file")
        text = text[match.end() :]
    try:
        return base64.b64decode("".join(text.split()), validate=True)  # line breaks allowed
    except (binascii.Error, ValueError):
        raise InvalidAudio("The audio is not valid base64.", param="file") from None
