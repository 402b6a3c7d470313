"""``voxrt bench tts``: per engine, time to first audio (``tts_ttfb_ms``) and real-time factor for
short, medium and long inputs; cold (a fresh engine's first request), warm (one at a time), and N
requests at once. In-process, through ``TTSEngine.synthesize`` (chunking, worker pool, resampling
to 24 kHz as the speech endpoint does), so the figures are the server's minus HTTP."""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

from voxrt.config import Settings
from voxrt.tts import ENGINES, SynthesisMetrics, TTSEngine, create_tts_engine

__all__ = ["INPUTS", "add_arguments", "run"]

INPUTS: dict[str, str] = {
    "short": "Hello, thanks for calling. How can I help you today?",
    "medium": (
        "The quarterly report is ready. Revenue grew by 12 percent, mostly from the new subscription "
        "plans, while costs stayed flat. I will send you the full numbers this afternoon."
    ),
    "long": (
        "Good morning, and welcome to the weekly update. First, the new office opens on Monday, and "
        "everyone should have received a parking pass by now. Second, the training sessions have "
        "moved to Thursday afternoons, so please check your calendar. Third, the support team "
        "answered more than four hundred requests last week, a record for them. Finally, remember "
        "that the building will be closed on Friday for maintenance. Thank you, and have a good week."
    ),
}
_RATE = 24000  # what POST /v1/audio/speech asks of the engine


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--engines", default=",".join(ENGINES), help="comma-separated engines (default: all three)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="warm requests per input, one at a time")
    parser.add_argument("--concurrency", type=int, default=4, help="requests at once (medium input)")
    parser.add_argument("--output", type=Path, default=Path("bench-results/tts.json"))
    parser.add_argument("--plot", type=Path, default=Path("bench-results/tts.png"))


async def _one(engine: TTSEngine, text: str) -> SynthesisMetrics:
    metrics: list[SynthesisMetrics] = []
    async for _ in engine.synthesize(text, sample_rate=_RATE, on_metrics=metrics.append):
        pass
    return metrics[0]


def _percentiles(values: list[float], digits: int) -> dict[str, Any]:
    p50, p95 = np.percentile(np.asarray(values, dtype=np.float64), [50, 95])
    return {"count": len(values), "p50": round(float(p50), digits), "p95": round(float(p95), digits)}


def _summary(runs: list[SynthesisMetrics]) -> dict[str, Any]:
    return {
        "tts_ttfb_ms": _percentiles([m.tts_ttfb_ms for m in runs], 1),
        "rtf": _percentiles([m.rtf for m in runs], 4),
        "audio_s": round(sum(m.audio_s for m in runs) / len(runs), 2),
    }


async def _fresh(name: str, settings: Settings) -> tuple[TTSEngine, float]:
    engine = create_tts_engine(settings.tts, name)
    started = time.perf_counter()
    await asyncio.to_thread(engine.load, False)
    return engine, time.perf_counter() - started


async def _bench_engine(name: str, settings: Settings, repeats: int, concurrency: int) -> dict[str, Any]:
    result: dict[str, Any] = {"cold": {}, "warm": {}}
    loads = []
    for label, text in INPUTS.items():  # cold: a freshly loaded engine's first request
        engine, load_s = await _fresh(name, settings)
        loads.append(load_s)
        try:
            result["cold"][label] = _summary([await _one(engine, text)])
        finally:
            engine.close()
        print(f"  {name} {label} cold: {_line(result['cold'][label])}", flush=True)
    result["load_s"] = round(min(loads), 2)
    engine, _ = await _fresh(name, settings)
    try:
        await _one(engine, INPUTS["short"])  # warm-up, as the server does at start
        for label, text in INPUTS.items():
            result["warm"][label] = _summary([await _one(engine, text) for _ in range(repeats)])
            print(f"  {name} {label} warm: {_line(result['warm'][label])}", flush=True)
        together = await asyncio.gather(*(_one(engine, INPUTS["medium"]) for _ in range(concurrency)))
        result["concurrent"] = {"requests": concurrency, **_summary(list(together))}
        print(f"  {name} medium x{concurrency}: {_line(result['concurrent'])}", flush=True)
    finally:
        engine.close()
    return result


def _line(stats: dict[str, Any]) -> str:
    ttfb, rtf = stats["tts_ttfb_ms"], stats["rtf"]
    return (
        f"first audio p50 {ttfb['p50']:.0f} ms p95 {ttfb['p95']:.0f} ms, "
        f"rtf p50 {rtf['p50']:.3f}, {stats['audio_s']:.1f} s audio"
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run the benchmark; print a table, write JSON to ``args.output`` and a chart to ``args.plot``."""
    names = [n.strip() for n in args.engines.split(",") if n.strip()]
    unknown = sorted(set(names) - set(ENGINES))
    if unknown:
        print(f"voxrt bench tts: unknown engines {unknown}; choose from {list(ENGINES)}")
        return 2
    report: dict[str, Any] = {
        "machine": {"platform": platform.platform(), "processor": platform.processor()},
        "threads": settings.tts.threads,
        "inputs": {k: len(v) for k, v in INPUTS.items()},
        "engines": {},
    }
    for name in names:
        print(f"{name}:", flush=True)
        report["engines"][name] = asyncio.run(_bench_engine(name, settings, args.repeats, args.concurrency))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    from voxrt.bench.plot import plot_tts

    plot_tts(report["engines"], args.plot)
    print(f"wrote {args.output} and {args.plot}")
    return 0
