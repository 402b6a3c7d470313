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
    start = {"rss_mb": 300.0, "fds": 10, "threads": 9}
    good = [{"utterances": 10, "failed": 0, "wer": 0.0, "asr_final_p95_ms": 700.0}] * 2

    def passed(end: dict[str, float], rounds: list[dict[str, float]] = good) -> bool:
        return bool(_report(args, start, start, end, rounds, None)["result"]["passed"])

    assert passed({**start, "rss_mb": 310.0})
    assert not passed({**start, "rss_mb": 320.0})  # +6.7 %
    assert not passed({**start, "fds": 11})
    assert not passed(start, [good[0], {**good[0], "failed": 1}])
    assert not passed(start, good[:1])  # one round tells nothing about growth


def test_resources_of_this_process() -> None:
    resources = process_resources(os.getpid())
    assert resources["rss_mb"] > 10 and resources["fds"] >= 3 and resources["threads"] >= 1
