"""``voxrt bench accuracy``: word error rate of each path through voxrt on real speech, beside the
model's own ``transcribe`` on the same audio, with each path's latency.

Paths: ``raw`` (faster-whisper's standard ``WhisperModel.transcribe`` in this
process, same model and beam size), ``json`` / ``text`` / ``verbose_json`` /
``srt`` / ``vtt`` (``POST /v1/audio/transcriptions`` to a live ``voxrt serve``,
one request at a time; latency = the request's round trip) and ``stream`` (one
``/v1/realtime`` transcription session fed the prompts at real-time pace, each
followed by ``--pause-ms`` of silence; latency = the client's asr_final_ms, from
sending the chunk that holds the utterance's last voiced sample to receiving
its ``completed`` event). The audio is a built-in real-speech set (``--set``,
fetched from Debian on first use) or a manifest (``--manifest``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from voxrt.audio import decode_audio
from voxrt.bench.realspeech import LANGUAGES, ManifestEntry, build_manifest, load_manifest
from voxrt.bench.server import add_server_env_argument, running_server
from voxrt.bench.stream import match_items, percentiles
from voxrt.bench.stream_client import RATE, build_script, decode_clip, stream_sessions
from voxrt.bench.wer import edits, normalize
from voxrt.config import Settings

__all__ = ["PATHS", "add_arguments", "run", "subtitle_text"]

PATHS = ("raw", "json", "text", "verbose_json", "srt", "vtt", "stream")
_CUE_TIME = re.compile(r"^\d\d:\d\d:\d\d[.,]\d{3} --> ")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--set", choices=LANGUAGES, default="en", help="built-in real-speech set (en)")
    source.add_argument("--manifest", type=Path, help='JSONL, {"audio": path, "text": reference} per line')
    parser.add_argument("--limit", type=int, help="only the first N utterances")
    parser.add_argument(
        "--model", help="asr.model for the raw path and the server, e.g. base (default: config)"
    )
    parser.add_argument(
        "--paths", type=_paths, default=list(PATHS), help=f"comma-separated, of {','.join(PATHS)} (all)"
    )
    parser.add_argument(
        "--detect-language",
        action="store_true",
        help="send no language (the model detects it); default: each utterance's lang",
    )
    parser.add_argument("--pause-ms", type=int, default=1200, help="stream: silence after each utterance")
    parser.add_argument("--chunk-ms", type=int, default=40, help="stream: audio per append event")
    parser.add_argument("--cache-dir", type=Path, help="where the built-in sets are unpacked")
    parser.add_argument("--output", type=Path, default=Path("bench-results/accuracy.json"), help="JSON")
    add_server_env_argument(parser, "VOXRT_ASR__MODEL=base")


def _paths(text: str) -> list[str]:
    chosen = [p.strip() for p in text.split(",") if p.strip()]
    unknown = sorted(set(chosen) - set(PATHS))
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"paths are {', '.join(PATHS)}; not {', '.join(unknown) or text!r}")
    return [p for p in PATHS if p in chosen]


@dataclass
class PathRun:
    """One path's transcripts (one per utterance, in order) and latencies in ms."""

    hypotheses: list[str] = field(default_factory=list)
    latency_ms: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def subtitle_text(body: str) -> str:
    """The words of an SRT or WebVTT body: cue text without numbers, times or the header."""
    lines = []
    for line in body.splitlines():
        line = line.strip()
        if not line or line == "WEBVTT" or line.isdigit() or _CUE_TIME.match(line):
            continue
        lines.append(line)
    return " ".join(lines)


def _raw(entries: list[ManifestEntry], settings: Settings, detect: bool) -> PathRun:
    from faster_whisper import WhisperModel

    from voxrt.asr.faster_whisper import resolve_model_dir

    asr = settings.asr
    model_dir, _ = resolve_model_dir(asr)
    model = WhisperModel(
        str(model_dir), device=asr.device, compute_type=asr.compute_type, cpu_threads=asr.cpu_threads
    )
    out = PathRun()
    for index, entry in enumerate([entries[0], *entries]):  # the first decode of a process is slow
        audio = decode_audio(entry.audio.read_bytes())
        started = time.perf_counter()
        language = None if detect else entry.lang
        segments, _ = model.transcribe(audio, language=language, beam_size=asr.beam_size)
        text = "".join(s.text for s in segments).strip()
        if index:
            out.latency_ms.append(1000 * (time.perf_counter() - started))
            out.hypotheses.append(text)
    return out


def _rest(base_url: str, entries: list[ManifestEntry], response_format: str, detect: bool) -> PathRun:
    out = PathRun()
    with httpx.Client(base_url=base_url, timeout=300) as client:
        for index, entry in enumerate([entries[0], *entries]):
            data = {"model": "whisper-1", "response_format": response_format}
            if not detect:
                data["language"] = entry.lang
            started = time.perf_counter()
            response = client.post(
                "/v1/audio/transcriptions",
                files={"file": (entry.audio.name, entry.audio.read_bytes(), "audio/wav")},
                data=data,
            )
            elapsed = 1000 * (time.perf_counter() - started)
            if response.status_code != 200:
                out.problems.append(f"{entry.audio.name}: HTTP {response.status_code} {response.text[:200]}")
                text = ""
            elif response_format in ("json", "verbose_json"):
                text = str(response.json()["text"])
            elif response_format == "text":
                text = response.text
            else:
                text = subtitle_text(response.text)
            if index:
                out.latency_ms.append(elapsed)
                out.hypotheses.append(text)
    return out


def _stream(
    url: str, entries: list[ManifestEntry], pid: int, args: argparse.Namespace, detect: bool
) -> PathRun:
    clips = [decode_clip(e.text, e.audio) for e in entries]
    script = build_script(clips, len(clips), 0, args.pause_ms)
    language = None if detect else entries[0].lang
    run = asyncio.run(stream_sessions(url, [script], args.chunk_ms, pid, language))
    log = run.logs[0]
    items = list(log.items.values())
    spans = [(item.start_ms or 0.0, item.end_ms or item.start_ms or 0.0) for item in items]
    true_ms = [(1000 * a / RATE, 1000 * (b + 1) / RATE) for a, b in script.spans]
    assigned, stray = match_items(true_ms, spans)
    out = PathRun(problems=[*log.errors, *(f"stray item: {items[i].transcript!r}" for i in stray)])
    chunk_samples = args.chunk_ms * RATE // 1000
    for u, indices in enumerate(assigned):
        done = [at for i in indices if (at := items[i].completed_at) is not None]
        out.hypotheses.append(" ".join(items[i].transcript for i in indices if items[i].completed_at))
        chunk = script.spans[u][1] // chunk_samples  # the chunk holding the last voiced sample
        if done and chunk < len(log.sent_at):
            out.latency_ms.append(1000 * (max(done) - log.sent_at[chunk]))
        else:
            out.problems.append(f"utterance {u} ({entries[u].audio.name}): no final")
    return out


def _score(entries: list[ManifestEntry], hypotheses: list[str]) -> dict[str, Any]:
    """Overall and per-source WER (corpus WER: edits over reference words)."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for entry, hyp in zip(entries, hypotheses, strict=True):
        ref = normalize(entry.text, entry.lang)
        errors = edits(ref, normalize(hyp, entry.lang))
        for key in ("all", entry.source):
            counts[key][0] += errors
            counts[key][1] += len(ref)
    return {key: round(e / max(n, 1), 4) for key, (e, n) in counts.items()}


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run the chosen paths, print the table, write JSON; exit status 0, 1 if a path had problems."""
    manifest = args.manifest or build_manifest(args.set, args.cache_dir)
    entries = load_manifest(manifest)[: args.limit]
    if not entries:
        print(f"no utterances in {manifest}")
        return 1
    env = dict(args.server_env)
    if args.model:
        settings = settings.model_copy(update={"asr": settings.asr.model_copy(update={"model": args.model})})
        env["VOXRT_ASR__MODEL"] = args.model
    runs: dict[str, PathRun] = {}
    if "raw" in args.paths:
        runs["raw"] = _raw(entries, settings, args.detect_language)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    model = None
    if set(args.paths) - {"raw"}:
        with running_server(args.output.with_suffix(".server.log"), config=args.config, env=env) as server:
            model = httpx.get(f"{server.base_url}/v1/models", timeout=5).json()["data"][0]["id"]
            for path in args.paths:
                if path == "stream":
                    url = server.realtime_url
                    runs[path] = _stream(url, entries, server.process.pid, args, args.detect_language)
                elif path != "raw":
                    runs[path] = _rest(server.base_url, entries, path, args.detect_language)
    sources = sorted({e.source for e in entries})
    audio_s = sum(len(decode_audio(e.audio.read_bytes())) / 16000 for e in entries)
    results: dict[str, dict[str, Any]] = {
        path: {
            "wer": _score(entries, r.hypotheses),
            "latency_ms": percentiles(r.latency_ms),
            # decode paths: time taken over audio decoded (stream latencies are not decode times)
            "rtf": None if path == "stream" else round(sum(r.latency_ms) / 1000 / audio_s, 3),
            "problems": r.problems[:20],
            "hypotheses": r.hypotheses,
        }
        for path, r in runs.items()
    }
    report = {
        "manifest": str(manifest),
        "utterances": len(entries),
        "audio_s": round(audio_s, 1),
        "server_model": model,
        "server_env": env,
        "detect_language": args.detect_language,
        "references": [e.text for e in entries],
        "paths": results,
    }
    args.output.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"{len(entries)} utterances ({audio_s:.0f} s) from {manifest}; server model {model}")
    header = "".join(f"{s:>16}" for s in sources)
    print(f"{'path':<14}{'WER %':>8}{header}{'p50 ms':>9}{'p95 ms':>9}{'RTF':>7}")
    for path, r in results.items():
        per_source = "".join(f"{100 * r['wer'].get(s, 0):>16.2f}" for s in sources)
        p50, p95 = r["latency_ms"]["p50"] or 0, r["latency_ms"]["p95"] or 0
        rtf = "-" if r["rtf"] is None else f"{r['rtf']:.3f}"
        print(f"{path:<14}{100 * r['wer']['all']:>8.2f}{per_source}{p50:>9.0f}{p95:>9.0f}{rtf:>7}")
    problems = [p for r in runs.values() for p in r.problems]
    for problem in problems[:5]:
        print(f"  problem: {problem}")
    print(f"written to {args.output}")
    return 1 if problems else 0
