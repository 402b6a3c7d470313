"""``voxrt bench stream``: realtime transcription latency and capacity, measured at the client.

N sessions stream Piper speech of known text over ``/v1/realtime`` at real-time
pace (chunk k leaves at start + k * chunk_ms, session starts staggered). The
client's ``asr_final_ms`` runs from the moment the chunk holding an utterance's
true last voiced sample (|x| > 0.01 in the clean audio) was sent to the moment
its ``completed`` event arrived; the server's own ``voxrt.metrics`` are reported
beside it, with WER and the server process's CPU time. ``--sweep`` runs several
session counts and reports capacity: the largest count whose p95 stays within
1500 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from voxrt.bench.corpus import write_corpus
from voxrt.bench.plot import plot_latency
from voxrt.bench.server import add_server_env_argument, running_server
from voxrt.bench.stream_client import LEAD_MS, RATE, Run, Script, build_script, load_clip, stream_sessions
from voxrt.bench.wer import wer
from voxrt.config import Settings

__all__ = ["add_arguments", "capacity", "match_items", "percentiles", "run", "summarize"]

FINAL_P95_LIMIT_MS = 1500.0
SWEEP_STOP_P95_MS = 3000.0  # past this, larger counts only take longer to fail


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sessions", type=_positive, default=1, help="concurrent sessions (default 1)")
    parser.add_argument(
        "--sweep", type=_counts, metavar="N,N,...", help="run each session count in turn; report capacity"
    )
    parser.add_argument(
        "--utterances", type=_positive, default=10, help="per session (10 = the corpus; more cycle)"
    )
    parser.add_argument("--pause-ms", type=_positive, default=1200, help="silence after each utterance")
    parser.add_argument("--chunk-ms", type=_positive, default=40, help="audio per append event")
    parser.add_argument(
        "--corpus-dir",
        type=Path,
        default=Path("bench-results/corpus"),
        help="where the synthesized speech is kept",
    )
    parser.add_argument(
        "--output", type=Path, default=Path("bench-results/stream.json"), help="JSON; the PNG goes beside it"
    )
    add_server_env_argument(parser, "VOXRT_ASR__UNPADDED_ENCODER=false")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _counts(text: str) -> list[int]:
    try:
        counts = sorted({_positive(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected session counts like 1,2,4,8, not {text!r}") from None
    if not counts:
        raise argparse.ArgumentTypeError("no session counts given")
    return counts


# -- pure helpers ------------------------------------------------------------------------------


def percentiles(values: list[float]) -> dict[str, Any]:
    """``{"count", "p50", "p95"}`` of ``values`` (numpy's linear percentiles; None when empty)."""
    if not values:
        return {"count": 0, "p50": None, "p95": None}
    p50, p95 = np.percentile(np.asarray(values, dtype=np.float64), [50, 95])
    return {"count": len(values), "p50": round(float(p50), 1), "p95": round(float(p95), 1)}


def capacity(p95_by_count: dict[int, float | None], limit_ms: float = FINAL_P95_LIMIT_MS) -> int | None:
    """The largest session count whose p95 is within ``limit_ms`` with every smaller count measured
    also within it (a pass above a failure is noise, not capacity); None if the smallest fails."""
    best = None
    for count in sorted(p95_by_count):
        p95 = p95_by_count[count]
        if p95 is None or p95 > limit_ms:
            break
        best = count
    return best


def match_items(
    utterances: list[tuple[float, float]], items: list[tuple[float, float]]
) -> tuple[list[list[int]], list[int]]:
    """Assign server items to the utterances they overlap most on the audio time line (ms).

    Returns, per utterance, the indices of its items in the order given (several when the
    VAD split it), and the indices of items that overlap no utterance.
    """
    assigned: list[list[int]] = [[] for _ in utterances]
    stray = []
    for index, (start, end) in enumerate(items):
        overlaps = [min(end, u_end) - max(start, u_start) for u_start, u_end in utterances]
        best = int(np.argmax(overlaps)) if overlaps else -1
        if best < 0 or overlaps[best] <= 0:
            stray.append(index)
        else:
            assigned[best].append(index)
    return assigned, stray


def summarize(scripts: list[Script], run: Run, chunk_ms: int) -> dict[str, Any]:
    """Latency, accuracy and anomaly figures of a run: each script beside the log of its session."""
    final: list[float] = []
    server_final: list[float] = []
    endpoint: list[float] = []
    partial: list[float] = []
    first_delta: list[float] = []
    lag: list[float] = []
    refs, hyps, errors = [], [], []
    missed = extra = failed = out_of_order = timed_out = 0
    chunk_samples = chunk_ms * RATE // 1000
    for script, log in zip(scripts, run.logs, strict=True):
        items = list(log.items.values())
        spans = [(item.start_ms or 0.0, item.end_ms or item.start_ms or 0.0) for item in items]
        true_ms = [(1000 * a / RATE, 1000 * (b + 1) / RATE) for a, b in script.spans]
        assigned, stray = match_items(true_ms, spans)
        extra += len(stray)
        for u, indices in enumerate(assigned):
            done = [at for i in indices if (at := items[i].completed_at) is not None]
            refs.append(script.texts[u])
            hyps.append(" ".join(items[i].transcript for i in indices if items[i].completed_at is not None))
            extra += max(len(indices) - 1, 0)  # the VAD split the utterance
            chunk = script.spans[u][1] // chunk_samples  # the chunk holding the last voiced sample
            if not done or chunk >= len(log.sent_at):
                missed += 1
            else:
                final.append(1000 * (max(done) - log.sent_at[chunk]))
        for item in items:
            failed += item.failed
            if item.metrics is not None:
                for values, key in ((server_final, "asr_final_ms"), (endpoint, "endpoint_ms")):
                    if item.metrics.get(key) is not None:
                        values.append(float(item.metrics[key]))
                partial += [float(v) for v in item.metrics.get("asr_partial_ms") or []]
            if item.first_delta_at is not None and item.started_at is not None:
                first_delta.append(1000 * (item.first_delta_at - item.started_at))
        lag += log.send_lag_ms
        errors += log.errors
        out_of_order += log.out_of_order
        timed_out += log.timed_out
    audio_s = sum(len(s.pcm) / 2 / RATE for s in scripts)
    cpu_s, wall_s = run.cpu_s, run.wall_s
    return {
        "sessions": len(scripts),
        "utterances": len(refs),
        "completed": len(final),
        "missed": missed,
        "extra": extra,
        "failed": failed,
        "out_of_order": out_of_order,
        "timed_out_sessions": timed_out,
        "errors": errors[:20],
        "asr_final_ms": percentiles(final),
        "server_asr_final_ms": percentiles(server_final),
        "endpoint_ms": percentiles(endpoint),
        "asr_partial_ms": percentiles(partial),
        "first_delta_ms": percentiles(first_delta),
        "send_lag_ms": percentiles(lag),
        "wer": round(wer(refs, hyps), 4),
        "audio_s": round(audio_s, 2),
        "wall_s": round(wall_s, 2),
        "cpu_s": None if cpu_s is None else round(cpu_s, 2),
        "cpu_per_audio_s": None if cpu_s is None else round(cpu_s / audio_s, 4),
        "cores": None if cpu_s is None else round(cpu_s / wall_s, 2),
    }


# -- the command ---------------------------------------------------------------------------------

_COLUMNS = (
    ("sessions", 8, "sessions", None),
    ("utts", 6, "utterances", None),
    ("miss", 5, "missed", None),
    ("extra", 6, "extra", None),
    ("final p50", 10, "asr_final_ms", "p50"),
    ("final p95", 10, "asr_final_ms", "p95"),
    ("srv p95", 9, "server_asr_final_ms", "p95"),
    ("endpt p50", 10, "endpoint_ms", "p50"),
    ("part p50", 9, "asr_partial_ms", "p50"),
    ("delta1 p50", 11, "first_delta_ms", "p50"),
    ("WER", 7, "wer", None),
    ("cpu/aud s", 10, "cpu_per_audio_s", None),
    ("cores", 6, "cores", None),
)


def _row(stats: dict[str, Any]) -> str:
    cells = []
    for _, width, key, sub in _COLUMNS:
        value = stats[key][sub] if sub else stats[key]
        text = "-" if value is None else f"{value:.3f}" if key == "wer" else f"{value:g}"
        cells.append(f"{text:>{width}}")
    return "".join(cells)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run the benchmark, print the table, write JSON and PNG; exit status 0, 1 if no count finished."""
    counts: list[int] = args.sweep or [args.sessions]
    clips = [load_clip(u.text, u.path) for u in write_corpus(args.corpus_dir)]
    env = dict(args.server_env)
    env.setdefault("VOXRT_REALTIME__MAX_SESSIONS", str(max(counts) + 1))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    model = None
    with running_server(args.output.with_suffix(".server.log"), config=args.config, env=env) as server:
        url = server.realtime_url
        pid = server.process.pid
        with contextlib.suppress(httpx.HTTPError, KeyError, IndexError, ValueError):
            model = httpx.get(f"{server.base_url}/v1/models", timeout=5).json()["data"][0]["id"]
        warm_up = [build_script(clips, 1, 0, args.pause_ms)]  # the first decodes of a process are slow
        asyncio.run(stream_sessions(url, warm_up, args.chunk_ms, pid))
        print(
            f"model {model}, {args.utterances} utterances per session, chunk {args.chunk_ms} ms, "
            f"pause {args.pause_ms} ms; latencies in ms"
        )
        print("".join(f"{title:>{width}}" for title, width, _, _ in _COLUMNS))
        for count in counts:
            scripts = [build_script(clips, args.utterances, i, args.pause_ms) for i in range(count)]
            stats = summarize(
                scripts, asyncio.run(stream_sessions(url, scripts, args.chunk_ms, pid)), args.chunk_ms
            )
            rows.append(stats)
            print(_row(stats), flush=True)
            p95 = stats["asr_final_ms"]["p95"]
            if count != counts[-1] and (p95 is None or p95 > SWEEP_STOP_P95_MS):
                print(f"asr_final_ms p95 {p95} ms > {SWEEP_STOP_P95_MS:g} ms: sweep stopped")
                break
    best = capacity({r["sessions"]: r["asr_final_ms"]["p95"] for r in rows})
    report: dict[str, Any] = {
        "model": model,
        "settings": {
            "sessions": counts,
            "utterances": args.utterances,
            "pause_ms": args.pause_ms,
            "chunk_ms": args.chunk_ms,
            "lead_ms": LEAD_MS,
            "rate": RATE,
            "config": None if args.config is None else str(args.config),
            "server_env": env,
            "final_p95_limit_ms": FINAL_P95_LIMIT_MS,
        },
        "runs": rows,
        "capacity": best,
    }
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    png = args.output.with_suffix(".png")
    plot_latency(
        rows, png, FINAL_P95_LIMIT_MS, title=f"voxrt bench stream: {model}, {_env_label(args.server_env)}"
    )
    problems = sum(r["missed"] + r["extra"] + r["failed"] + r["out_of_order"] for r in rows)
    errors = sorted({error for r in rows for error in r["errors"]})
    if problems or errors:
        print("missed / extra / failed / out-of-order items: see 'runs' in the JSON")
        for error in errors[:5]:
            print(f"  error: {error}")
    verdict = f"{best} sessions" if best is not None else "none"
    print(f"capacity (asr_final_ms p95 <= {FINAL_P95_LIMIT_MS:g} ms): {verdict}")
    print(f"written to {args.output} and {png}")
    return 0 if rows and rows[0]["completed"] else 1


def _env_label(pairs: list[tuple[str, str]]) -> str:
    return ", ".join(f"{k.removeprefix('VOXRT_')}={v}" for k, v in pairs) or "default server settings"
