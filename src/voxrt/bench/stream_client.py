"""The client side of ``voxrt bench stream``: sessions that stream speech over ``/v1/realtime`` at
real-time pace (through :class:`~voxrt.bench.realtime_client.RealtimeClient`) and fold the server's
events into what each item was seen to do, and when."""

from __future__ import annotations

import asyncio
import os
import time
import wave
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from voxrt.audio import decode_audio, resample
from voxrt.audio.pcm import to_float32, to_int16
from voxrt.bench.realtime_client import Event, RealtimeClient, transcription_session

__all__ = [
    "RATE",
    "Clip",
    "Item",
    "Run",
    "Script",
    "SessionLog",
    "build_script",
    "decode_clip",
    "load_clip",
    "process_cpu_s",
    "speech_span",
    "stream_sessions",
]

RATE = 24000  # the Realtime API's audio/pcm rate
EDGE_AMPLITUDE = 0.01  # speech edges: first / last sample above -40 dBFS, as in the tests
LEAD_MS = 500
_SETUP_TIMEOUT_S = 15.0
_DRAIN_TIMEOUT_S = 30.0  # a session gives up this long after its last audio
_QUIET_S = 3.0  # nothing pending and no event for this long: a missed utterance won't come
# no compression: deflating audio would cost the server CPU the benchmark means to give the ASR
_CONNECT: dict[str, Any] = {"compression": None, "ping_interval": None, "open_timeout": _SETUP_TIMEOUT_S}


def speech_span(audio: np.ndarray, threshold: float = EDGE_AMPLITUDE) -> tuple[int, int] | None:
    """First and last sample index of float audio whose magnitude exceeds ``threshold``; None if none."""
    voiced = np.flatnonzero(np.abs(audio) > threshold)
    return None if len(voiced) == 0 else (int(voiced[0]), int(voiced[-1]))


def process_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds process ``pid`` (all its threads) has used; None without /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # the name in parentheses may hold spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Clip:
    """One sentence as 24 kHz int16 samples, with the first and last voiced sample of the clean audio."""

    text: str
    pcm: np.ndarray
    span: tuple[int, int]


@dataclass(frozen=True)
class Script:
    """What one session streams: 24 kHz int16 PCM, its sentences and their true voiced sample spans."""

    pcm: bytes
    texts: list[str]
    spans: list[tuple[int, int]]


@dataclass
class Item:
    """What the client saw of one server item (utterance): audio times in ms, receive times in
    ``time.perf_counter`` seconds."""

    start_ms: float | None = None
    end_ms: float | None = None
    started_at: float | None = None
    first_delta_at: float | None = None
    completed_at: float | None = None
    transcript: str = ""
    failed: bool = False
    metrics: dict[str, Any] | None = None

    @property
    def done(self) -> bool:
        return self.failed or (self.completed_at is not None and self.metrics is not None)


@dataclass
class SessionLog:
    """One session: when each chunk was sent (and how late), the items, errors and anomalies."""

    sent_at: list[float] = field(default_factory=list)
    send_lag_ms: list[float] = field(default_factory=list)
    items: dict[str, Item] = field(default_factory=dict)  # in order of first event
    errors: list[str] = field(default_factory=list)
    out_of_order: int = 0
    timed_out: bool = False
    last_event_at: float = 0.0

    def add(self, at: float, event: Event) -> None:
        """Fold in one server event received at ``at`` (``time.perf_counter``)."""
        self.last_event_at = at
        kind, item_id = event.get("type"), event.get("item_id")
        if kind == "error":
            self.errors.append(str(event.get("error", {}).get("message")))
        if not isinstance(item_id, str):
            return
        item = self.items.setdefault(item_id, Item())
        if kind == "input_audio_buffer.speech_started":
            item.start_ms, item.started_at = event.get("audio_start_ms"), at
        elif item.started_at is None and kind != "input_audio_buffer.committed":
            self.out_of_order += 1  # every VAD item's events follow its speech_started
        if kind == "input_audio_buffer.speech_stopped":
            item.end_ms = event.get("audio_end_ms")
        elif kind == "conversation.item.input_audio_transcription.delta" and item.first_delta_at is None:
            item.first_delta_at = at
        elif kind == "conversation.item.input_audio_transcription.completed":
            self.out_of_order += item.end_ms is None
            item.completed_at, item.transcript = at, str(event.get("transcript", ""))
        elif kind == "conversation.item.input_audio_transcription.failed":
            item.failed = True
            self.errors.append(str(event.get("error", {}).get("message")))
        elif kind == "voxrt.metrics":
            item.metrics = event


def load_clip(text: str, path: Path) -> Clip:
    """A corpus WAV resampled to 24 kHz, with its speech edges found in the clean audio.

    Raises:
        RuntimeError: the file holds no sample above the edge amplitude.
    """
    with wave.open(str(path)) as wav:
        rate = wav.getframerate()
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    audio = resample(to_float32(samples), rate, RATE)
    span = speech_span(audio)
    if span is None:
        raise RuntimeError(f"{path} holds no speech")
    return Clip(text, to_int16(audio), span)


def decode_clip(text: str, path: Path) -> Clip:
    """Any audio file voxrt decodes (a manifest's, say) resampled to 24 kHz through 16 kHz, with its
    speech edges found as ``load_clip`` finds them.

    Raises:
        RuntimeError: the file holds no sample above the edge amplitude.
    """
    audio = resample(decode_audio(path.read_bytes()), 16000, RATE)
    span = speech_span(audio)
    if span is None:
        raise RuntimeError(f"{path} holds no speech")
    return Clip(text, to_int16(audio), span)


def build_script(clips: list[Clip], count: int, first: int, pause_ms: int) -> Script:
    """``count`` clips from ``clips[first]`` on (cycling), after LEAD_MS of silence, each followed by
    ``pause_ms`` of silence."""
    parts = [np.zeros(LEAD_MS * RATE // 1000, "<i2")]
    position = len(parts[0])
    texts, spans = [], []
    for j in range(count):
        clip = clips[(first + j) % len(clips)]
        texts.append(clip.text)
        spans.append((position + clip.span[0], position + clip.span[1]))
        parts += [clip.pcm, np.zeros(pause_ms * RATE // 1000, "<i2")]
        position += len(clip.pcm) + len(parts[-1])
    return Script(np.concatenate(parts).tobytes(), texts, spans)


async def _session(
    client: RealtimeClient, log: SessionLog, script: Script, start_at: float, chunk_ms: int
) -> SessionLog:
    # a send blocked by a server that stopped reading must not hang the benchmark either
    give_up_at = start_at + len(script.pcm) / 2 / RATE + 2 * _DRAIN_TIMEOUT_S
    try:
        async with asyncio.timeout(give_up_at - time.perf_counter()):
            await client.stream(script.pcm, RATE, chunk_ms, start_at=start_at)
            await _drain(log, client, len(script.texts))
        if not client.connected:
            error = client.error
            log.errors.append(
                f"connection ended: {error!r}" if error else f"closed by the server: {client.ws.close_code}"
            )
    except TimeoutError:
        log.timed_out = True
    except Exception as exc:
        log.errors.append(f"{type(exc).__name__}: {exc}")
    finally:
        await client.close()
        log.sent_at = [sent.at for sent in client.sent]
        log.send_lag_ms = [sent.lag_ms for sent in client.sent]
    return log


async def _drain(log: SessionLog, client: RealtimeClient, expected: int) -> None:
    """Wait until every item is done and either all ``expected`` came or the server went quiet.

    Raises:
        TimeoutError: still waiting ``_DRAIN_TIMEOUT_S`` after the last audio.
    """
    last_sent = time.perf_counter()
    while client.connected:
        now = time.perf_counter()
        if now > last_sent + _DRAIN_TIMEOUT_S:
            raise TimeoutError
        items = log.items.values()
        if all(item.done for item in items) and (
            sum(item.done for item in items) >= expected or now - max(log.last_event_at, last_sent) > _QUIET_S
        ):
            return
        await asyncio.sleep(0.05)


@dataclass(frozen=True)
class Run:
    """Every session's log, the wall time from the first scheduled chunk to the last session's end,
    and the server process's CPU seconds over that time (None without /proc)."""

    logs: list[SessionLog]
    wall_s: float
    cpu_s: float | None


async def stream_sessions(
    url: str, scripts: list[Script], chunk_ms: int, server_pid: int, language: str | None = None
) -> Run:
    """Open one session per script (all before any audio; ``language`` set as the transcription
    language when given), stream them at real-time pace with starts staggered over ten chunks, and
    wait for their transcripts. Never raises for a session's failure: it is logged in that
    session's ``errors``."""
    logs = [SessionLog() for _ in scripts]
    session = transcription_session(RATE, language)
    opened = await asyncio.gather(
        *(
            RealtimeClient.open(
                url, session=session, on_event=log.add, setup_timeout_s=_SETUP_TIMEOUT_S, **_CONNECT
            )
            for log in logs
        ),
        return_exceptions=True,
    )
    cpu_before = process_cpu_s(server_pid)
    started = time.perf_counter() + 0.1
    stagger_s = 10 * chunk_ms / 1000 / len(scripts)  # so sessions don't all append in the same instant
    tasks: list[Coroutine[Any, Any, SessionLog]] = []
    for index, (client, log, script) in enumerate(zip(opened, logs, scripts, strict=True)):
        if isinstance(client, BaseException):
            tasks.append(asyncio.sleep(0, SessionLog(errors=[f"connect: {type(client).__name__}: {client}"])))
        else:
            tasks.append(_session(client, log, script, started + index * stagger_s, chunk_ms))
    logs = list(await asyncio.gather(*tasks))
    wall_s = time.perf_counter() - started
    cpu_after = process_cpu_s(server_pid)
    cpu_s = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
    return Run(logs, wall_s, cpu_s)
