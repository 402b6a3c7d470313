"""What the sessions of ``python -m bench.compare`` say: Piper sentences (the default) or real
recordings of known text from a manifest, as in ``voxrt bench accuracy``: ``--set en`` (Debian's
Asterisk prompts, 8 kHz telephone speech, fetched with apt on first use) or ``--manifest FILE``.

Either way a session's script is built as ``voxrt bench stream`` builds it (24 kHz, voiced spans
from the clean audio, ``--pause-ms`` of silence after each utterance), then resampled to the
16 kHz that every system is sent. Piper sessions start one sentence apart; manifest sessions take
their scored utterances from the set in order, one after the other, wrapping round at its end.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.compare.peers.session import RATE
from voxrt.audio import resample
from voxrt.audio.pcm import to_float32, to_int16
from voxrt.bench.corpus import write_corpus
from voxrt.bench.realspeech import build_manifest, load_manifest
from voxrt.bench.stream_client import RATE as RATE_24K
from voxrt.bench.stream_client import Clip, build_script, decode_clip, load_clip

__all__ = ["Script", "Speech", "add_arguments", "load_speech", "manifest_speech", "piper_speech"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--set", choices=["en"], help="real speech: Debian's Asterisk prompts (default: Piper)"
    )
    source.add_argument(
        "--manifest", type=Path, help='real speech: JSONL, {"audio": path, "text": reference}'
    )
    parser.add_argument("--cache-dir", type=Path, help="where --set is unpacked (default: ~/.cache/voxrt)")
    parser.add_argument("--corpus-dir", type=Path, default=Path("bench-results/corpus"), help="Piper's")


@dataclass(frozen=True)
class Script:
    """One session's audio (16 kHz int16) with its texts and each utterance's voiced sample span;
    all utterances but the last are scored (the last gives the one before it speech to follow)."""

    pcm: bytes
    texts: list[str]
    spans: list[tuple[int, int]]

    @property
    def scored(self) -> int:
        return len(self.texts) - 1


@dataclass(frozen=True)
class Speech:
    """The utterances sessions are built from, and what the report says of them (``source``)."""

    clips: list[Clip]
    source: dict[str, Any]

    @property
    def label(self) -> str:
        """One line for the table: which speech, how many utterances."""
        if self.source["kind"] == "piper":
            return f"Piper corpus ({len(self.clips)} sentences, {self.source['corpus_dir']})"
        named = f"--set {self.source['set']}: " if self.source.get("set") else ""
        return f"{named}{self.source['manifest']} ({len(self.clips)} utterances)"

    def scripts(self, sessions: int, count: int, pause_ms: int) -> list[Script]:
        """``sessions`` scripts of ``count`` utterances each, as 16 kHz PCM; session ``i`` starts at
        Piper sentence ``i``, or at manifest utterance ``i * (count - 1)``."""
        step = 1 if self.source["kind"] == "piper" else max(count - 1, 1)
        scripts = []
        for i in range(sessions):
            s24 = build_script(self.clips, count, i * step, pause_ms)
            pcm = to_int16(resample(to_float32(s24.pcm), RATE_24K, RATE)).tobytes()
            spans = [(a * RATE // RATE_24K, -(-b * RATE // RATE_24K)) for a, b in s24.spans]
            scripts.append(Script(pcm, s24.texts, spans))
        return scripts


def piper_speech(corpus_dir: Path) -> Speech:
    """The Piper corpus (synthesized into ``corpus_dir`` on first use)."""
    clips = [load_clip(u.text, u.path) for u in write_corpus(corpus_dir)]
    return Speech(clips, {"kind": "piper", "corpus_dir": str(corpus_dir), "utterances": len(clips)})


def manifest_speech(manifest: Path, name: str | None = None) -> Speech:
    """Every utterance of a JSONL manifest, its text the reference; ``name``: the built-in set's.

    Raises:
        ValueError: a line is malformed, or the manifest holds no utterance.
        RuntimeError: an audio file holds no speech.
    """
    clips = [decode_clip(e.text, e.audio) for e in load_manifest(manifest)]
    if not clips:
        raise ValueError(f"no utterances in {manifest}")
    source = {"kind": "manifest", "set": name, "manifest": str(manifest), "utterances": len(clips)}
    return Speech(clips, source)


def load_speech(args: argparse.Namespace) -> Speech:
    """The speech the command line chose: ``--set``, ``--manifest`` or the Piper corpus."""
    if args.set:
        return manifest_speech(build_manifest(args.set, args.cache_dir), args.set)
    if args.manifest:
        return manifest_speech(args.manifest)
    return piper_speech(args.corpus_dir)
