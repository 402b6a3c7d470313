"""``voxrt bench turns``: how long each turn detection mode takes to end a spoken question, and
whether a question with a pause in the middle stays one turn.

Each question (Piper, without random variation) is streamed at real-time pace, 20 ms at a time,
into an in-process transcription session on the configured recognizer and VAD, with Smart Turn
for semantic_vad. The end-of-turn delay is the wall time from pushing the audio that holds the
last sample of speech to ``input_audio_buffer.committed``: for server_vad that is the silence
window plus frame rounding, for semantic_vad the silence before the model is asked plus its
answer (or the eagerness's longest wait when it never calls the question finished).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from voxrt.asr import ASREngine, create_asr_engine
from voxrt.audio import resample
from voxrt.bench.corpus import synthesize
from voxrt.bench.stream import percentiles
from voxrt.config import Settings
from voxrt.realtime.transcription import TranscriptionSession
from voxrt.vad import VADModel, create_vad
from voxrt.vad.smart_turn import EndOfTurnModel, SmartTurn

__all__ = ["PAUSED_QUESTION", "QUESTIONS", "add_arguments", "paused_question", "run", "speak"]

RATE = 16000
QUESTIONS: tuple[str, ...] = (
    "What time does the museum open on Sunday?",
    "How far is it from here to the airport?",
    "Can you tell me how to get to the nearest library?",
    "What is the capital of Australia?",
    "How many people live in New York City?",
    "Could you set an alarm for seven tomorrow morning?",
    "Where did I leave my car keys yesterday?",
    "What should I cook for dinner tonight?",
    "Is it going to rain this afternoon?",
    "Who wrote the novel Pride and Prejudice?",
)
# Piper pauses briefly at the comma, with the rising pitch of a sentence that goes on; the pause is
# stretched to a hesitation ("What is the weather like in ... Paris tomorrow?").
PAUSED_QUESTION = "What is the weather like in, Paris tomorrow?"
_EDGE = 0.01  # speech edges: the first and last sample above -40 dBFS
_CHUNK_MS = 20
_LEAD_MS = 500
_NOISE_DBFS = -60.0


def speak(text: str) -> np.ndarray:
    """``text`` spoken by Piper (no random variation), float32 16 kHz, trimmed to its speech edges."""
    samples, rate = synthesize(text, exact=True)
    audio = resample(samples.astype(np.float32) / 32768.0, rate, RATE)
    voiced = np.flatnonzero(np.abs(audio) > _EDGE)
    return audio[voiced[0] : voiced[-1] + 1]


def paused_question(pause_ms: int = 700) -> np.ndarray:
    """``PAUSED_QUESTION`` with its comma pause (the longest quiet stretch inside it, ~240 ms)
    made ``pause_ms`` long; float32 16 kHz, trimmed to its speech edges."""
    audio = speak(PAUSED_QUESTION)
    loud = np.convolve(np.abs(audio) > _EDGE, np.ones(RATE // 100), "same") > 0  # 10 ms smoothing
    edges = np.flatnonzero(np.diff(loud.astype(np.int8)))  # quiet stretches: (fall, rise) pairs
    falls, rises = edges[0::2], edges[1::2]
    longest = int(np.argmax(rises - falls[: len(rises)]))
    start, end = falls[longest] + 1, rises[longest] + 1
    return np.concatenate([audio[:start], np.zeros(pause_ms * RATE // 1000, np.float32), audio[end:]])


@dataclass(frozen=True)
class Turns:
    """What a session made of one spoken question."""

    committed: int  # turns ended
    delay_ms: float | None  # end of speech -> the first commit after it
    transcripts: tuple[str, ...]


async def stream_question(
    settings: Settings,
    engine: ASREngine,
    vad: VADModel,
    end_of_turn: EndOfTurnModel | None,
    turn_detection: dict[str, Any],
    speech: np.ndarray,
    tail_ms: int,
    speed: float = 1.0,
) -> Turns:
    """Stream ``speech`` (after 0.5 s of quiet, followed by ``tail_ms`` of it, over -60 dBFS noise)
    into a new session with ``turn_detection``, at ``speed`` x real time; stops once the turn after
    the speech is committed."""
    session = TranscriptionSession(settings, engine, vad, end_of_turn)
    audio_in = {"format": {"type": "audio/pcm", "rate": RATE}, "turn_detection": turn_detection}
    await session.receive_text(
        json.dumps({"type": "session.update", "session": {"audio": {"input": audio_in}}})
    )
    lead = np.zeros(_LEAD_MS * RATE // 1000, np.float32)
    clean = np.concatenate([lead, speech, np.zeros(tail_ms * RATE // 1000, np.float32)])
    noise = np.random.default_rng(0).normal(0.0, 10 ** (_NOISE_DBFS / 20), len(clean))
    pcm = (np.clip(clean + noise, -1, 1) * 32767).astype("<i2").tobytes()
    speech_end = 2 * (len(lead) + len(speech))  # in bytes
    events: list[tuple[float, dict[str, Any]]] = []

    async def read() -> None:
        while True:
            event = await session.next_event()
            events.append((time.perf_counter(), event))

    reader = asyncio.create_task(read())
    step = RATE * 2 * _CHUNK_MS // 1000
    ended_at: float | None = None
    start = time.perf_counter()
    for k, offset in enumerate(range(0, len(pcm), step)):
        await asyncio.sleep(max(0.0, start + k * _CHUNK_MS / 1000 / speed - time.perf_counter()))
        chunk = base64.b64encode(pcm[offset : offset + step]).decode()
        await session.receive_text(json.dumps({"type": "input_audio_buffer.append", "audio": chunk}))
        if ended_at is None and offset + step >= speech_end:
            ended_at = time.perf_counter()
        if ended_at is not None and _commits(events, ended_at):
            break
    await session.settle()
    await asyncio.sleep(0.05)  # the reader takes the last events
    reader.cancel()
    await session.close()
    after = _commits(events, ended_at or start)
    return Turns(
        committed=len(_commits(events, start)),
        delay_ms=1000 * (after[0] - ended_at) if after and ended_at is not None else None,
        transcripts=tuple(
            e["transcript"]
            for _, e in events
            if e["type"] == "conversation.item.input_audio_transcription.completed"
        ),
    )


def _commits(events: list[tuple[float, dict[str, Any]]], since: float) -> list[float]:
    return [t for t, e in events if e["type"] == "input_audio_buffer.committed" and t >= since]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--silence-ms", type=int, default=500, help="server_vad's silence_duration_ms")
    parser.add_argument("--eagerness", choices=["low", "medium", "high", "auto"], default="auto")
    parser.add_argument("--speed", type=float, default=1.0, help="x real time (default 1)")
    parser.add_argument("--repeats", type=int, default=1, help="passes over the questions (default 1)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Measure both modes on ``QUESTIONS`` and ``PAUSED_QUESTION``, print the table; exit status 0."""
    engine = create_asr_engine(settings.asr)
    engine.load()
    vad = create_vad(settings.vad.engine)
    smart_turn = SmartTurn()
    smart_turn.probability(np.zeros(RATE, np.float32))  # the first run is slower
    modes = {
        f"server_vad {args.silence_ms} ms": (
            {"type": "server_vad", "silence_duration_ms": args.silence_ms},
            1000,
        ),
        f"semantic_vad {args.eagerness}": ({"type": "semantic_vad", "eagerness": args.eagerness}, 9000),
    }
    questions = [speak(text) for text in QUESTIONS]
    paused = paused_question()
    inference_ms = []
    for question in questions:
        started = time.perf_counter()
        smart_turn.probability(question)
        inference_ms.append(1000 * (time.perf_counter() - started))
    print(f"Smart Turn alone: {percentiles(inference_ms)} ms per call")
    results: dict[str, list[Turns]] = {name: [] for name in modes}
    try:
        for question in questions * args.repeats:  # modes alternate, so both see the same load
            for name, (turn, tail_ms) in modes.items():
                run = stream_question(settings, engine, vad, smart_turn, turn, question, tail_ms, args.speed)
                results[name].append(asyncio.run(run))
        print(f"{'mode':<22} {'turns':>5} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7}   paused question")
        for name, (turn, _) in modes.items():
            delays = [r.delay_ms for r in results[name] if r.delay_ms is not None]
            stats = percentiles(delays)
            split = asyncio.run(
                stream_question(settings, engine, vad, smart_turn, turn, paused, 1500, args.speed)
            )
            print(
                f"{name:<22} {sum(r.committed for r in results[name]):>5} {stats['p50']!s:>7} "
                f"{stats['p95']!s:>7} {max(delays, default=0):>7.0f}   "
                f"{split.committed} turn(s): {' | '.join(split.transcripts)}"
            )
    finally:
        engine.close()
    return 0
