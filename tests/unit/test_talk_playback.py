"""voxrt talk's Playback: what the speaker pulls, and what a barge-in cuts and reports."""

from __future__ import annotations

import numpy as np

from voxrt.talk import RATE, Playback


def _pcm(ms: int, value: int = 1000) -> bytes:
    return np.full(RATE * ms // 1000, value, np.int16).tobytes()


def test_replies_play_in_order_then_silence() -> None:
    playback = Playback()
    playback.push("a", _pcm(10, 1))
    playback.push("b", _pcm(10, 2))
    out = playback.pull(RATE * 30 // 1000)
    assert list(np.unique(out[:240])) == [1] and list(np.unique(out[240:480])) == [2]
    assert not out[480:].any()


def test_stop_reports_what_was_heard_of_each_reply_still_playing_and_drops_the_rest() -> None:
    playback = Playback()
    playback.push("done", _pcm(100))
    playback.end("done")
    playback.pull(RATE * 100 // 1000)  # heard to its end: nothing to truncate
    playback.push("cut", _pcm(500))
    playback.pull(RATE * 120 // 1000)
    assert playback.stop() == [("cut", 120)]
    assert not playback.pull(RATE // 10).any()  # silence at once
    playback.push("cut", _pcm(200))  # the cut reply's audio still in flight is not played
    assert not playback.pull(RATE // 10).any()
    assert playback.stop() == []


def test_a_reply_whose_audio_has_not_all_arrived_is_still_playing_when_its_queue_runs_dry() -> None:
    playback = Playback()
    playback.push("slow", _pcm(40))
    playback.pull(RATE // 10)  # played all there was; more is coming
    assert playback.stop() == [("slow", 40)]
