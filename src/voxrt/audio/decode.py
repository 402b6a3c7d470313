"""Decode any common audio container into float32 mono at 16 kHz (PyAV decodes, soxr resamples)."""

from __future__ import annotations

import base64
import binascii
import io
import re

import av
import numpy as np
import soxr

from voxrt.errors import AudioTooLong, InvalidAudio, UnsupportedMedia

__all__ = ["SAMPLE_RATE", "decode_audio", "decode_base64", "resample"]

SAMPLE_RATE = 16000
_DATA_URI = re.compile(r"^data:(?P<mime>[\w/+.-]*)(?:;[\w=.-]+)*;base64,", re.IGNORECASE)


def resample(samples: np.ndarray, rate_in: int, rate_out: int = SAMPLE_RATE) -> np.ndarray:
    """Resample mono float32 audio from ``rate_in`` to ``rate_out``."""
    if rate_in == rate_out:
        return samples.astype(np.float32, copy=False)
    return np.asarray(soxr.resample(samples, rate_in, rate_out, quality="HQ"), dtype=np.float32)


def decode_audio(data: bytes, *, max_audio_s: float | None = None) -> np.ndarray:
    """Decode an encoded audio file (wav, flac, mp3, ogg/opus, webm, m4a, ...).

    Args:
        data: the file's bytes.
        max_audio_s: refuse audio longer than this many seconds; checked while
            decoding, so an overlong file is not decoded in full.

    Returns:
        float32 mono samples at 16 kHz, nominally in [-1, 1] (lossy codecs may overshoot a little).

    Raises:
        InvalidAudio: empty, corrupt or truncated data.
        UnsupportedMedia: a readable file that holds no audio stream.
        AudioTooLong: longer than ``max_audio_s``.
    """
    if not data:
        raise InvalidAudio("The audio file is empty.", param="file")
    try:
        container = av.open(io.BytesIO(data), mode="r")
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise InvalidAudio(f"Could not decode the audio file: {_reason(exc)}.", param="file") from None
    with container:
        if not container.streams.audio:
            raise UnsupportedMedia("The file holds no audio stream.", param="file")
        stream = container.streams.audio[0]
        to_mono = av.AudioResampler(format="fltp", layout="mono")
        chunks: list[np.ndarray] = []
        total = 0
        rate = 0
        try:
            for frame in container.decode(stream):
                for out in to_mono.resample(frame):
                    rate = out.sample_rate
                    chunk = out.to_ndarray()[0]
                    chunks.append(chunk)
                    total += chunk.shape[0]
                if max_audio_s is not None and rate and total > max_audio_s * rate:
                    raise AudioTooLong(
                        f"The audio is longer than the limit of {max_audio_s:g} s.", param="file"
                    )
            for out in to_mono.resample(None):
                chunks.append(out.to_ndarray()[0])
        except av.FFmpegError as exc:
            raise InvalidAudio(f"Could not decode the audio file: {_reason(exc)}.", param="file") from None
    if not chunks or not rate:
        raise InvalidAudio("The audio file holds no samples.", param="file")
    return resample(np.concatenate(chunks), rate)


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


def _reason(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
