"""``python -m bench.compare``: voxrt, WhisperLive and WhisperLiveKit in one run, on the same speech.

Every server starts on loopback from the same CTranslate2 ``tiny.en`` directory with the same
threads and is warmed up by a session of its own; then the systems take turns, run by run: N
sessions stream speech of known text (16 kHz PCM in 40 ms chunks at real-time pace, utterances
separated by natural pauses) through the system's own protocol: Piper sentences, or real
recordings (``--set en``, ``--manifest``; see ``bench.compare.speech``). Every session speaks
one more utterance than is scored, so each scored one is followed by speech, as in continuous talk.
Per system: ``asr_final_ms`` (the chunk holding the last voiced sample sent → the last of its
words final), time to first partial, WER, server CPU seconds per audio second, and capacity (most
sessions whose final p95 stays within 1500 ms). One session is repeated ``--repeats`` times
(medians); larger counts run once, and a system's sweep stops at the first count past the limit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import signal
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.compare.peers import SYSTEMS, System
from bench.compare.peers.score import UtteranceResult, score_session, settled
from bench.compare.peers.session import RATE, Plan, Run, stream_sessions
from bench.compare.peers.system import StartOptions, model_dir
from bench.compare.plot import plot_compare
from bench.compare.speech import Script, Speech, load_speech
from bench.compare.speech import add_arguments as add_speech_arguments
from voxrt.bench.corpus import write_corpus
from voxrt.bench.stream import FINAL_P95_LIMIT_MS, capacity
from voxrt.bench.stream_client import LEAD_MS

__all__ = ["add_arguments", "main", "percentiles_missing", "ratio_table", "run", "summarize"]

_COLUMNS = (  # (title, key, lower is better)
    ("final p50 ms", "final_p50", True),
    ("final p95 ms", "final_p95", True),
    ("first partial p50 ms", "first_partial_p50", True),
    ("WER", "wer", True),
    ("CPU s / audio s", "cpu_per_audio_s", True),
    ("capacity", "capacity", False),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--systems", default=",".join(SYSTEMS), help=f"of {', '.join(SYSTEMS)}")
    parser.add_argument("--sweep", type=_counts, default=[1, 2, 4, 6, 8, 10, 12], metavar="N,N,...")
    parser.add_argument("--repeats", type=int, default=3, help="runs of the first count (medians)")
    parser.add_argument("--utterances", type=int, default=5, help="scored per session (one more follows)")
    parser.add_argument("--pause-ms", type=int, default=1200, help="silence after each utterance")
    parser.add_argument("--chunk-ms", type=int, default=40, help="audio per message")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="OMP_NUM_THREADS for all")
    parser.add_argument("--silence-ms", type=int, default=500, help="VAD silence, where a system has it")
    parser.add_argument("--output-dir", type=Path, default=Path("bench-results/compare"))
    parser.add_argument("--peers-dir", type=Path, default=Path("bench-results/peers"), help="peer venvs")
    parser.add_argument("--install-only", action="store_true", help="create the peers' venvs and stop")
    add_speech_arguments(parser)


def _counts(text: str) -> list[int]:
    try:
        counts = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected counts like 1,2,4, not {text!r}") from None
    if not counts or counts[0] < 1:
        raise argparse.ArgumentTypeError(f"expected positive counts, not {text!r}")
    return counts


# -- pure helpers ------------------------------------------------------------------------------


def percentiles_missing(values: list[float | None]) -> dict[str, Any]:
    """p50 / p95 (linear, as numpy's) counting each None as later than any value: a percentile that
    reaches a missing value is None."""
    out: dict[str, Any] = {"count": len(values), "missing": sum(v is None for v in values)}
    done = sorted(v for v in values if v is not None)
    for name, q in (("p50", 50), ("p95", 95)):
        position = q / 100 * (len(values) - 1)
        lo, weight = int(position), position - int(position)
        hi = lo + (weight > 0)
        if not values or hi >= len(done):
            out[name] = None
        else:
            out[name] = round(done[lo] + weight * (done[hi] - done[lo]), 1)
    return out


def summarize(
    results: list[UtteranceResult], references: list[str], run: Run, audio_s: float
) -> dict[str, Any]:
    """One run's figures from its scored utterances and their known texts."""
    final = percentiles_missing([r.final_ms for r in results])
    first = percentiles_missing([r.first_partial_ms for r in results])
    words = sum(r.words for r in results)
    return {
        "utterances": len(results),
        "finals": len(results) - final["missing"],
        "final_p50": final["p50"],
        "final_p95": final["p95"],
        "first_partial_p50": first["p50"],
        "first_partial_p95": first["p95"],
        "wer": round(sum(r.errors for r in results) / max(words, 1), 4),
        "cpu_per_audio_s": None if run.cpu_s is None else round(run.cpu_s / audio_s, 4),
        "wall_s": round(run.wall_s, 1),
        "errors": sorted({e for t in run.traces for e in t.errors})[:10],
        "final_ms": [r.final_ms for r in results],
        "utterances_detail": [
            {
                "final_ms": r.final_ms,
                "first_partial_ms": r.first_partial_ms,
                "errors": r.errors,
                "text": r.hypothesis,
                "reference": reference,
            }
            for r, reference in zip(results, references, strict=True)
        ],
    }


def _median(rows: list[dict[str, Any]], key: str) -> float | None:
    values = [row[key] for row in rows]
    if any(v is None for v in values):
        return None
    return round(float(statistics.median(values)), 4)


def ratio_table(summary: dict[str, dict[str, Any]], baseline: str = "voxrt") -> list[list[str]]:
    """The report table: a header, a row per system, then a ``baseline/peer`` ratio row per peer
    (below 1 means the baseline is lower; for capacity, above 1 means it serves more). Capacity 0:
    not even one stream within the limit; "≥N": the largest count swept still passed."""
    header = ["system", *[title for title, _, _ in _COLUMNS]]
    rows = [header]
    for name, figures in summary.items():
        rows.append([name, *[_cell(figures, key) for _, key, _ in _COLUMNS]])
    if baseline in summary:
        for name, figures in summary.items():
            if name == baseline:
                continue
            cells = []
            for _, key, _ in _COLUMNS:
                mine, theirs = summary[baseline].get(key), figures.get(key)
                cells.append("-" if not mine or not theirs else f"{mine / theirs:.2f}")
            rows.append([f"{baseline} / {name}", *cells])
    return rows


def _cell(figures: dict[str, Any], key: str) -> str:
    value = figures.get(key)
    if value is None:
        return "-"
    if key == "capacity":  # "≥N": the largest count swept still passed
        return f"{'≥' if figures.get('capacity_at_least') else ''}{value}"
    if key == "wer":
        return f"{100 * value:.1f}%"
    if key == "cpu_per_audio_s":
        return f"{value:.3f}"
    return f"{value:g}"


def _markdown(rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows[1:]]) + "\n"


def _text_table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)) for row in rows)


# -- the run -------------------------------------------------------------------------------------


def _one_run(
    system: System, options: StartOptions, url: str, pid: int, scripts: list[Script], args: Any
) -> dict[str, Any]:
    run = asyncio.run(
        stream_sessions(
            url,
            lambda: system.protocol(options),
            [
                Plan(
                    s.pcm,
                    len(s.texts),
                    functools.partial(settled, references=s.texts, scored=s.scored),
                )
                for s in scripts
            ],
            args.chunk_ms,
            pid,
        )
    )
    chunk = args.chunk_ms * RATE // 1000
    results: list[UtteranceResult] = []
    references = [text for s in scripts for text in s.texts[: s.scored]]
    for script, trace in zip(scripts, run.traces, strict=True):
        if not trace.sent_at:
            results += [UtteranceResult(None, None, 0, 0, "")] * script.scored
            continue
        last = len(trace.sent_at) - 1
        starts = [trace.sent_at[min(a // chunk, last)] for a, _ in script.spans]
        ends = [trace.sent_at[min(b // chunk, last)] for _, b in script.spans]
        results += score_session(trace.snapshots, script.texts, starts, ends, script.scored)
    streamed_s = sum(len(t.sent_at) for t in run.traces) * args.chunk_ms / 1000  # speech and silence
    return summarize(results, references, run, max(streamed_s, 1e-9))


def _passes(p95: float | None) -> bool:
    return p95 is not None and p95 <= FINAL_P95_LIMIT_MS


@dataclass(frozen=True)
class _Live:
    """A started system: its options, WebSocket URL and server process id."""

    system: System
    options: StartOptions
    url: str
    pid: int


def _row(count: int, runs: list[dict[str, Any]]) -> dict[str, Any]:
    row: dict[str, Any] = {"sessions": count, "repeats": runs}
    for key in ("final_p50", "final_p95", "first_partial_p50", "first_partial_p95", "wer", "cpu_per_audio_s"):
        row[key] = _median(runs, key)
    return row


def _sweep(live: dict[str, _Live], speech: Speech, args: Any) -> dict[str, list[dict[str, Any]]]:
    """Every count for every system still within the limit; the systems take turns run by run (the
    first to go rotates), so a burst of load from elsewhere on the machine falls on all alike."""
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in live}
    active = list(live)
    for count in args.sweep:
        scripts = speech.scripts(count, args.utterances + 1, args.pause_ms)
        repeats = max(args.repeats, 1) if count == args.sweep[0] else 1
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in active}
        for rep in range(repeats):
            turn = rep % len(active)
            for name in active[turn:] + active[:turn]:
                one = live[name]
                if name in runs:
                    try:
                        runs[name].append(_one_run(one.system, one.options, one.url, one.pid, scripts, args))
                    except Exception as exc:  # its server died, say: the others go on
                        print(f"  {one.system.name} failed: {type(exc).__name__}: {exc}")
                        del runs[name]
        active = [name for name in active if name in runs]
        for name in active:
            row = _row(count, runs[name])
            rows[name].append(row)
            print(
                f"  {live[name].system.name}: {count} session(s): "
                f"final p50/p95 {row['final_p50']}/{row['final_p95']} ms, "
                f"first partial p50 {row['first_partial_p50']} ms, WER {row['wer']}, "
                f"finals {sum(r['finals'] for r in runs[name])}/{sum(r['utterances'] for r in runs[name])}",
                flush=True,
            )
        active = [name for name in active if _passes(rows[name][-1]["final_p95"])]
        if not active:
            break
    return rows


def _figures(one: _Live, rows: list[dict[str, Any]], args: Any) -> dict[str, Any]:
    first = rows[0]
    return {
        "version": one.system.version(),
        "settings": one.system.settings(one.options),
        "final_p50": first["final_p50"],
        "final_p95": first["final_p95"],
        "first_partial_p50": first["first_partial_p50"],
        "wer": first["wer"],
        "cpu_per_audio_s": first["cpu_per_audio_s"],
        "capacity": capacity({r["sessions"]: r["final_p95"] for r in rows}) or 0,
        "capacity_at_least": rows[-1]["sessions"] == max(args.sweep) and _passes(rows[-1]["final_p95"]),
        "sweep": rows,
    }


def main(argv: list[str] | None = None) -> int:
    """The command line: parse ``argv`` and run the comparison."""
    parser = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__.split("\n")[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


def run(args: argparse.Namespace) -> int:
    """Run the comparison; print the table, write JSON, Markdown and PNGs. Exit status 0, 1 on a failure."""
    names = [n.strip().lower() for n in args.systems.split(",") if n.strip()]
    unknown = [n for n in names if n not in SYSTEMS]
    if unknown:
        print(f"unknown systems: {', '.join(unknown)} (known: {', '.join(SYSTEMS)})")
        return 2
    if args.install_only:
        from bench.compare.peers import whisperlive, whisperlivekit

        for install in (whisperlive.install, whisperlivekit.install):
            print(install(args.peers_dir))
        return 0
    # a plain kill must still stop the servers, which run in process groups of their own
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    out: Path = args.output_dir
    out.mkdir(parents=True, exist_ok=True)
    corpus = write_corpus(args.corpus_dir)  # a peer warms up on its first file
    speech = load_speech(args)
    print(f"speech: {speech.label}", flush=True)
    load_before = os.getloadavg()
    summary: dict[str, dict[str, Any]] = {}
    failed = False
    with contextlib.ExitStack() as stack:
        live: dict[str, _Live] = {}
        for name in names:  # start them all, each warmed up by one session of its own
            system = SYSTEMS[name]
            options = StartOptions(
                log_path=out / f"{name}.server.log",
                model_dir=model_dir(),
                threads=args.threads,
                silence_ms=args.silence_ms,
                max_sessions=max(args.sweep) + 1,
                warmup_wav=corpus[0].path.resolve(),
                peers_dir=args.peers_dir.resolve(),
            )
            print(f"starting {system.name} {system.version()}", flush=True)
            try:
                server = stack.enter_context(system.start(options))
                one = _Live(system, options, server.ws_base + system.protocol(options).path, server.pid)
                _one_run(system, options, one.url, one.pid, speech.scripts(1, 2, args.pause_ms), args)
                live[name] = one
            except Exception as exc:  # one system failing must not lose the others' results
                failed = True
                print(f"  {system.name} failed to start: {type(exc).__name__}: {exc}")
        if live:
            for name, sweep_rows in _sweep(live, speech, args).items():
                if sweep_rows:
                    summary[live[name].system.name] = _figures(live[name], sweep_rows, args)
    rows = ratio_table({name: figures for name, figures in summary.items()})
    report = {
        "settings": {
            "speech": speech.source,
            "sweep": args.sweep,
            "repeats": args.repeats,
            "utterances_scored_per_session": args.utterances,
            "pause_ms": args.pause_ms,
            "chunk_ms": args.chunk_ms,
            "lead_ms": LEAD_MS,
            "rate": RATE,
            "threads": args.threads,
            "silence_ms": args.silence_ms,
            "final_p95_limit_ms": FINAL_P95_LIMIT_MS,
            "model_dir": str(model_dir()),
            "cpus": os.cpu_count(),
            "loadavg_before": [round(v, 2) for v in load_before],
            "loadavg_after": [round(v, 2) for v in os.getloadavg()],
        },
        "systems": summary,
        "table": rows,
    }
    (out / "compare.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "compare.md").write_text(f"Speech: {speech.label}.\n\n" + _markdown(rows))
    plot_compare(summary, out, FINAL_P95_LIMIT_MS)
    print(f"\nspeech: {speech.label}")
    print(_text_table(rows))
    print(
        f"\nratios are voxrt ÷ peer; written to {out}/: "
        "compare.json, compare.md, latency-cdf.png, latency-sweep.png"
    )
    return 1 if failed or not summary else 0
