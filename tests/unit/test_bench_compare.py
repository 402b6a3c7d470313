"""The pure parts of ``python -m bench.compare``: each system's messages turned into final and partial
text, word timing, alignment to the known text, percentiles with missing finals, the ratio table,
and sessions' scripts built from a manifest of recordings."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.compare.compare import add_arguments, percentiles_missing, ratio_table
from bench.compare.peers.score import align, committed_word_times, score_session, settled
from bench.compare.peers.session import Snapshot
from bench.compare.peers.voxrt_system import RealtimeProtocol
from bench.compare.peers.whisperlive import WhisperLiveProtocol
from bench.compare.peers.whisperlivekit import WhisperLiveKitProtocol
from bench.compare.speech import Speech, load_speech, manifest_speech
from voxrt.bench.corpus import write_wav
from voxrt.bench.stream_client import LEAD_MS, Clip


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


def test_cli_takes_a_real_speech_set_or_a_manifest_not_both(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert parser.parse_args([]).set is None and parser.parse_args([]).manifest is None  # Piper
    assert parser.parse_args(["--set", "en"]).set == "en"
    assert parser.parse_args(["--manifest", "m.jsonl"]).manifest == Path("m.jsonl")
    with pytest.raises(SystemExit):
        parser.parse_args(["--set", "en", "--manifest", "m.jsonl"])
    capsys.readouterr()


# Five "recordings" at 8 kHz, as the Asterisk prompts are: 0.2 s of silence, a tone of 0.3 to 0.7 s
# (one per utterance, so their spans differ), 0.2 s of silence.
_SILENCE_S, _TONES_S = 0.2, (0.3, 0.4, 0.5, 0.6, 0.7)


def _manifest(folder: Path) -> Path:
    lines = []
    for index, tone_s in enumerate(_TONES_S):
        t = np.arange(int(8000 * tone_s)) / 8000
        quiet = np.zeros(int(8000 * _SILENCE_S))
        audio = np.concatenate([quiet, 0.3 * np.sin(2 * np.pi * 440 * t), quiet])
        write_wav(folder / f"{index}.wav", (audio * 32767).astype("<i2"), 8000)
        lines.append(json.dumps({"audio": f"{index}.wav", "text": f"utterance {index}"}))
    manifest = folder / "set.jsonl"
    manifest.write_text("\n".join(lines) + "\n")
    return manifest


def test_manifest_sessions_take_their_scored_utterances_from_the_set_in_order(tmp_path: Path) -> None:
    manifest = _manifest(tmp_path)
    args = argparse.Namespace(set=None, manifest=manifest, cache_dir=None, corpus_dir=tmp_path / "none")
    speech = load_speech(args)
    assert speech.source == {"kind": "manifest", "set": None, "manifest": str(manifest), "utterances": 5}
    assert speech.label == f"{manifest} (5 utterances)"
    assert manifest_speech(manifest, "en").label == f"--set en: {manifest} (5 utterances)"
    # 2 scored + 1 that follows per session; each session's scored pair follows the one before's
    scripts = speech.scripts(sessions=3, count=3, pause_ms=300)
    assert [s.texts for s in scripts] == [
        ["utterance 0", "utterance 1", "utterance 2"],
        ["utterance 2", "utterance 3", "utterance 4"],
        ["utterance 4", "utterance 0", "utterance 1"],  # round again at the end of the set
    ]
    assert [s.scored for s in scripts] == [2, 2, 2]


def test_manifest_script_is_16k_pcm_with_each_utterances_voiced_span(tmp_path: Path) -> None:
    (script,) = manifest_speech(_manifest(tmp_path)).scripts(sessions=1, count=3, pause_ms=300)
    rate, tolerance = 16000, 16 * 5  # resampling smears a hard onset over a few ms
    lead, pause = LEAD_MS * rate // 1000, 300 * rate // 1000
    clip_len = [round(rate * (2 * _SILENCE_S + tone_s)) for tone_s in _TONES_S[:3]]
    assert len(script.pcm) // 2 == pytest.approx(lead + sum(clip_len) + 3 * pause, abs=3)
    start = lead
    for (a, b), tone_s, length in zip(script.spans, _TONES_S[:3], clip_len, strict=True):
        assert a == pytest.approx(start + _SILENCE_S * rate, abs=tolerance)
        assert b == pytest.approx(start + (_SILENCE_S + tone_s) * rate, abs=tolerance)
        start += length + pause
    samples = np.frombuffer(script.pcm, "<i2")
    a, b = script.spans[0]
    assert np.abs(samples[a : b + 1]).max() > 0.25 * 32767
    assert np.abs(samples[:a]).max() < 0.01 * 32767  # nothing voiced before the span


def test_piper_sessions_start_one_sentence_apart() -> None:
    clips = [Clip(f"s{i}", np.full(800, 1000, "<i2"), (0, 799)) for i in range(4)]
    speech = Speech(clips, {"kind": "piper", "corpus_dir": "corpus", "utterances": 4})
    assert [s.texts for s in speech.scripts(sessions=2, count=3, pause_ms=100)] == [
        ["s0", "s1", "s2"],
        ["s1", "s2", "s3"],
    ]
    assert speech.label == "Piper corpus (4 sentences, corpus)"


def test_a_manifest_of_no_utterances_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(ValueError, match="no utterances"):
        manifest_speech(tmp_path / "empty.jsonl")
