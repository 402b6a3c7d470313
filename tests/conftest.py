"""Shared fixtures: real speech of known text, synthesized once per test session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from voxrt.bench.corpus import SENTENCES, Utterance, synthesize, write_corpus, write_wav
from voxrt.bench.realspeech import ManifestEntry, build_manifest, load_manifest


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    """``async def`` tests marked ``pytest.mark.anyio`` run on asyncio (the server's loop)."""
    return "asyncio"


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[Utterance]:
    """The ten corpus sentences as Piper-spoken WAV files (22.05 kHz)."""
    return write_corpus(tmp_path_factory.mktemp("corpus"), exact=True)


@pytest.fixture(scope="session")
def long_speech(tmp_path_factory: pytest.TempPathFactory) -> Utterance:
    """About 45 s of speech: the corpus sentences twice, with pauses between them."""
    parts = []
    rate = 0
    for text in SENTENCES[:8] * 2:
        samples, rate = synthesize(text, exact=True)
        parts += [samples, np.zeros(int(rate * 0.6), np.int16)]
    audio = np.concatenate(parts)
    path = tmp_path_factory.mktemp("long") / "long.wav"
    write_wav(path, audio, rate)
    return Utterance(" ".join(SENTENCES[:8] * 2), path, len(audio) / rate)


@pytest.fixture(scope="session")
def tiny_voxtral(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random-weight Voxtral and its offline tokenizer, saved as a transformers directory."""
    from voxrt.bench.random_voxtral import build_random_voxtral

    return build_random_voxtral(tmp_path_factory.mktemp("voxtral") / "tiny-voxtral")


def _slice(entries: list[ManifestEntry], count: int) -> list[ManifestEntry]:
    """``count`` entries spread evenly over the set (prompts of a kind sit together in it)."""
    step = max(len(entries) // count, 1)
    return entries[::step][:count]


@pytest.fixture(scope="session")
def real_english() -> list[ManifestEntry]:
    """40 real English prompts (Debian's Asterisk set, fetched on first use; one speaker, 8 kHz).

    On these, tiny.en reads 5.6 % WER; encoding at least 10 s instead of 20 s read 10.6 %."""
    return _slice(load_manifest(build_manifest("en")), 40)


# Prompts that Whisper base reads without an error, given the language or not: the multilingual tests
# check the language plumbing, and a wrong language reads as nonsense (WER near 100 %).
_PROMPTS = {"es": "confbridge-begin-glorious-a", "fr": "priv-introsaved"}


@pytest.fixture(scope="session")
def real_prompts() -> dict[str, ManifestEntry]:
    """One real Spanish and one real French prompt (Debian's Asterisk sets)."""
    chosen = {}
    for lang, stem in _PROMPTS.items():
        chosen[lang] = next(e for e in load_manifest(build_manifest(lang)) if e.audio.stem == stem)
    return chosen
