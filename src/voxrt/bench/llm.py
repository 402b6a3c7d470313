"""``voxrt bench llm``: the configured responder (``llm.*``), time to first token and decode
tokens/s over a set of short spoken-assistant prompts, p50/p95, as JSON.

Each prompt is one reply from a fresh conversation (system prompt + the question), one at a time,
after one untimed warm-up reply. ``llm_ttft_ms`` runs from the call to the first text delta;
tokens/s is the decode rate after the first token (the responder's own ``LLMMetrics``); for it p5 is
the slow tail and p95 the fast end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

from voxrt.bench.stream import percentiles
from voxrt.config import ConfigError, Settings
from voxrt.llm import ChatMessage, LLMMetrics, Responder, ResponseOptions, create_responder

__all__ = ["PROMPTS", "add_arguments", "run"]

PROMPTS = (
    "What is the capital of France?",
    "How many days are there in a week?",
    "Give me one tip for sleeping better.",
    "What is the boiling point of water?",
    "Name a fruit that is yellow.",
    "Why is the sky blue?",
    "What should I cook for dinner tonight?",
    "Tell me a fun fact about cats.",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--engine", choices=["llama_cpp", "openai_compat"], help="default: llm.engine")
    parser.add_argument("--model", help="GGUF file or served model name (default: llm.model)")
    parser.add_argument("--base-url", help="openai_compat: the server (default: llm.base_url)")
    parser.add_argument("--threads", type=int, help="llama_cpp: threads (default: llm.threads)")
    parser.add_argument("--prompts", type=int, default=len(PROMPTS), help="how many of the prompts")
    parser.add_argument("--repeats", type=int, default=2, help="replies per prompt")
    parser.add_argument("--max-tokens", type=int, default=64, help="most tokens per reply")
    parser.add_argument("--output", type=Path, help="JSON (default: bench-results/llm-ENGINE.json)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run the benchmark, print the summary, write JSON; exit status 0."""
    overrides = {
        key: value
        for key, value in {
            "engine": args.engine,
            "model": args.model,
            "base_url": args.base_url,
            "threads": args.threads,
        }.items()
        if value is not None
    }
    llm = settings.llm.model_copy(update=overrides)
    if llm.engine == "voxtral":
        raise ConfigError("voxrt bench llm measures text responders: llm.engine llama_cpp or openai_compat.")
    responder = create_responder(llm)
    started = time.perf_counter()
    responder.load()
    load_s = time.perf_counter() - started
    options = ResponseOptions(temperature=llm.temperature, max_output_tokens=args.max_tokens)
    prompts = [PROMPTS[n % len(PROMPTS)] for n in range(args.prompts)]
    runs = asyncio.run(_replies(responder, llm.instructions, prompts, args.repeats, options))
    completed = [m for m in runs if m.outcome == "completed"]
    report: dict[str, Any] = {
        "engine": llm.engine,
        "model": responder.model_id,
        "load_s": round(load_s, 2),
        "replies": len(runs),
        "max_tokens": args.max_tokens,
        "llm_ttft_ms": percentiles([m.llm_ttft_ms for m in completed if m.llm_ttft_ms is not None]),
        "tokens_per_s": _rates([m.tokens_per_s for m in completed if m.tokens_per_s is not None]),
        "completion_tokens": percentiles([float(m.completion_tokens) for m in completed]),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "load": os.getloadavg()},
        "settings": llm.model_dump(mode="json", exclude={"api_key"}),
    }
    output = args.output or Path("bench-results") / f"llm-{llm.engine}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n")
    print(
        f"{report['model']} ({llm.engine}), {len(completed)} of {len(runs)} replies: "
        f"first token p50 {report['llm_ttft_ms']['p50']} ms, p95 {report['llm_ttft_ms']['p95']} ms; "
        f"tokens/s p50 {report['tokens_per_s']['p50']}, p5 {report['tokens_per_s']['p5']} (slow tail), "
        f"p95 {report['tokens_per_s']['p95']}"
    )
    print(f"written to {output}")
    return 0


def _rates(values: list[float]) -> dict[str, Any]:
    """Percentiles of a rate; p5 is its slow tail (p95 is the fast end)."""
    slow = round(float(np.percentile(values, 5)), 1) if values else None
    return {**percentiles(values), "p5": slow}


async def _replies(
    responder: Responder, instructions: str, prompts: list[str], repeats: int, options: ResponseOptions
) -> list[LLMMetrics]:
    system = [ChatMessage("system", instructions)] if instructions else []
    runs: list[LLMMetrics] = []
    try:
        for n, prompt in enumerate([prompts[0], *prompts * repeats]):
            stream = responder.stream([*system, ChatMessage("user", prompt)], options)
            async with stream:
                async for _ in stream:
                    pass
            if n and stream.metrics is not None:  # the first reply warms up
                runs.append(stream.metrics)
    finally:
        await responder.aclose()
    return runs
