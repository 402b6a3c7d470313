"""``voxrt bench transcribe``: REST throughput beside faster-whisper called directly, same files,
same run.

Both sides load the same model with the same settings; the passes alternate
(direct, REST, direct, REST, ...) so that drift on a noisy machine hits both,
and the report gives medians over the repeats.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import wave
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from voxrt.asr.faster_whisper import resolve_model_dir
from voxrt.bench.corpus import SENTENCES, Utterance, synthesize, write_corpus, write_wav
from voxrt.bench.server import running_server
from voxrt.bench.wer import wer
from voxrt.config import Settings

__all__ = ["add_arguments", "run"]

# What each side runs: faster-whisper called directly, or REST with a response format.
# verbose_json decodes exactly as faster-whisper does (30 s window, timestamps): the HTTP layer's
# own cost. json needs no timestamps, so voxrt encodes short audio unpadded (asr.unpadded_encoder).
_SIDES: dict[str, str | None] = {"direct": None, "rest_verbose": "verbose_json", "rest_json": "json"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--corpus-dir",
        type=Path,
        default=Path("bench-results/corpus"),
        help="where the synthesized speech is kept",
    )
    parser.add_argument("--repeats", type=int, default=3, help="passes over the files per side")
    parser.add_argument("--concurrency", type=int, default=1, help="REST requests in flight")
    parser.add_argument("--output", type=Path, default=Path("bench-results/transcribe.json"))


def _corpus(directory: Path) -> list[Utterance]:
    """The ten sentences, each a file, plus one ~35 s file of all of them with pauses."""
    utterances = write_corpus(directory)
    long_path = directory / "long.wav"
    if not long_path.exists():
        parts = []
        rate = 0
        for text in SENTENCES:
            samples, rate = synthesize(text)
            parts += [samples, np.zeros(rate // 2, np.int16)]
        write_wav(long_path, np.concatenate(parts), rate)
    with wave.open(str(long_path)) as wav:
        duration = wav.getnframes() / wav.getframerate()
    return [*utterances, Utterance(" ".join(SENTENCES), long_path, duration)]


def _direct_pass(model: Any, settings: Settings, files: list[Utterance]) -> tuple[float, list[str]]:
    started = time.perf_counter()
    texts = []
    for utt in files:
        segments, _ = model.transcribe(
            str(utt.path),
            beam_size=settings.asr.beam_size,
            temperature=[0.0],
            language=settings.asr.language,
            condition_on_previous_text=settings.asr.condition_on_previous_text,
            vad_filter=False,
        )
        texts.append("".join(s.text for s in segments).strip())
    return time.perf_counter() - started, texts


def _rest_pass(
    base_url: str, files: list[Utterance], concurrency: int, response_format: str
) -> tuple[float, list[str]]:
    with httpx.Client(base_url=base_url, timeout=300) as client:

        def post(utt: Utterance) -> str:
            response = client.post(
                "/v1/audio/transcriptions",
                files={"file": (utt.path.name, utt.path.read_bytes(), "audio/wav")},
                data={"model": "tiny.en", "response_format": response_format},
            )
            response.raise_for_status()
            return str(response.json()["text"])

        started = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            texts = list(pool.map(post, files))
        return time.perf_counter() - started, texts


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run the benchmark, print the table, write JSON; exit status 0."""
    from faster_whisper import WhisperModel

    files = _corpus(args.corpus_dir)
    audio_s = sum(u.duration_s for u in files)
    model_dir, model_id = resolve_model_dir(settings.asr)
    asr = settings.asr
    model = WhisperModel(
        str(model_dir),
        device=asr.device,
        compute_type=asr.compute_type,
        cpu_threads=asr.cpu_threads,
        num_workers=asr.num_workers,
    )
    _direct_pass(model, settings, files[:1])  # warm-up
    walls: dict[str, list[float]] = {side: [] for side in _SIDES}
    texts: dict[str, list[str]] = {}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    log_path = args.output.with_suffix(".server.log")
    with running_server(log_path, config=args.config) as server:
        for response_format in _SIDES.values():
            if response_format:
                _rest_pass(server.base_url, files[:1], 1, response_format)  # warm-up
        for _ in range(args.repeats):
            for side, response_format in _SIDES.items():
                if response_format is None:
                    elapsed, texts[side] = _direct_pass(model, settings, files)
                else:
                    elapsed, texts[side] = _rest_pass(
                        server.base_url, files, args.concurrency, response_format
                    )
                walls[side].append(elapsed)
    refs = [u.text for u in files]
    report: dict[str, Any] = {
        "model": model_id,
        "files": len(files),
        "audio_s": round(audio_s, 2),
        "repeats": args.repeats,
        "concurrency": args.concurrency,
        "settings": asr.model_dump(mode="json"),
        **{side: _side(audio_s, walls[side], wer(refs, texts[side])) for side in _SIDES},
    }
    direct = report["direct"]["throughput"]
    report["ratio"] = {side: round(report[side]["throughput"] / direct, 3) for side in _SIDES}
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"{len(files)} files, {audio_s:.1f} s of audio, {args.repeats} passes per side, model {model_id}")
    print(f"{'side':<14}{'wall s p50':>12}{'audio s / wall s':>18}{'vs direct':>11}{'WER':>8}")
    for side in _SIDES:
        r = report[side]
        line = f"{side:<14}{r['wall_s_p50']:>12.2f}{r['throughput']:>18.2f}"
        print(f"{line}{report['ratio'][side]:>11.3f}{r['wer']:>8.3f}")
    print(f"written to {args.output}")
    return 0


def _side(audio_s: float, walls: list[float], error_rate: float) -> dict[str, Any]:
    median = statistics.median(walls)
    return {
        "wall_s": [round(w, 3) for w in walls],
        "wall_s_p50": round(median, 3),
        "throughput": round(audio_s / median, 3),
        "wer": round(error_rate, 4),
    }
