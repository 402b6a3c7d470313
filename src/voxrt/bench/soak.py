"""``voxrt bench soak``: many sessions of speech for a long time; does anything grow or fail?

N sessions stream speech at real-time pace over ``/v1/realtime`` in rounds (a
round opens N sessions, streams a script of utterances through each and closes
them) until the duration is spent. The server process's RSS, open file
descriptors and threads are sampled after each round. The first round is the
warm-up and gives the baseline (every code path has run once at full load); growth
is the highest sample of any later round over it, so a rise that falls back before
the end still counts. The report also gives every failed or missed utterance, WER
and ``asr_final_ms``.
Speech comes from ``--manifest FILE.jsonl`` (lines ``{"audio": WAV path,
"text": reference}``, e.g. the Asterisk prompts of ``voxrt.bench.realspeech``),
or else from the Piper corpus.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any

from voxrt.bench.corpus import write_corpus
from voxrt.bench.server import running_server
from voxrt.bench.stream import summarize
from voxrt.bench.stream_client import RATE, Clip, Run, build_script, load_clip, stream_sessions
from voxrt.config import Settings

__all__ = ["add_arguments", "load_manifest_clips", "process_resources", "run"]

ROUND_S = 60.0  # longest round: resources are sampled between rounds
MIN_ROUND_S = 10.0
MAX_RSS_GROWTH_PCT = 5.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sessions", type=int, default=8, help="concurrent sessions (default 8)")
    parser.add_argument(
        "--duration-s", type=float, default=600.0, help="how long to keep streaming, in seconds (default 600)"
    )
    parser.add_argument("--manifest", type=Path, help='JSONL, one {"audio": WAV, "text": reference} per line')
    parser.add_argument("--pause-ms", type=int, default=1200, help="silence after each utterance")
    parser.add_argument("--chunk-ms", type=int, default=40, help="audio per append event")
    parser.add_argument(
        "--corpus-dir", type=Path, default=Path("bench-results/corpus"), help="Piper corpus (no manifest)"
    )
    parser.add_argument("--output", type=Path, default=Path("bench-results/soak.json"), help="JSON report")


def load_manifest_clips(path: Path) -> list[Clip]:
    """The clips of a JSONL manifest; relative audio paths are taken from the manifest's folder.

    Raises:
        RuntimeError: a line is not an object with ``audio`` and ``text``, or its WAV cannot be read.
    """
    clips = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            audio = path.parent / str(entry["audio"])
            clips.append(load_clip(str(entry["text"]), audio))
        except (ValueError, KeyError, TypeError, OSError, EOFError) as exc:
            raise RuntimeError(f"{path}:{number}: {type(exc).__name__}: {exc}") from exc
    if not clips:
        raise RuntimeError(f"{path}: no entries")
    return clips


def process_resources(pid: int) -> dict[str, float]:
    """RSS in MB, open file descriptors and threads of process ``pid`` (Linux /proc)."""
    status = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line
    )
    return {
        "rss_mb": round(int(status["VmRSS"].split()[0]) / 1024, 1),
        "fds": len(os.listdir(f"/proc/{pid}/fd")),
        "threads": int(status["Threads"]),
    }


def _utterances_per_round(clips: list[Clip], pause_ms: int, seconds: float) -> int:
    mean_s = sum(len(c.pcm) for c in clips) / len(clips) / RATE + pause_ms / 1000
    return max(1, int(seconds / mean_s))


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run the soak, print a summary, write the JSON report; exit status 1 if an utterance failed or
    a resource grew past its bound."""
    clips = (
        load_manifest_clips(args.manifest)
        if args.manifest
        else [load_clip(u.text, u.path) for u in write_corpus(args.corpus_dir)]
    )
    env = {"VOXRT_REALTIME__MAX_SESSIONS": str(args.sessions + 1)}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    rounds: list[dict[str, Any]] = []
    scripts, logs = [], []
    wall_s = cpu_s = 0.0
    with running_server(args.output.with_suffix(".server.log"), config=args.config, env=env) as server:
        url = server.realtime_url
        pid = server.process.pid
        initial = process_resources(pid)
        print(f"{args.sessions} sessions for {args.duration_s:g} s; server at start: {initial}", flush=True)
        round_s = min(ROUND_S, max(args.duration_s / 4, MIN_ROUND_S))  # at least 4 rounds when short
        began = time.perf_counter()
        first = 0
        while (left := args.duration_s - (time.perf_counter() - began)) > MIN_ROUND_S / 2:
            count = _utterances_per_round(clips, args.pause_ms, min(left, round_s))
            batch = [
                build_script(clips, count, first + i * count, args.pause_ms) for i in range(args.sessions)
            ]
            first += args.sessions * count
            result = asyncio.run(stream_sessions(url, batch, args.chunk_ms, pid))
            time.sleep(1.5)  # sessions finish closing; the server trims its heap after the last (<= 1 s)
            stats = summarize(batch, result, args.chunk_ms)
            resources = process_resources(pid)
            rounds.append({**_brief(stats), **resources})
            print(f"round {len(rounds)}: {rounds[-1]}", flush=True)
            scripts += batch
            logs += result.logs
            wall_s += result.wall_s
            cpu_s += result.cpu_s or 0.0
    overall = summarize(scripts, Run(logs, wall_s, cpu_s), args.chunk_ms) if scripts else None
    report = _report(args, initial, rounds, overall)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report["result"], indent=2))
    print("growth: the highest RSS, FDs and threads after rounds 2 on, against the end of round 1 (warm-up)")
    print(f"written to {args.output}")
    return 0 if report["result"]["passed"] else 1


def _brief(stats: dict[str, Any]) -> dict[str, Any]:
    failed = stats["missed"] + stats["failed"] + stats["timed_out_sessions"]
    return {
        "utterances": stats["utterances"],
        "failed": failed,
        "wer": stats["wer"],
        "asr_final_p95_ms": stats["asr_final_ms"]["p95"],
    }


def _report(
    args: argparse.Namespace,
    initial: dict[str, float],
    rounds: list[dict[str, Any]],
    overall: dict[str, Any] | None,
) -> dict[str, Any]:
    """The verdict: round 1 is the warm-up and the baseline; each resource's growth is its highest
    value after any later round against it."""
    start = rounds[0] if rounds else initial
    later = rounds[1:] or [start]
    peak = {key: max(r[key] for r in later) for key in ("rss_mb", "fds", "threads")}
    growth = round(100 * (peak["rss_mb"] - start["rss_mb"]) / start["rss_mb"], 2)
    failed = sum(r["failed"] for r in rounds)
    result = {
        "sessions": args.sessions,
        "duration_s": args.duration_s,
        "rounds": len(rounds),
        "utterances": sum(r["utterances"] for r in rounds),
        "failed_utterances": failed,
        "errors": overall["errors"] if overall else [],
        "wer": overall["wer"] if overall else None,
        "asr_final_ms": overall["asr_final_ms"] if overall else None,
        "rss_mb_at_start": initial["rss_mb"],
        "rss_mb_by_round": [r["rss_mb"] for r in rounds],
        "rss_mb": [start["rss_mb"], peak["rss_mb"]],
        "rss_growth_pct": growth,
        "fds": [start["fds"], peak["fds"]],
        "threads": [start["threads"], peak["threads"]],
    }
    result["passed"] = bool(
        len(rounds) >= 2
        and failed == 0
        and growth < MAX_RSS_GROWTH_PCT
        and peak["fds"] <= start["fds"]
        and peak["threads"] <= start["threads"]
    )
    settings = {
        "manifest": None if args.manifest is None else str(args.manifest),
        "pause_ms": args.pause_ms,
        "chunk_ms": args.chunk_ms,
        "config": None if args.config is None else str(args.config),
        "max_rss_growth_pct": MAX_RSS_GROWTH_PCT,
        "growth": "highest value after rounds 2 on, against the end of round 1 (warm-up)",
    }
    return {"settings": settings, "result": result, "rounds": rounds, "overall": overall}
