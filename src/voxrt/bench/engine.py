"""``voxrt bench engine``: one recognizer in-process, per-utterance latency at several audio lengths
and, for Voxtral, prefill time and decode tokens/s.

Latency is ``engine.transcribe`` of Piper speech cut to each length (the path a
REST json request or a realtime final takes), p50/p95 over the repeats. For
Voxtral, ``prefill`` is a generate of one token (encoder + prompt) and decode
tokens/s is N / (time for 2N tokens - time for N), at batch 1 and (summed over
the rows) at ``asr.max_batch``. ``--random-weights`` builds the model from its config with
random weights (full-size Voxtral-Mini-3B by default): its timings are speed
only, and labelled so; random weights generate up to the token budget.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

from voxrt.asr import TranscriptionOptions, create_asr_engine
from voxrt.audio import SAMPLE_RATE, resample
from voxrt.audio.pcm import to_float32
from voxrt.bench.corpus import SENTENCES, synthesize
from voxrt.bench.random_voxtral import SIZES
from voxrt.bench.stream import percentiles
from voxrt.config import Settings

__all__ = ["add_arguments", "run"]

_DECODE_TOKENS = 64


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--engine", choices=["voxtral", "faster_whisper"], default="voxtral")
    parser.add_argument("--model", help="model directory or cached model id (default: asr.model)")
    parser.add_argument(
        "--random-weights",
        action="store_true",
        help="build the model from its config with random weights (speed only; no weights needed)",
    )
    parser.add_argument(
        "--random-size", choices=sorted(SIZES), default="mini-3b", help="architecture of --random-weights"
    )
    parser.add_argument("--device", choices=["cpu", "cuda", "auto"], help="default: asr.device")
    parser.add_argument("--compile", action="store_true", help="asr.compile: try torch.compile")
    parser.add_argument("--durations", type=_durations, default=[1.0, 5.0, 15.0, 30.0], metavar="S,S,...")
    parser.add_argument("--repeats", type=int, default=5, help="decodes per duration")
    parser.add_argument("--output", type=Path, help="JSON (default: bench-results/engine-ENGINE.json)")


def _durations(text: str) -> list[float]:
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds like 1,5,15,30, not {text!r}") from None
    if not values or min(values) <= 0:
        raise argparse.ArgumentTypeError("durations must be positive")
    return values


def _speech(seconds: float) -> np.ndarray:
    """Piper speech of the corpus sentences, 16 kHz, repeated and cut to ``seconds``."""
    parts: list[np.ndarray] = []
    total = 0
    while total < seconds * SAMPLE_RATE:
        samples, rate = synthesize(SENTENCES[len(parts) % len(SENTENCES)])
        audio = resample(to_float32(samples), rate, SAMPLE_RATE)
        parts += [audio, np.zeros(SAMPLE_RATE // 4, np.float32)]
        total += len(audio) + SAMPLE_RATE // 4
    speech: np.ndarray = np.concatenate(parts)[: int(seconds * SAMPLE_RATE)]
    return speech


def _asr_settings(args: argparse.Namespace, settings: Settings) -> Any:
    asr: dict[str, Any] = {"engine": args.engine}
    if args.device:
        asr["device"] = args.device
    if args.compile:
        asr["compile"] = True
    if args.random_weights:
        import torch

        from voxrt.bench.random_voxtral import build_random_voxtral

        cuda = args.device != "cpu" and torch.cuda.is_available()
        directory = Path("bench-results") / f"voxtral-random-{args.random_size}"
        print(f"building a random-weight Voxtral ({args.random_size}) in {directory} ...", flush=True)
        dtype = "bfloat16" if cuda else "float32"
        build_random_voxtral(directory, args.random_size, device="cuda" if cuda else "cpu", dtype=dtype)
        asr["model"] = str(directory)
    elif args.model:
        asr["model"] = args.model
    return settings.asr.model_copy(update=asr)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run the benchmark, print the table, write JSON; exit status 0."""
    if args.random_weights and args.engine != "voxtral":
        raise SystemExit("voxrt: --random-weights builds a Voxtral; use it with --engine voxtral")
    asr = _asr_settings(args, settings)
    engine = create_asr_engine(asr)
    started = time.perf_counter()
    engine.load()
    load_s = time.perf_counter() - started
    from voxrt.asr.voxtral import VoxtralEngine

    voxtral = engine if isinstance(engine, VoxtralEngine) else None
    rows = []
    for seconds in args.durations:
        audio = _speech(seconds)
        latencies, tokens = [], []
        for _ in range(args.repeats):
            result = asyncio.run(engine.transcribe(audio, TranscriptionOptions(timestamps=False)))
            latencies.append(1000 * result.processing_s)
            tokens.append(sum(len(s.tokens) for s in result.segments))
        row: dict[str, Any] = {
            "audio_s": seconds,
            "latency_ms": percentiles(latencies),
            "tokens": round(float(np.mean(tokens)), 1),
        }
        if voxtral is not None:
            prefill, rate = _decode_speed(voxtral, audio, 1)
            row["prefill_ms"] = round(1000 * prefill, 1)
            row["decode_tokens_per_s"] = round(rate, 1)
        rows.append(row)
        print(f"  {seconds:g} s audio: p50 {row['latency_ms']['p50']} ms", flush=True)
    report: dict[str, Any] = {
        "engine": args.engine,
        "model": engine.model_id,
        "random_weights": bool(args.random_weights),
        "random_size": args.random_size if args.random_weights else None,
        "load_s": round(load_s, 2),
        "repeats": args.repeats,
        "machine": _machine(),
        "settings": asr.model_dump(mode="json", exclude={"remote_api_key"}),
        "rows": rows,
    }
    if voxtral is not None:
        report.update(device=voxtral.device, dtype=voxtral.dtype, attention=voxtral.attn_implementation)
        report["compiled"] = voxtral.compiled
        batch = asr.max_batch
        _, rate = _decode_speed(voxtral, _speech(5.0), batch)
        report["batch"] = {"size": batch, "audio_s": 5.0, "decode_tokens_per_s": round(batch * rate, 1)}
    engine.close()
    output = args.output or Path("bench-results") / f"engine-{args.engine}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n")
    _print(report)
    print(f"written to {output}")
    return 0


def _decode_speed(engine: Any, audio: np.ndarray, batch: int) -> tuple[float, float]:
    """(prefill seconds, decode tokens/s per row): a 1-token generate, and N tokens per the time
    2N tokens take beyond N (prefill cancels out); best of three each, after one that may compile."""
    engine.time_generate(audio, 2 * _DECODE_TOKENS, batch)
    prefill, short, long = (
        min(engine.time_generate(audio, tokens, batch) for _ in range(3))
        for tokens in (1, _DECODE_TOKENS, 2 * _DECODE_TOKENS)
    )
    return prefill, _DECODE_TOKENS / max(long - short, 1e-9)


def _machine() -> dict[str, Any]:
    info: dict[str, Any] = {"platform": platform.platform(), "processor": platform.processor()}
    try:
        import torch
    except ImportError:
        return info
    info["torch"] = torch.__version__
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def _print(report: dict[str, Any]) -> None:
    label = "RANDOM-WEIGHT timings (speed only)" if report["random_weights"] else "timings"
    where = report.get("machine", {}).get("gpu") or "CPU"
    print(
        f"\n{report['engine']} {report['model']}: {label} on {where}, {report['repeats']} decodes per length"
    )
    if "device" in report:
        compiled = "compiled" if report["compiled"] else "eager"
        print(f"{report['device']}, {report['dtype']}, {report['attention']} attention, {compiled}")
    voxtral = "decode_tokens_per_s" in report["rows"][0]
    header = f"{'audio s':>8}{'p50 ms':>10}{'p95 ms':>10}{'tokens':>8}"
    print(header + (f"{'prefill ms':>12}{'decode tok/s':>14}" if voxtral else ""))
    for row in report["rows"]:
        latency = row["latency_ms"]
        line = f"{row['audio_s']:>8g}{latency['p50']:>10}{latency['p95']:>10}{row['tokens']:>8}"
        if voxtral:
            line += f"{row['prefill_ms']:>12}{row['decode_tokens_per_s']:>14}"
        print(line)
    if "batch" in report:
        batch = report["batch"]
        size, rate = batch["size"], batch["decode_tokens_per_s"]
        print(f"batch of {size} ({batch['audio_s']:g} s of audio each): {rate} decode tok/s in all")
