"""Config: precedence YAML < env < CLI, validation errors that name the key, and the CLI's exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from voxrt.cli import main
from voxrt.config import ConfigError, Settings, example_yaml, load_settings, settings_yaml


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("VOXRT_"):
            monkeypatch.delenv(key)


def _yaml(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "voxrt.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_defaults() -> None:
    s = load_settings()
    assert (s.server.host, s.server.port) == ("127.0.0.1", 8000)
    assert s.vad.silence_duration_ms == 500
    assert s.asr.temperature_fallback is False
    assert s.audio.allow_url_input is False
    assert s.server.cors_origins == []


def test_precedence_yaml_then_env_then_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _yaml(tmp_path, {"server": {"port": 9001, "host": "127.0.0.2"}, "vad": {"threshold": 0.7}})
    s = load_settings(path)
    assert (s.server.port, s.server.host, s.vad.threshold) == (9001, "127.0.0.2", 0.7)

    monkeypatch.setenv("VOXRT_SERVER__PORT", "9002")
    s = load_settings(path)
    assert (s.server.port, s.server.host) == (9002, "127.0.0.2")  # env wins, YAML keeps the rest

    s = load_settings(path, {"server": {"port": 9003}})
    assert (s.server.port, s.server.host, s.vad.threshold) == (9003, "127.0.0.2", 0.7)


def test_voxrt_config_env_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOXRT_CONFIG", str(_yaml(tmp_path, {"asr": {"beam_size": 3}})))
    assert load_settings().asr.beam_size == 3


@pytest.mark.parametrize(
    ("data", "env", "expected"),
    [
        ({"server": {"port": 70000}}, {}, ["server.port", "70000", "less than or equal to 65535"]),
        ({}, {"VOXRT_VAD__THRESHOLD": "2"}, ["vad.threshold", "'2'", "less than or equal to 1"]),
        ({"asr": {"device": "tpu"}}, {}, ["asr.device", "'tpu'", "'cpu', 'cuda' or 'auto'"]),
        ({"vad": {"silence_ms": 300}}, {}, ["vad.silence_ms", "unknown key"]),
        ({"limits": {"max_audio_s": -1}}, {}, ["limits.max_audio_s", "-1", "greater than 0"]),
    ],
)
def test_invalid_values_name_key_value_and_rule(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data: object, env: dict[str, str], expected: list[str]
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError) as info:
        load_settings(_yaml(tmp_path, data))
    for part in expected:
        assert part in str(info.value)


@pytest.mark.parametrize("text", ["server: [unclosed", "- just\n- a list\n"])
def test_unusable_yaml(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=r"bad\.yaml"):
        load_settings(path)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(tmp_path / "absent.yaml")


def test_cli_exits_2_on_bad_value(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--port", "70000"]) == 2
    err = capsys.readouterr().err
    assert "server.port = 70000" in err and "65535" in err


def test_cli_refuses_public_bind_without_keys(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--host", "0.0.0.0"]) == 2
    assert "auth.allow_anonymous" in capsys.readouterr().err


def test_cli_refuses_missing_model_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _yaml(tmp_path, {"asr": {"model": str(tmp_path / "nowhere")}})
    assert main(["serve", "--config", str(config)]) == 2
    assert "not a CTranslate2 Whisper model directory" in capsys.readouterr().err


def test_config_show_masks_secrets(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VOXRT_AUTH__API_KEYS", '["sk-very-secret"]')
    assert main(["config", "show"]) == 0
    out = capsys.readouterr().out
    assert "sk-very-secret" not in out
    assert yaml.safe_load(out)["auth"]["api_keys"] == ["**********"]


def test_config_example_is_valid_and_documents_every_key() -> None:
    text = example_yaml()
    assert Settings(**yaml.safe_load(text)) == Settings()
    keys = 0
    for field in Settings.model_fields.values():
        section = field.annotation
        assert isinstance(section, type) and issubclass(section, BaseModel)
        for key, sub in section.model_fields.items():
            assert f"  # {sub.description}\n  {key}:" in text
            keys += 1
    assert keys >= 30


def test_show_round_trips(tmp_path: Path) -> None:
    s = load_settings(overrides={"server": {"port": 8123}})
    again = load_settings(_yaml(tmp_path, yaml.safe_load(settings_yaml(s))))
    assert again == s


def test_api_key_file(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.write_text("# team keys\nkey-one\n\n  key-two  \n")
    s = load_settings(overrides={"auth": {"api_keys": ["key-zero"], "api_key_file": str(keys)}})
    assert s.auth.keys() == ["key-zero", "key-one", "key-two"]
    s = load_settings(overrides={"auth": {"api_key_file": str(tmp_path / "absent")}})
    with pytest.raises(ConfigError, match=r"auth\.api_key_file"):
        s.auth.keys()
