"""The pure parts of ``python -m bench.compare``: each system's messages turned into final and partial
text, word timing, alignment to the known text, percentiles with missing finals, the ratio table."""

from __future__ import annotations

import argparse
import json
from typing import Any

import pytest

from bench.compare.compare import add_arguments, percentiles_missing, ratio_table
from bench.compare.peers.score import align, committed_word_times, score_session, settled
from bench.compare.peers.session import Snapshot
from bench.compare.peers.voxrt_system import RealtimeProtocol
from bench.compare.peers.whisperlive import WhisperLiveProtocol
from bench.compare.peers.whisperlivekit import WhisperLiveKitProtocol


def _segment(start: float, end: float, text: str, completed: bool) -> dict[str, object]:
    return {"start": f"{start:.3f}", "end": f"{end:.3f}", "text": text, "completed": completed}


def test_whisperlive_completed_segments_are_final_and_kept_once() -> None:
    p = WhisperLiveProtocol(silence_ms=500)
    options = json.loads(p.hello()[0])
    assert options["audio_format"] == "int16"
    assert options["vad_parameters"]["min_silence_duration_ms"] == 500
    assert p.ready({"uid": options["uid"], "message": "SERVER_READY", "backend": "faster_whisper"})
    assert p.update({"uid": "x", "segments": [_segment(0.5, 2.0, " The quick brown", False)]}) == (
        "",
        "The quick brown",
    )
    first = _segment(0.5, 2.9, " The quick brown fox.", True)
    assert p.update({"segments": [first, _segment(4.1, 4.8, " Please", False)]}) == (
        "The quick brown fox.",
        "Please",
    )
    # the server resends the last segments every time; an overlapping completed one is not kept
    again = [first, _segment(2.5, 3.0, " fox", True), _segment(4.1, 6.0, " Please call me", False)]
    assert p.update({"segments": again}) == ("The quick brown fox.", "Please call me")
    done = [first, _segment(4.1, 6.2, " Please call me back.", True)]
    assert p.update({"segments": done}) == ("The quick brown fox. Please call me back.", "")
    assert p.update({"uid": "x", "language": "en"}) is None
    assert p.end() == b"END_OF_AUDIO"
    with pytest.raises(RuntimeError):
        p.ready({"status": "WAIT", "message": 1.0})


def test_whisperlivekit_lines_are_final_and_the_buffer_partial() -> None:
    p = WhisperLiveKitProtocol()
    assert p.path.startswith("/asr") and p.hello() == []
    assert p.ready({"type": "config", "useAudioWorklet": True, "mode": "full"})
    lines: list[dict[str, object]] = [
        {"speaker": 1, "text": " The quick", "start": "0:00:00.50", "end": "0:00:01.20"}
    ]
    state = {"status": "active_transcription", "lines": lines, "buffer_transcription": " brown fox"}
    assert p.update(state) == ("The quick", "brown fox")
    lines.append({"speaker": -2, "text": None, "start": "0:00:03", "end": "0:00:09"})
    assert p.update(state) == ("The quick", "brown fox")  # a silence line holds no text
    assert not p.finished(1)
    assert p.update({"type": "ready_to_stop"}) is None
    assert p.finished(1)
    assert p.end() == b""


def test_realtime_completed_is_final_and_deltas_partial() -> None:
    p = RealtimeProtocol()
    assert json.loads(p.hello()[0])["session"]["audio"]["input"]["format"]["rate"] == 16000
    assert p.update({"type": "input_audio_buffer.speech_started", "item_id": "a"}) is None
    assert p.update(
        {"type": "conversation.item.input_audio_transcription.delta", "item_id": "a", "delta": "The"}
    )
    assert p.update(
        {"type": "conversation.item.input_audio_transcription.delta", "item_id": "a", "delta": " quick"}
    ) == ("", "The quick")
    assert not p.finished(1)
    assert p.update(
        {
            "type": "conversation.item.input_audio_transcription.completed",
            "item_id": "a",
            "transcript": "The fox.",
        }
    ) == ("The fox.", "")
    assert p.finished(1) and not p.finished(2)


def test_committed_word_times_keep_the_first_arrival_of_each_final_word() -> None:
    snapshots = [
        Snapshot(1.0, "The quick", "brown"),
        Snapshot(2.0, "The quick bro", ""),  # a word cut between two messages ...
        Snapshot(3.0, "The quick brown fox", ""),  # ... counts from when it was whole
        Snapshot(4.0, "The quick brown fox", "please"),
    ]
    assert committed_word_times(snapshots) == [("the", 1.0), ("quick", 1.0), ("brown", 3.0), ("fox", 3.0)]


def test_align_marks_matches_substitutions_deletions_and_insertions() -> None:
    ops = [op for op, _, _ in align(["a", "b", "c", "d"], ["a", "x", "c", "d", "e"])]
    assert ops == ["match", "sub", "match", "match", "ins"]
    assert [op for op, _, _ in align(["a", "b", "c"], ["a", "c"])] == ["match", "del", "match"]
    assert align([], []) == []


def test_score_session_times_each_utterance_from_its_own_words() -> None:
    references = ["The quick brown fox.", "Call me at 12.", "Good night."]
    starts, ends = [1.0, 5.0, 9.0], [3.0, 7.0, 11.0]
    snapshots = [
        Snapshot(0.5, "", ""),
        Snapshot(1.4, "", "the quick"),
        Snapshot(3.6, "The quick brown fox.", ""),
        Snapshot(5.3, "The quick brown fox.", "call"),  # first partial of the 2nd utterance
        Snapshot(7.5, "The quick brown fox. Call me at twelve", "please"),
        Snapshot(7.9, "The quick brown fox. Call me at twelve please", ""),  # an extra word, late
        Snapshot(11.2, "The quick brown fox. Call me at twelve please. Good night.", ""),
    ]
    first, second = score_session(snapshots, references, starts, ends, scored=2)
    assert first.final_ms == pytest.approx(600.0)
    assert first.first_partial_ms == pytest.approx(400.0)
    assert (first.errors, first.words, first.hypothesis) == (0, 4, "the quick brown fox")
    # the inserted word is an error of the 2nd utterance, but its final time is its own words'
    assert second.final_ms == pytest.approx(500.0)
    assert second.first_partial_ms == pytest.approx(300.0)
    assert (second.errors, second.words) == (1, 4)


def test_first_partial_is_not_fooled_by_words_of_the_utterance_before() -> None:
    references = ["It is sunny with a light breeze.", "She opened the window.", "Bye."]
    snapshots = [
        Snapshot(1.0, "It is sunny with a", "light breeze"),
        Snapshot(4.05, "It is sunny with a", "light breeze."),  # never final: not the 2nd's text
        Snapshot(4.1, "It is sunny with a", "light breeze she"),
        Snapshot(4.5, "It is sunny with a", "she opened the"),
        Snapshot(6.0, "It is sunny with a she opened the window", ""),
    ]
    _, second = score_session(snapshots, references, [0.5, 4.0, 7.0], [3.0, 5.5, 7.5], scored=2)
    assert second.first_partial_ms == pytest.approx(100.0)
    assert second.final_ms == pytest.approx(500.0)


def test_score_session_reports_an_utterance_never_final() -> None:
    (result,) = score_session([Snapshot(2.0, "", "hello")], ["Hello there."], [1.0], [1.8], scored=1)
    assert result.final_ms is None and result.errors == 2
    assert result.first_partial_ms == pytest.approx(1000.0)


def test_settled_once_each_counted_utterance_reaches_its_end() -> None:
    references = ["The quick brown fox.", "Call me at 12.", "Good night."]
    assert not settled("", references, 2)
    assert not settled("The quick brown fox. Call me", references, 2)  # the 2nd is not at its end
    assert settled("The quick brown fox. Call me at twelve", references, 2)
    assert settled("The quick brown box. Call me at 12 please", references, 2)  # errors count as reached
    assert settled("The quick brown. Call me at 12", references, 2)  # 'fox' lost, but a later one is final
    assert not settled("The quick brown fox. Call me at", references, 2)
    assert settled(
        "The quick brown fox. Call me at twelve. Good night", references, 9
    )  # as many as there are


def test_percentiles_count_missing_finals_as_infinitely_late() -> None:
    values: list[float | None] = [float(v) for v in range(1, 21)]
    assert percentiles_missing(values) == {"count": 20, "missing": 0, "p50": 10.5, "p95": 19.1}
    one_missing = [*values[:19], None]
    assert percentiles_missing(one_missing)["p50"] == 10.5
    assert percentiles_missing(one_missing)["p95"] is None  # p95 reaches the missing one
    assert percentiles_missing([])["p50"] is None


def test_ratio_table_divides_voxrt_by_each_peer() -> None:
    summary: dict[str, dict[str, Any]] = {
        "voxrt": {"final_p50": 500.0, "final_p95": 600.0, "first_partial_p50": 300.0, "wer": 0.01,
                  "cpu_per_audio_s": 0.2, "capacity": 8, "capacity_at_least": True},
        "Peer": {"final_p50": 1000.0, "final_p95": None, "first_partial_p50": 600.0, "wer": 0.02,
                 "cpu_per_audio_s": 0.4, "capacity": 2, "capacity_at_least": False},
    }  # fmt: skip
    header, voxrt, peer, ratio = ratio_table(summary)
    assert header[0] == "system" and len(header) == 7
    assert voxrt == ["voxrt", "500", "600", "300", "1.0%", "0.200", "≥8"]
    assert peer[2] == "-"
    assert ratio == ["voxrt / Peer", "0.50", "-", "0.50", "0.50", "0.50", "4.00"]


def test_cli_accepts_bench_compare() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--systems", "voxrt", "--sweep", "4,1,2"])
    assert args.sweep == [1, 2, 4] and args.repeats == 3
