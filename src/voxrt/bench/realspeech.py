"""Real speech of known text: the Asterisk core prompts that Debian packages (CC-BY-SA-3.0).

One professional speaker per language, read telephone prompts, 8 kHz WAVs:
``asterisk-core-sounds-{en,es,fr}-wav`` with the transcripts in
``asterisk-core-sounds-{en,es,fr}`` (``core-sounds-LANG.txt.gz``, lines
``key: text``). The packages are fetched with ``apt-get download`` and unpacked
with ``dpkg-deb -x`` into a cache directory (no root install, nothing
committed); ``build_manifest`` writes a JSONL manifest, one
``{"audio", "text", "lang", "source"}`` per prompt, that ``voxrt bench
accuracy --manifest`` and the tests read.

Prompts are kept when their text is what the speaker says: not single words or
digits, no bracketed or quoted notes (``[beep]``, ``"2"``), and in Spanish and
French no digits or ``*``/``#`` (their spoken form is not in the text). English
``*`` and ``#`` are spoken "star" and "pound"; contractions are left to the WER
normaliser, which expands them on both sides.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "LANGUAGES",
    "ManifestEntry",
    "RealSpeechError",
    "build_manifest",
    "cache_root",
    "load_manifest",
    "prompts",
]

LANGUAGES = ("en", "es", "fr")
_VOICES = {"en": "en_US_f_Allison", "es": "es_MX_f_Allison", "fr": "fr_CA_f_June"}
_MIN_WORDS = 3
_NOTE = re.compile(r"[\[\]()\"]")


class RealSpeechError(RuntimeError):
    """The Debian packages could not be fetched or unpacked."""


@dataclass(frozen=True)
class ManifestEntry:
    """One utterance of a manifest: an audio file and what is said in it."""

    audio: Path
    text: str
    lang: str = "en"
    source: str = "manifest"


def cache_root(cache_dir: Path | None = None) -> Path:
    """Where the packages are unpacked: ``cache_dir``, else ``$VOXRT_REALSPEECH_CACHE``, else
    ``~/.cache/voxrt/realspeech``."""
    if cache_dir is not None:
        return cache_dir
    env = os.environ.get("VOXRT_REALSPEECH_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "voxrt" / "realspeech"


def _fetch(lang: str, root: Path) -> Path:
    """Unpack both packages of ``lang`` under ``root/tree`` once; the unpacked tree's root.

    Raises:
        RealSpeechError: apt-get or dpkg-deb failed or is missing.
    """
    tree = root / "tree"
    done = root / f".unpacked-{lang}"
    if done.exists():
        return tree
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        raise RealSpeechError("the real-speech set needs Debian's apt-get and dpkg-deb")
    root.mkdir(parents=True, exist_ok=True)
    names = [f"asterisk-core-sounds-{lang}", f"asterisk-core-sounds-{lang}-wav"]
    with tempfile.TemporaryDirectory(dir=root) as download:
        result = subprocess.run(["apt-get", "download", *names], cwd=download, capture_output=True, text=True)
        debs = sorted(Path(download).glob("*.deb"))
        if result.returncode != 0 or len(debs) != len(names):
            raise RealSpeechError(
                f"apt-get download {' '.join(names)} failed ({result.stderr.strip()[-300:]}); "
                "run 'apt-get update' once and retry"
            )
        for deb in debs:
            unpack = subprocess.run(["dpkg-deb", "-x", str(deb), str(tree)], capture_output=True, text=True)
            if unpack.returncode != 0:
                raise RealSpeechError(f"dpkg-deb -x {deb.name} failed: {unpack.stderr.strip()[-300:]}")
    done.touch()
    return tree


def prompts(lang: str, tree: Path) -> list[ManifestEntry]:
    """The usable prompts of ``lang`` in an unpacked tree, in the order of the transcript file.

    Raises:
        ValueError: ``lang`` is not one of ``LANGUAGES``.
    """
    if lang not in _VOICES:
        raise ValueError(f"no real-speech set for language {lang!r}; one of {', '.join(LANGUAGES)}")
    sounds = tree / "usr/share/asterisk/sounds" / _VOICES[lang]
    listing = tree / f"usr/share/doc/asterisk-core-sounds-{lang}/core-sounds-{lang}.txt.gz"
    entries = []
    with gzip.open(listing, "rt", encoding="utf-8", errors="replace") as lines:
        for line in lines:
            key, sep, written = line.partition(":")
            text = _spoken(written.strip(), lang)
            wav = sounds / f"{key.strip()}.wav"
            if line.startswith(";") or not sep or text is None or not wav.is_file():
                continue
            entries.append(ManifestEntry(wav, text, lang, f"asterisk-{lang}"))
    return entries


def _spoken(text: str, lang: str) -> str | None:
    """The prompt's text as spoken, or None when the text is not a faithful transcript."""
    if _NOTE.search(text) or len(re.findall(r"\w+", text)) < _MIN_WORDS:
        return None
    if lang == "en":
        return re.sub(r"\s+", " ", text.replace("*", " star ").replace("#", " pound ")).strip()
    if re.search(r"[\d*#]", text):
        return None
    return text


def build_manifest(lang: str, cache_dir: Path | None = None) -> Path:
    """Fetch the ``lang`` prompts (once) and write their manifest; its path.

    Raises:
        RealSpeechError: the Debian packages could not be fetched.
        ValueError: no set for ``lang``.
    """
    if lang not in _VOICES:
        raise ValueError(f"no real-speech set for language {lang!r}; one of {', '.join(LANGUAGES)}")
    root = cache_root(cache_dir)
    tree = _fetch(lang, root)
    manifest = root / f"asterisk-{lang}.jsonl"
    lines = [
        json.dumps({"audio": str(e.audio), "text": e.text, "lang": e.lang, "source": e.source})
        for e in prompts(lang, tree)
    ]
    manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return manifest


def load_manifest(path: Path) -> list[ManifestEntry]:
    """The entries of a JSONL manifest; relative audio paths are taken from the manifest's folder.

    Raises:
        ValueError: a line is not an object with string ``audio`` and ``text``.
    """
    entries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            audio, text = row["audio"], row["text"]
            if not isinstance(audio, str) or not isinstance(text, str):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            raise ValueError(
                f"{path}:{number}: expected {{'audio': path, 'text': reference}}, got {line[:80]!r}"
            ) from None
        entries.append(
            ManifestEntry(
                path.parent / audio,  # an absolute audio path stays as it is
                text,
                str(row.get("lang") or "en"),
                str(row.get("source") or path.stem),
            )
        )
    return entries


def main(argv: list[str] | None = None) -> int:
    """``python -m voxrt.bench.realspeech [LANG ...]``: fetch the sets, print the manifests' paths."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("languages", nargs="*", metavar="LANG", help=f"default: {' '.join(LANGUAGES)}")
    parser.add_argument("--cache-dir", type=Path, help="default: $VOXRT_REALSPEECH_CACHE or ~/.cache")
    args = parser.parse_args(argv)
    try:
        for lang in args.languages or LANGUAGES:
            manifest = build_manifest(lang, args.cache_dir)
            count = len(manifest.read_text(encoding="utf-8").splitlines())
            print(f"{lang}: {count} prompts in {manifest}")
    except (RealSpeechError, ValueError) as exc:
        print(f"realspeech: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
