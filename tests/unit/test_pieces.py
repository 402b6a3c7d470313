"""Long audio for Voxtral is cut into pieces of at most 30 s, at the pauses."""

from __future__ import annotations

import itertools

import numpy as np

from voxrt.asr.voxtral import split_at_pauses

RATE = 16000


def _speech_with_pauses(total_s: float, pauses_s: list[float]) -> np.ndarray:
    """Loud noise with 300 ms of silence starting at each of ``pauses_s``."""
    audio = np.random.default_rng(0).normal(0, 0.3, int(total_s * RATE)).astype(np.float32)
    for at in pauses_s:
        audio[int(at * RATE) : int((at + 0.3) * RATE)] = 0.0
    return audio


def test_short_audio_is_one_piece() -> None:
    assert split_at_pauses(np.zeros(RATE * 30, np.float32)) == [(0, RATE * 30)]
    assert split_at_pauses(np.zeros(RATE, np.float32)) == [(0, RATE)]


def test_long_audio_is_cut_inside_the_pauses_before_each_limit() -> None:
    audio = _speech_with_pauses(70.0, [12.0, 27.0, 52.5])
    pieces = split_at_pauses(audio)
    assert pieces[0][0] == 0 and pieces[-1][1] == len(audio)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(pieces))  # contiguous
    assert all(end - start <= 30 * RATE for start, end in pieces)
    cuts = [end / RATE for _, end in pieces[:-1]]
    assert len(cuts) == 2
    assert 27.0 <= cuts[0] <= 27.3  # the pause at 12 s is too early to matter
    assert 52.5 <= cuts[1] <= 52.8


def test_no_pause_still_cuts_within_the_limit() -> None:
    audio = _speech_with_pauses(95.0, [])
    pieces = split_at_pauses(audio)
    assert len(pieces) == 4
    assert all(end - start <= 30 * RATE for start, end in pieces)
