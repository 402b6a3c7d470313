from __future__ import annotations

from pathlib import Path

import pytest

from voxrt.asr.faster_whisper import resolve_model_dir
from voxrt.asr.models import english_only, installed_models, named_model_dir
from voxrt.config import AsrSettings, ConfigError


def test_named_models() -> None:
    assert installed_models() == ["tiny.en", "base"]  # the dev extra installs base
    assert english_only("tiny.en") and not english_only("base")
    assert named_model_dir("/models/my-whisper") is None  # a path, not a name
    with pytest.raises(ConfigError, match=r"incomplete model\.bin"):
        named_model_dir("small")


def test_base_is_assembled_once_into_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOXRT_MODEL_CACHE", str(tmp_path))
    path, model_id = resolve_model_dir(AsrSettings(model="base"))
    assert (path, model_id) == (tmp_path / "whisper-base", "base")
    assert sorted(p.name for p in path.iterdir()) == [
        "config.json",
        "model.bin",
        "tokenizer.json",
        "vocabulary.json",
    ]
    assert path.joinpath("model.bin").stat().st_size == 94371840 + 50845767  # both parts, whole
    stamp = path.joinpath("model.bin").stat().st_mtime_ns
    assert named_model_dir("base") == path and path.joinpath("model.bin").stat().st_mtime_ns == stamp


def test_a_directory_without_a_model_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no model\.bin"):
        resolve_model_dir(AsrSettings(model=str(tmp_path)))
