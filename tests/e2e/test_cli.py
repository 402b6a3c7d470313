"""``voxrt transcribe`` as a user runs it: a real process, a long file, progress on stderr."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from voxrt.bench.corpus import Utterance
from voxrt.bench.wer import wer

pytestmark = pytest.mark.e2e


def _voxrt(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "voxrt.cli", *args], capture_output=True, text=True, timeout=300, check=False
    )


def test_transcribe_long_file_shows_progress(long_speech: Utterance) -> None:
    assert long_speech.duration_s > 40
    done = _voxrt("transcribe", str(long_speech.path))
    assert done.returncode == 0, done.stderr
    assert wer([long_speech.text], [done.stdout]) <= 0.10, done.stdout
    assert "transcribing" in done.stderr and "100%" in done.stderr
    assert f"/{long_speech.duration_s:.1f} s audio" in done.stderr


def test_transcribe_formats_and_output_dir(corpus: list[Utterance], tmp_path: Path) -> None:
    done = _voxrt(
        "transcribe", "--format", "srt", "-o", str(tmp_path), str(corpus[0].path), str(corpus[1].path)
    )
    assert done.returncode == 0, done.stderr
    srt = (tmp_path / f"{corpus[0].path.stem}.srt").read_text()
    assert srt.startswith("1\n00:00:00,000 --> ")
    assert (tmp_path / f"{corpus[1].path.stem}.srt").exists()
    assert "transcribing" not in done.stderr  # short files: no progress bar


def test_transcribe_bad_file_fails_clearly(tmp_path: Path, corpus: list[Utterance]) -> None:
    bad = tmp_path / "notes.wav"
    bad.write_bytes(b"these are not audio samples" * 10)
    done = _voxrt("transcribe", str(bad), str(corpus[0].path))
    assert done.returncode == 1
    assert f"{bad}: Unsupported or unrecognised audio" in done.stderr
    assert wer([corpus[0].text], [done.stdout.split("<==")[-1]]) <= 0.10  # the good file still ran
