from __future__ import annotations

from voxrt.asr import Segment, Transcription, TranscriptionOptions, Word
from voxrt.asr.formats import render


def _result(words: bool = False) -> Transcription:
    segments = (
        Segment(
            0,
            0.0,
            2.5,
            " Hello there.",
            words=(Word(0.0, 0.5, " Hello", 0.9), Word(0.6, 1.0, " there.", 0.8)),
        ),
        Segment(1, 2.5, 3661.25, " General Kenobi."),
    )
    return Transcription(
        "Hello there. General Kenobi.",
        "en",
        3662.0,
        segments,
        TranscriptionOptions(word_timestamps=words),
        1.0,
    )


def test_srt() -> None:
    assert render(_result(), "srt") == (
        "1\n00:00:00,000 --> 00:00:02,500\nHello there.\n\n"
        "2\n00:00:02,500 --> 01:01:01,250\nGeneral Kenobi.\n"
    )


def test_vtt() -> None:
    assert render(_result(), "vtt") == (
        "WEBVTT\n\n00:00:00.000 --> 00:00:02.500\nHello there.\n\n"
        "00:00:02.500 --> 01:01:01.250\nGeneral Kenobi.\n"
    )


def test_json_text_and_verbose() -> None:
    assert render(_result(), "json") == {
        "text": "Hello there. General Kenobi.",
        "usage": {"type": "duration", "seconds": 3662},
    }
    assert render(_result(), "text") == "Hello there. General Kenobi.\n"
    verbose = render(_result(), "verbose_json")
    assert isinstance(verbose, dict) and "words" not in verbose
    assert [s["text"] for s in verbose["segments"]] == [" Hello there.", " General Kenobi."]
    verbose = render(_result(words=True), "verbose_json")
    assert isinstance(verbose, dict)
    assert verbose["words"] == [
        {"word": "Hello", "start": 0.0, "end": 0.5},
        {"word": "there.", "start": 0.6, "end": 1.0},
    ]
