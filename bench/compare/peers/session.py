"""One streaming session against any system, paced in real time, through that system's own protocol.

A :class:`Protocol` knows one system's wire format: what to send to open a session, how to wrap
a chunk of audio, how to say "end of audio", and how to turn each server message into the text the
client now shows, split into final (committed) and partial. The driver here is the same for every
system, so pacing, timing and the end of a session are measured alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from voxrt.bench.realtime_client import RealtimeClient, silence

__all__ = ["Plan", "Protocol", "Run", "Snapshot", "Trace", "stream_sessions", "tree_cpu_s"]

RATE = 16000  # every system is sent the same 16 kHz 16-bit mono PCM
_SETUP_TIMEOUT_S = 60.0  # WhisperLive loads its model when the first client connects
_QUIET_S = 3.0  # after the end of audio, no message for this long: nothing more is coming
_TAIL_S = 20.0  # silence streamed after the audio at most, for a system still catching up
_DRAIN_S = 30.0  # and never wait longer than this after the audio
# no compression: deflating audio would cost the server CPU that the benchmark means for the ASR
_CONNECT: dict[str, Any] = {"compression": None, "ping_interval": None, "open_timeout": _SETUP_TIMEOUT_S}


@dataclass(frozen=True)
class Snapshot:
    """What the client shows after a server message: ``time.perf_counter`` receive time, the final
    text so far (never revised by the server's protocol) and the partial text after it."""

    at: float
    committed: str
    partial: str


class Protocol(ABC):
    """One session's view of a system's wire protocol (a new instance per session)."""

    path: str = "/"  # URL path and query on the server

    @abstractmethod
    def hello(self) -> list[str | bytes]:
        """Messages to send right after the WebSocket opens."""

    @abstractmethod
    def ready(self, event: dict[str, Any]) -> bool:
        """Whether ``event`` says the session is ready for audio.

        Raises:
            RuntimeError: the event is a refusal.
        """

    @abstractmethod
    def audio(self, pcm: bytes) -> str | bytes:
        """The message carrying ``pcm`` (16 kHz int16 mono)."""

    def end(self) -> str | bytes | None:
        """The end-of-audio message, if the protocol has one."""
        return None

    @abstractmethod
    def update(self, event: dict[str, Any]) -> tuple[str, str] | None:
        """Fold a server message in; the (committed, partial) text it leaves, or None if unchanged."""

    def error(self, event: dict[str, Any]) -> str | None:
        """The error a message reports, if any."""
        return None

    def finished(self, utterances: int) -> bool:
        """Whether every one of ``utterances`` has its final text (lets a session end early)."""
        return False


@dataclass
class Trace:
    """One session as its client saw it: when each chunk was sent, every change of the shown text,
    errors, and when the session ended."""

    sent_at: list[float] = field(default_factory=list)
    snapshots: list[Snapshot] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    last_message_at: float = 0.0
    ended_at: float = 0.0


def tree_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of process ``pid`` and its live descendants; None without /proc."""
    total, stack, seen = 0.0, [pid], set()
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        try:
            stat = Path(f"/proc/{current}/stat").read_text()
        except OSError:
            if current == pid:
                return None
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # the name in parentheses may hold spaces
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                stack += [int(child) for child in task.read_text().split()]
    return total


async def _open(url: str, protocol: Protocol, trace: Trace) -> RealtimeClient:
    client = await RealtimeClient.open(url, on_event=functools.partial(_fold, protocol, trace), **_CONNECT)
    try:
        async with asyncio.timeout(_SETUP_TIMEOUT_S):
            for message in protocol.hello():
                await client.send(message)
            await client.wait(lambda: any(protocol.ready(event) for _, event in client.events), None)
    except BaseException:
        await client.close()
        raise
    return client


def _fold(protocol: Protocol, trace: Trace, at: float, event: dict[str, Any]) -> None:
    """One server message into the trace: its errors, and the shown text if it changed."""
    trace.last_message_at = at
    if (error := protocol.error(event)) is not None:
        trace.errors.append(error)
    shown = (trace.snapshots[-1].committed, trace.snapshots[-1].partial) if trace.snapshots else ("", "")
    text = protocol.update(event)
    if text is not None and text != shown:
        trace.snapshots.append(Snapshot(at, *text))


@dataclass(frozen=True)
class Plan:
    """What one session streams: 16 kHz int16 PCM, how many utterances it holds, and a test of the
    final text for "every utterance that counts is final" (until then silence follows the audio)."""

    pcm: bytes
    utterances: int
    settled: Callable[[str], bool]


async def _session(
    client: RealtimeClient, protocol: Protocol, trace: Trace, plan: Plan, start_at: float, chunk_ms: int
) -> Trace:
    checked = 0  # snapshots already tested with plan.settled

    def closed() -> bool:
        return not client.connected

    def done() -> bool:
        nonlocal checked
        if closed() or protocol.finished(plan.utterances):
            return True
        if len(trace.snapshots) == checked:
            return False
        checked = len(trace.snapshots)
        return plan.settled(trace.snapshots[-1].committed)

    try:
        audio_end = await client.stream(
            plan.pcm, RATE, chunk_ms, start_at=start_at, frame=protocol.audio, until=closed
        )
        # then silence, as an open microphone sends, until the utterances that count are final
        tail = silence(1000 * _TAIL_S, RATE)
        await client.stream(tail, RATE, chunk_ms, start_at=audio_end, frame=protocol.audio, until=done)
        if (end := protocol.end()) is not None and client.connected:
            await client.send(end)
        last_sent = time.perf_counter()
        while client.connected and not protocol.finished(plan.utterances):
            now = time.perf_counter()
            if now - max(trace.last_message_at, last_sent) > _QUIET_S or now - last_sent > _DRAIN_S:
                break
            await asyncio.sleep(0.05)
        if not client.connected and (exc := client.error) is not None:
            trace.errors.append(f"connection: {type(exc).__name__}: {exc}")
    except Exception as exc:
        trace.errors.append(f"{type(exc).__name__}: {exc}")
    finally:
        trace.ended_at = time.perf_counter()
        await client.close()
        trace.sent_at = [sent.at for sent in client.sent]
    return trace


@dataclass(frozen=True)
class Run:
    """Every session's trace, the wall time from the first scheduled chunk to the last session's
    end, and the server's CPU seconds over that time (None without /proc)."""

    traces: list[Trace]
    wall_s: float
    cpu_s: float | None


async def stream_sessions(
    url: str, protocol: Callable[[], Protocol], plans: list[Plan], chunk_ms: int, server_pid: int
) -> Run:
    """Open one session per plan (all before any audio), stream them at real-time pace with starts
    staggered over ten chunks, and wait for their text. Never raises for one session's failure: it
    is logged in that session's ``errors``."""
    protocols = [protocol() for _ in plans]
    traces = [Trace() for _ in plans]
    opened = await asyncio.gather(
        *(_open(url, p, t) for p, t in zip(protocols, traces, strict=True)), return_exceptions=True
    )
    cpu_before = tree_cpu_s(server_pid)
    started = time.perf_counter() + 0.1
    stagger_s = 10 * chunk_ms / 1000 / len(plans)  # so sessions don't all send in the same instant
    tasks: list[Coroutine[Any, Any, Trace]] = []
    for index, (client, p, trace, plan) in enumerate(zip(opened, protocols, traces, plans, strict=True)):
        if isinstance(client, BaseException):
            tasks.append(asyncio.sleep(0, Trace(errors=[f"connect: {type(client).__name__}: {client}"])))
        else:
            tasks.append(_session(client, p, trace, plan, started + index * stagger_s, chunk_ms))
    traces = list(await asyncio.gather(*tasks))
    wall_s = time.perf_counter() - started
    cpu_after = tree_cpu_s(server_pid)
    cpu_s = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
    return Run(traces, wall_s, cpu_s)
