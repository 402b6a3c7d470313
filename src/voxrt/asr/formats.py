"""Render a transcription in OpenAI's response formats: json, text, verbose_json, srt, vtt."""

from __future__ import annotations

import math
from typing import Any, Literal, get_args

from voxrt.asr.base import Transcription

__all__ = ["RESPONSE_FORMATS", "ResponseFormat", "render", "subtitles", "verbose_json"]

ResponseFormat = Literal["json", "text", "verbose_json", "srt", "vtt"]
RESPONSE_FORMATS: tuple[str, ...] = get_args(ResponseFormat)


def _timestamp(seconds: float, separator: str) -> str:
    ms = round(seconds * 1000)
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    secs, ms = divmod(ms, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{ms:03d}"


def subtitles(result: Transcription, kind: Literal["srt", "vtt"]) -> str:
    """SRT or WebVTT cues, one per segment."""
    separator = "," if kind == "srt" else "."
    cues = []
    for number, seg in enumerate((s for s in result.segments if s.text.strip()), start=1):
        span = f"{_timestamp(seg.start, separator)} --> {_timestamp(seg.end, separator)}"
        cue = f"{span}\n{seg.text.strip()}\n"
        cues.append(f"{number}\n{cue}" if kind == "srt" else cue)
    body = "\n".join(cues)
    return body if kind == "srt" else f"WEBVTT\n\n{body}"


def usage(result: Transcription) -> dict[str, Any]:
    return {"type": "duration", "seconds": math.ceil(result.duration)}


def verbose_json(result: Transcription) -> dict[str, Any]:
    """OpenAI's verbose_json: segments, and words when they were asked for."""
    body: dict[str, Any] = {
        "task": "transcribe",
        "language": result.language or "",
        "duration": round(result.duration, 3),
        "text": result.text,
        "segments": [
            {
                "id": s.id,
                "seek": 0,
                "start": s.start,
                "end": s.end,
                "text": s.text,
                "tokens": list(s.tokens),
                "temperature": s.temperature,
                "avg_logprob": s.avg_logprob,
                "compression_ratio": s.compression_ratio,
                "no_speech_prob": s.no_speech_prob,
            }
            for s in result.segments
        ],
        "usage": usage(result),
    }
    if result.options.word_timestamps:
        body["words"] = [
            {"word": w.word.strip(), "start": w.start, "end": w.end} for s in result.segments for w in s.words
        ]
    return body


def render(result: Transcription, response_format: ResponseFormat) -> str | dict[str, Any]:
    """The response body: a JSON-able dict for json/verbose_json, text otherwise."""
    if response_format == "json":
        return {"text": result.text, "usage": usage(result)}
    if response_format == "verbose_json":
        return verbose_json(result)
    if response_format == "text":
        return result.text + "\n"
    return subtitles(result, response_format)
