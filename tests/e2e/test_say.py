"""``voxrt say`` and ``voxrt voices`` as a user runs them: real processes, files that play."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import av
import pytest

from voxrt.bench.wer import wer

pytestmark = pytest.mark.e2e

TEXT = "The meeting starts at 10:30 in room 4."
SPOKEN = "The meeting starts at ten thirty in room four."  # what the speech says (the reference)


def _voxrt(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "voxrt.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        input=stdin,
    )


def _seconds_and_rate(path: Path) -> tuple[float, int]:
    with av.open(io.BytesIO(path.read_bytes()), mode="r") as container:
        stream = container.streams.audio[0]
        samples = sum(int(frame.samples) for frame in container.decode(stream))
        return samples / int(stream.rate), int(stream.rate)


def test_say_writes_each_format(tmp_path: Path) -> None:
    for name in ("out.wav", "out.mp3", "out.flac"):
        done = _voxrt("say", TEXT, "-o", str(tmp_path / name), "--engine", "piper")
        assert done.returncode == 0, done.stderr
        seconds, rate = _seconds_and_rate(tmp_path / name)
        assert 1.5 < seconds < 6.0 and rate == 24000
    heard = _voxrt("transcribe", str(tmp_path / "out.mp3"))
    # Piper varies its speech run to run, and the model writes the time as "10 30" or "ten thirty"
    # (the normaliser makes the latter "1030"): either way of writing it is the same words heard.
    assert min(wer([SPOKEN], [heard.stdout]), wer([TEXT], [heard.stdout])) <= 0.2, heard.stdout


def test_say_reads_stdin_with_an_espeak_voice(tmp_path: Path) -> None:
    out = tmp_path / "speech.wav"
    done = _voxrt("say", "-", "-o", str(out), "--engine", "espeak", "--voice", "en-us+f3", stdin=TEXT)
    assert done.returncode == 0, done.stderr
    assert _seconds_and_rate(out)[0] > 1.5


def test_say_refuses_bad_input(tmp_path: Path) -> None:
    unknown = _voxrt("say", TEXT, "-o", str(tmp_path / "x.wav"), "--engine", "espeak", "--voice", "nobody")
    assert unknown.returncode == 1 and "Unknown voice 'nobody'" in unknown.stderr
    bad_format = _voxrt("say", TEXT, "-o", str(tmp_path / "x.ogg"))
    assert bad_format.returncode == 2 and "unknown format 'ogg'" in bad_format.stderr
    assert not (tmp_path / "x.wav").exists()


def test_voices() -> None:
    done = _voxrt("voices", "--engine", "espeak")
    assert done.returncode == 0, done.stderr
    assert "espeak:" in done.stdout and "  en-us\n" in done.stdout
    assert "alloy    -> en-us+f3" in done.stdout and "echo     -> en-us" in done.stdout


def test_bench_tts_writes_json_and_chart(tmp_path: Path) -> None:
    output, plot = tmp_path / "tts.json", tmp_path / "tts.png"
    done = _voxrt(
        "bench", "tts", "--engines", "espeak", "--repeats", "2", "--concurrency", "3",
        "--output", str(output), "--plot", str(plot),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(output.read_text())["engines"]["espeak"]
    for kind in ("cold", "warm"):
        assert set(result[kind]) == {"short", "medium", "long"}
    assert result["warm"]["long"]["tts_ttfb_ms"]["count"] == 2
    assert result["concurrent"]["requests"] == 3 and result["concurrent"]["rtf"]["count"] == 3
    assert result["warm"]["long"]["audio_s"] > result["warm"]["short"]["audio_s"] > 1.0
    assert 0 < result["warm"]["medium"]["rtf"]["p50"] < 1
    assert plot.read_bytes().startswith(b"\x89PNG")
