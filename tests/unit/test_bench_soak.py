"""voxrt bench soak: manifest reading and the pass/fail verdict."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np
import pytest

from voxrt.audio.pcm import to_int16
from voxrt.bench.corpus import write_wav
from voxrt.bench.soak import _report, load_manifest_clips, process_resources


def test_manifest_paths_are_relative_to_the_manifest(tmp_path: Path) -> None:
    tone = to_int16(0.3 * np.sin(np.arange(8000) / 8000 * 2 * np.pi * 440))
    write_wav(tmp_path / "a.wav", tone, 8000)
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"audio": "a.wav", "text": "a tone", "lang": "en"}) + "\n\n")
    [clip] = load_manifest_clips(manifest)
    assert clip.text == "a tone" and len(clip.pcm) == 24000  # resampled to the protocol's 24 kHz
    manifest.write_text('{"text": "no audio"}\n')
    with pytest.raises(RuntimeError, match=r"m\.jsonl:1"):
        load_manifest_clips(manifest)


def test_the_verdict_fails_on_growth_or_failed_utterances() -> None:
    args = argparse.Namespace(
        sessions=2, duration_s=60.0, manifest=None, pause_ms=1200, chunk_ms=40, config=None
    )
    initial = {"rss_mb": 250.0, "fds": 9, "threads": 8}
    good = {"utterances": 10, "failed": 0, "wer": 0.0, "asr_final_p95_ms": 700.0}
    warm = {**good, "rss_mb": 300.0, "fds": 10, "threads": 9}  # round 1: the baseline

    def verdict(*later: dict[str, float]) -> dict[str, object]:
        rounds = [warm] + [{**warm, **r} for r in later]
        return dict(_report(args, initial, rounds, None)["result"])

    assert verdict({"rss_mb": 310.0})["passed"]
    assert verdict({"rss_mb": 400.0})["rss_growth_pct"] == 33.33  # growth counts from round 1, not start
    assert not verdict({"rss_mb": 320.0})["passed"]  # +6.7 %
    # the highest later round counts, not only the last: a rise that falls back still fails
    result = verdict({"rss_mb": 320.0}, {"rss_mb": 300.0})
    assert not result["passed"] and result["rss_mb"] == [300.0, 320.0]
    assert result["rss_mb_by_round"] == [300.0, 320.0, 300.0]
    assert not verdict({"fds": 11})["passed"]
    assert not verdict({"threads": 10}, {"threads": 9})["passed"]
    assert not verdict({"failed": 1})["passed"]
    assert not verdict()["passed"]  # one round tells nothing about growth
    assert not _report(args, initial, [], None)["result"]["passed"]


def test_resources_of_this_process() -> None:
    resources = process_resources(os.getpid())
    assert resources["rss_mb"] > 10 and resources["fds"] >= 3 and resources["threads"] >= 1
