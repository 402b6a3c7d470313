"""``voxrt talk``'s conversation loop against a live server on the embedded models. There is no
audio device here, so the two ends of PortAudio are played by the test: a microphone that speaks
Piper questions (and silence) in 40 ms blocks at real-time pace, and a speaker that pulls from the
``Playback`` every 40 ms, as an output device's callback does. Everything between them is
``voxrt.talk`` as a user runs it: the socket, the session, printing, playback and barge-in."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator

import numpy as np
import pytest

from tests.e2e.conftest import CONVERSATION_KEY
from tests.speech import spoken_pcm
from voxrt.bench.server import ServerProcess
from voxrt.bench.wer import wer
from voxrt.talk import BLOCK, RATE, Playback, converse

pytestmark = pytest.mark.e2e

SILENT_RMS = 30  # int16: below this a 40 ms block is silence


class Microphone:
    """40 ms blocks at real-time pace: what ``say`` queued, else silence, until ``close``."""

    def __init__(self) -> None:
        self._speech = b""
        self._open = True

    def say(self, pcm: bytes) -> None:
        self._speech += pcm

    def close(self) -> None:
        self._open = False

    async def blocks(self) -> AsyncIterator[bytes]:
        due = time.perf_counter()
        while self._open:
            block, self._speech = self._speech[: 2 * BLOCK], self._speech[2 * BLOCK :]
            yield block.ljust(2 * BLOCK, b"\0")
            due += BLOCK / RATE
            await asyncio.sleep(max(0.0, due - time.perf_counter()))


class Speaker:
    """Pulls ``playback`` every 40 ms and keeps when each block played and how loud it was."""

    def __init__(self, playback: Playback) -> None:
        self.blocks: list[tuple[float, float]] = []  # (perf_counter, rms)
        self._task = asyncio.create_task(self._play(playback))

    async def _play(self, playback: Playback) -> None:
        due = time.perf_counter()
        while True:
            samples = playback.pull(BLOCK).astype(np.float64)
            self.blocks.append((time.perf_counter(), float(np.sqrt(np.mean(samples**2)))))
            due += BLOCK / RATE
            await asyncio.sleep(max(0.0, due - time.perf_counter()))

    def voiced_s(self) -> float:
        return BLOCK / RATE * sum(rms > SILENT_RMS for _, rms in self.blocks)

    def close(self) -> None:
        self._task.cancel()


class Terminal:
    """The lines ``converse`` prints, with when they came."""

    def __init__(self) -> None:
        self.lines: list[tuple[float, str]] = []

    def say(self, line: str) -> None:
        self.lines.append((time.perf_counter(), line))

    def starting(self, prefix: str) -> list[str]:
        return [line for _, line in self.lines if line.startswith(prefix)]

    async def wait_for(self, prefix: str, timeout: float = 60.0) -> tuple[float, str]:
        async with asyncio.timeout(timeout):
            while True:
                for at, line in self.lines:
                    if line.startswith(prefix):
                        return at, line
                await asyncio.sleep(0.02)


def _session(instructions: str | None = None) -> dict[str, object]:
    pcm = {"type": "audio/pcm", "rate": RATE}
    session: dict[str, object] = {
        "type": "realtime",
        "audio": {"input": {"format": pcm}, "output": {"format": pcm}},
    }
    if instructions:
        session["instructions"] = instructions
    return session


async def _talking(
    server: ServerProcess, session: dict[str, object]
) -> tuple[Microphone, Speaker, Terminal, asyncio.Task[None]]:
    mic, playback, terminal = Microphone(), Playback(), Terminal()
    url = server.base_url.replace("http", "ws", 1)
    task = asyncio.create_task(converse(url, session, mic.blocks(), playback, terminal.say, CONVERSATION_KEY))
    await terminal.wait_for("(listening", timeout=15)
    return mic, Speaker(playback), terminal, task


def test_a_spoken_question_is_answered_aloud(conversation_server: ServerProcess) -> None:
    question = "What is the capital of France?"

    async def run() -> tuple[Speaker, Terminal]:
        mic, speaker, terminal, task = await _talking(conversation_server, _session())
        mic.say(spoken_pcm(question))
        await terminal.wait_for("voxrt:")
        await terminal.wait_for("(voice to voice")
        mic.close()
        await task
        speaker.close()
        return speaker, terminal

    speaker, terminal = asyncio.run(run())
    heard = terminal.starting("you:")[0].removeprefix("you:").strip()
    assert wer([question], [heard]) <= 0.2, heard
    assert "paris" in terminal.starting("voxrt:")[0].lower()
    assert speaker.voiced_s() > 0.5  # the answer was played, not just printed
    v2v = re.search(r"(\d+) ms", terminal.starting("(voice to voice")[0])
    assert v2v is not None and 0 < int(v2v.group(1)) < 10_000
    assert not terminal.starting("(error")


def test_speaking_during_the_reply_stops_playback_and_truncates_it(
    conversation_server: ServerProcess,
) -> None:
    async def run() -> tuple[Speaker, Terminal, float]:
        mic, speaker, terminal, task = await _talking(
            conversation_server, _session("You tell long, detailed stories.")
        )
        mic.say(spoken_pcm("Tell me a long story about a dragon and a knight."))
        async with asyncio.timeout(60):
            while speaker.voiced_s() < 4.0:  # past the server's echo guard
                await asyncio.sleep(0.05)
        mic.say(spoken_pcm("Stop, what time is it?"))
        cut_at, _ = await terminal.wait_for("(interrupted after")
        await asyncio.sleep(1.0)  # the question is still being spoken: nothing plays meanwhile
        mic.close()
        await task
        speaker.close()
        return speaker, terminal, cut_at

    speaker, terminal, cut_at = asyncio.run(run())
    voiced = [at for at, rms in speaker.blocks if rms > SILENT_RMS]
    before = [at for at in voiced if at <= cut_at]
    assert any(at > cut_at + 0.9 for at, _ in speaker.blocks)  # the speaker went on pulling
    assert not [at for at in voiced if cut_at < at < cut_at + 0.9], "playback went on after the interruption"
    # The truncate carried what the speaker had played: at least its voiced blocks, at most the time
    # since the first (pauses between sentences play too); the server took it (no error line).
    said = float(re.findall(r"after ([\d.]+) s", terminal.starting("(interrupted after")[0])[0])
    assert len(before) * BLOCK / RATE - 0.1 <= said <= cut_at - before[0] + 0.2, (said, len(before))
    assert not terminal.starting("(error")


def test_talk_without_a_device_or_a_server_fails_with_a_message() -> None:
    # Here either PortAudio is missing, or it finds no device; on a machine with both, nothing
    # listens on port 1. Each ends with one line on stderr and status 1, not a traceback.
    done = subprocess.run(
        [sys.executable, "-m", "voxrt.cli", "talk", "--url", "ws://127.0.0.1:1"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("voxrt talk") and "Traceback" not in done.stderr
