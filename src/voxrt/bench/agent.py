"""``voxrt bench agent``: voice-to-voice latency of conversation sessions, like a client.

Each session streams microphone audio at real-time pace without a break (silence between turns,
as a microphone sends): a spoken question, then silence while the reply arrives and "plays" (its
audio length from the first delta), a pause, the next question. Per turn: ``voice_to_voice_ms``
from the true end of the question's speech (its last voiced sample, sent at real-time pace) to
the first reply audio received, and the server's stage figures (``voxrt.metrics``) that make it up.
With ``--barge-in`` each session then asks for a long story and interrupts it 4 s into its audio:
the reaction is ``speech_started`` to the last audio delta of the cut reply, both as received.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from voxrt.audio import resample
from voxrt.audio.pcm import to_float32, to_int16
from voxrt.bench.corpus import synthesize
from voxrt.bench.realtime_client import RealtimeClient, silence
from voxrt.bench.server import add_server_env_argument, running_server
from voxrt.bench.stream import capacity, percentiles
from voxrt.bench.stream_client import speech_span
from voxrt.config import Settings

__all__ = ["QUESTIONS", "STAGES", "add_arguments", "breakdown", "run", "summarize"]

RATE = 24000
CHUNK_MS = 40
QUESTIONS = (
    "What is the capital of France?",
    "How many days are there in a week?",
    "What is the boiling point of water?",
    "Name a fruit that is yellow.",
    "Why is the sky blue?",
    "Tell me a fun fact about cats.",
)
STORY = "Tell me a long story about a dragon and a knight."
INTERRUPTION = "Stop, what time is it?"
PAUSE_S = 1.0  # after a reply has played, before the next question
TURN_TIMEOUT_S = 60.0
BARGE_IN_AFTER_S = 4.0  # past the 3 s echo guard
V2V_P95_LIMIT_MS = 2500.0
# The stacked stages of voice-to-voice latency, from the two voxrt.metrics events of a turn.
STAGES = ("endpoint", "asr", "llm_ttft", "first_chunk", "tts_ttfb", "send")


@dataclass
class Turn:
    """One question and its reply, as the client saw them (perf_counter seconds)."""

    question: str
    speech_end_at: float = 0.0
    first_audio_at: float | None = None
    reply: dict[str, Any] | None = None  # response.done's response
    user_metrics: dict[str, Any] | None = None
    reply_metrics: dict[str, Any] | None = None
    transcript: str = ""

    @property
    def voice_to_voice_ms(self) -> float | None:
        if self.first_audio_at is None:
            return None
        return 1000 * (self.first_audio_at - self.speech_end_at)


@dataclass
class SessionResult:
    turns: list[Turn] = field(default_factory=list)
    barge_in_ms: float | None = None  # speech_started -> last delta of the cut reply, received
    barge_in_cancelled: bool | None = None
    errors: list[str] = field(default_factory=list)


class _Mic:
    """A microphone at real-time pace: each clip queued with ``say``, else silence, 40 ms a chunk,
    on one continuous schedule."""

    def __init__(self, client: RealtimeClient) -> None:
        self.client = client
        self._queue: list[tuple[bytes, asyncio.Future[float]]] = []
        self._task = asyncio.create_task(self._run())

    def say(self, pcm: np.ndarray) -> asyncio.Future[float]:
        """Queue ``pcm``; the future is the ``perf_counter`` time its first sample is due."""
        started: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._queue.append((pcm.tobytes(), started))
        return started

    async def _run(self) -> None:
        due = time.perf_counter()
        quiet = silence(CHUNK_MS, RATE)
        while True:
            pcm = quiet
            if self._queue:
                pcm, started = self._queue.pop(0)
                started.set_result(due)
            due = await self.client.stream(pcm, RATE, CHUNK_MS, start_at=due)

    def close(self) -> None:
        self._task.cancel()


def _clip(text: str) -> tuple[np.ndarray, int]:
    """``text`` spoken (Piper) at 24 kHz int16, and the index of its last voiced sample."""
    samples, rate = synthesize(text)
    audio = resample(to_float32(samples), rate, RATE)
    span = speech_span(audio)
    assert span is not None
    return to_int16(audio), span[1]


async def _session(
    url: str,
    clips: list[tuple[str, np.ndarray, int]],
    barge: tuple[np.ndarray, np.ndarray, int] | None,
    turn_detection: str = "server_vad",
) -> SessionResult:
    result = SessionResult()
    audio_in = {"format": {"type": "audio/pcm", "rate": RATE}, "turn_detection": {"type": turn_detection}}
    # Replies are paced at playback speed, so a rambling one holds its turn for a minute; 100 tokens
    # (~30 s of speech) bound a turn and change nothing before the first audio.
    session = {"type": "realtime", "max_output_tokens": 100, "audio": {"input": audio_in}}
    client = await RealtimeClient.open(url, session=session)
    events = client.events
    mic = _Mic(client)
    try:
        for text, pcm, last_voiced in clips:
            turn = Turn(text)
            seen = len(events)
            turn.speech_end_at = await mic.say(pcm) + last_voiced / RATE
            await _reply(events, seen, turn)
            result.turns.append(turn)
        if barge is not None:
            await _barge_in(events, mic, barge, result)
    except TimeoutError as exc:
        result.errors.append(str(exc))
    finally:
        mic.close()
        await client.close()
    result.errors += [e["error"]["message"] for _, e in events if e["type"] == "error"]
    return result


async def _wait(events: list[tuple[float, dict[str, Any]]], start: int, kind: str, what: str) -> int:
    """The index of the first ``kind`` event at or after ``start``."""
    deadline = time.perf_counter() + TURN_TIMEOUT_S
    while True:
        for index in range(start, len(events)):
            if events[index][1]["type"] == kind:
                return index
        if time.perf_counter() > deadline:
            raise TimeoutError(f"no {kind} within {TURN_TIMEOUT_S:g} s ({what})")
        await asyncio.sleep(0.01)


async def _reply(events: list[tuple[float, dict[str, Any]]], seen: int, turn: Turn) -> None:
    """Wait for the reply to ``turn``, fill in what was seen, and let its audio play out."""
    done = await _wait(events, seen, "response.done", turn.question)
    reply = events[done][1]["response"]
    turn.reply = reply
    audio_s = 0.0
    for at, event in events[seen:done]:
        kind = event["type"]
        if kind == "response.output_audio.delta" and event["response_id"] == reply["id"]:
            turn.first_audio_at = turn.first_audio_at or at
            audio_s += len(base64.b64decode(event["delta"])) / 2 / RATE
        elif kind == "conversation.item.input_audio_transcription.completed":
            turn.transcript = event["transcript"]
        elif kind == "voxrt.metrics" and "asr_final_ms" in event:
            turn.user_metrics = event
    metrics = await _wait(events, done, "voxrt.metrics", turn.question)
    turn.reply_metrics = events[metrics][1]
    if turn.first_audio_at is not None:
        await asyncio.sleep(max(0.0, turn.first_audio_at + audio_s - time.perf_counter()))
    await asyncio.sleep(PAUSE_S)


async def _barge_in(
    events: list[tuple[float, dict[str, Any]]],
    mic: _Mic,
    barge: tuple[np.ndarray, np.ndarray, int],
    result: SessionResult,
) -> None:
    story, interruption, _ = barge
    seen = len(events)
    mic.say(story)
    created = await _wait(events, seen, "response.created", "the story")
    response_id = events[created][1]["response"]["id"]
    first = created
    while (
        events[first][1].get("response_id") != response_id
        or events[first][1]["type"] != "response.output_audio.delta"
    ):
        first = await _wait(events, first + 1, "response.output_audio.delta", "the story's audio")
    await asyncio.sleep(max(0.0, events[first][0] + BARGE_IN_AFTER_S - time.perf_counter()))
    cut = len(events)
    mic.say(interruption)
    started = await _wait(events, cut, "input_audio_buffer.speech_started", "the interruption")
    done = await _wait(events, cut, "response.done", "the cut story")
    deltas = [
        at for at, e in events[first:]
        if e["type"] == "response.output_audio.delta" and e["response_id"] == response_id
    ]  # fmt: skip
    result.barge_in_ms = 1000 * (deltas[-1] - events[started][0]) if deltas else None
    result.barge_in_cancelled = events[done][1]["response"]["status"] == "cancelled"
    answer = await _wait(events, done + 1, "response.done", "the answer to the interruption")
    await _wait(events, answer, "voxrt.metrics", "the answer's metrics")


def breakdown(turn: Turn) -> dict[str, float] | None:
    """A turn's voice-to-voice latency as the stacked ``STAGES`` (ms), or None when incomplete."""
    user, reply, total = turn.user_metrics or {}, turn.reply_metrics or {}, turn.voice_to_voice_ms
    needed = (user.get("endpoint_ms"), user.get("asr_final_ms"), reply.get("llm_ttft_ms"),
              reply.get("first_chunk_ms"), reply.get("tts_ttfb_ms"), total)  # fmt: skip
    if any(value is None for value in needed):
        return None
    endpoint, final, ttft, chunk, ttfb, v2v = (float(v) for v in needed)  # type: ignore[arg-type]
    return {
        "endpoint": endpoint,
        "asr": final - endpoint,
        "llm_ttft": ttft,
        "first_chunk": chunk - ttft,
        "tts_ttfb": ttfb,
        "send": v2v - final - chunk - ttfb,
    }


def summarize(sessions: int, results: list[SessionResult]) -> dict[str, Any]:
    """Percentiles of one run of ``sessions`` concurrent sessions."""
    turns = [t for r in results for t in r.turns]
    stages = [b for t in turns if (b := breakdown(t)) is not None]
    return {
        "sessions": sessions,
        "turns": len(turns),
        "answered": sum(t.first_audio_at is not None for t in turns),
        "voice_to_voice_ms": percentiles([v for t in turns if (v := t.voice_to_voice_ms) is not None]),
        "server_voice_to_voice_ms": percentiles(
            [float(v) for t in turns if (v := (t.reply_metrics or {}).get("voice_to_voice_ms")) is not None]
        ),
        "stages_ms": {stage: percentiles([s[stage] for s in stages]) for stage in STAGES},
        "barge_in_ms": percentiles([r.barge_in_ms for r in results if r.barge_in_ms is not None]),
        "barge_in_cancelled": [r.barge_in_cancelled for r in results if r.barge_in_cancelled is not None],
        "transcripts": [(t.question, t.transcript) for t in turns][:6],
        "errors": sorted({e for r in results for e in r.errors})[:10],
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sweep", type=_counts, default=[1], help="concurrent sessions, e.g. 1,2,4")
    parser.add_argument("--turns", type=int, default=4, help="questions per session")
    parser.add_argument("--barge-in", action="store_true", help="end each session with an interruption")
    parser.add_argument(
        "--turn-detection",
        choices=["server_vad", "semantic_vad"],
        default="server_vad",
        help="the sessions' turn detection (semantic_vad: Smart Turn, eagerness auto)",
    )
    add_server_env_argument(parser, "VOXRT_CONVERSATION__PREEMPTIVE_GENERATION=false")
    parser.add_argument(
        "--limit-ms", type=float, default=V2V_P95_LIMIT_MS, help="capacity: voice_to_voice_ms p95 bound"
    )
    parser.add_argument(
        "--output", type=Path, default=Path("bench-results/agent.json"), help="JSON; PNG beside"
    )


def _counts(text: str) -> list[int]:
    counts = [int(part) for part in text.split(",")]
    if any(n < 1 for n in counts):
        raise argparse.ArgumentTypeError("session counts are positive")
    return counts


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run the sweep, print a table, write JSON and the stacked-bar PNG; 0 when every turn was
    answered."""
    from voxrt.bench.plot import plot_stages

    spoken = [(text, *_clip(text)) for text in QUESTIONS]
    story, interruption = _clip(STORY)[0], _clip(INTERRUPTION)
    barge = (story, *interruption) if args.barge_in else None
    env = {"VOXRT_REALTIME__MAX_SESSIONS": str(max(args.sweep) + 1), **dict(args.server_env)}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    with running_server(args.output.with_suffix(".server.log"), config=args.config, env=env) as server:
        url = server.base_url.replace("http", "ws", 1) + "/v1/realtime?metrics=true"  # the stage figures
        asyncio.run(_session(url, spoken[:1], None))  # warm-up: a process's first replies are slow
        print("sessions  turns  v2v p50   p95  | endpoint   asr  ttft chunk  ttfb  send (p50, ms) | barge-in")
        for count in args.sweep:
            plans = [[spoken[(i + j) % len(spoken)] for j in range(args.turns)] for i in range(count)]
            results = asyncio.run(_all(url, plans, barge, args.turn_detection))
            row = summarize(count, results)
            rows.append(row)
            stages = " ".join(f"{row['stages_ms'][s]['p50'] or 0:5.0f}" for s in STAGES)
            v2v = row["voice_to_voice_ms"]
            print(
                f"{count:8d} {row['answered']:3d}/{row['turns']:<3d} "
                f"{v2v['p50'] or 0:6.0f} {v2v['p95'] or 0:5.0f}  | "
                f"{stages}          | {row['barge_in_ms']['p50']}",
                flush=True,
            )
    best = capacity({r["sessions"]: r["voice_to_voice_ms"]["p95"] for r in rows}, args.limit_ms)
    report = {
        "settings": {"sweep": args.sweep, "turns": args.turns, "barge_in": args.barge_in,
                     "turn_detection": args.turn_detection, "server_env": dict(args.server_env),
                     "config": None if args.config is None else str(args.config), "limit_ms": args.limit_ms},
        "runs": rows,
        "capacity": best,
    }  # fmt: skip
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    png = args.output.with_suffix(".png")
    plot_stages(rows, STAGES, png, title="voxrt bench agent: voice-to-voice latency by stage (p50)")
    for error in sorted({e for r in rows for e in r["errors"]})[:5]:
        print(f"  error: {error}")
    print(f"capacity (voice_to_voice_ms p95 <= {args.limit_ms:g} ms): {best if best is not None else 'none'}")
    print(f"written to {args.output} and {png}")
    return 0 if all(r["answered"] == r["turns"] for r in rows) else 1


async def _all(
    url: str,
    plans: list[list[tuple[str, np.ndarray, int]]],
    barge: tuple[np.ndarray, np.ndarray, int] | None,
    turn_detection: str,
) -> list[SessionResult]:
    return list(await asyncio.gather(*(_session(url, plan, barge, turn_detection) for plan in plans)))
