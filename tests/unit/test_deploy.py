"""deploy/docker-compose.vllm.yml: vLLM runs Voxtral as its docs say, and voxrt's environment there
is a valid voxrt configuration pointing at it (no Docker engine is needed to check that)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml

from voxrt.config import load_settings

COMPOSE = Path(__file__).parents[2] / "deploy" / "docker-compose.vllm.yml"


def _interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ${NAME}, ${NAME:-default} and ${NAME:?error} forms."""

    def one(match: re.Match[str]) -> str:
        name, form, rest = match.group(1), match.group(2), match.group(3)
        if name in env:
            return env[name]
        if form == ":?":
            raise KeyError(f"{name}: {rest}")
        return rest or ""

    return re.sub(r"\$\{(\w+)(?:(:[-?])([^}]*))?\}", one, value)


def test_vllm_serves_voxtral_with_the_mistral_formats() -> None:
    vllm = yaml.safe_load(COMPOSE.read_text())["services"]["vllm"]
    assert vllm["entrypoint"] == ["vllm", "serve"]
    args = " ".join(vllm["command"])
    assert args.startswith("mistralai/Voxtral-Mini-3B-2507 ")
    assert "--tokenizer_mode mistral --config_format mistral --load_format mistral" in args
    assert "--port 8000" in args
    assert vllm["deploy"]["resources"]["reservations"]["devices"][0]["capabilities"] == ["gpu"]


def test_voxrt_environment_is_a_valid_config_that_points_at_vllm(monkeypatch: pytest.MonkeyPatch) -> None:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    voxrt = services["voxrt"]
    with pytest.raises(KeyError, match="VOXRT_API_KEY"):  # compose refuses to start without a key
        _interpolate(voxrt["environment"]["VOXRT_AUTH__API_KEYS"], {})
    for key in list(os.environ):
        if key.startswith("VOXRT_"):
            monkeypatch.delenv(key)
    for key, value in voxrt["environment"].items():
        monkeypatch.setenv(key, _interpolate(str(value), {"VOXRT_API_KEY": "k1"}))
    settings = load_settings()
    assert settings.asr.engine == "remote" and settings.auth.keys() == ["k1"]
    assert settings.server.host == "0.0.0.0"
    assert settings.asr.remote_url == "http://vllm:8000/v1"  # the vllm service, on its port
    assert voxrt["depends_on"]["vllm"]["condition"] == "service_healthy"
    assert (COMPOSE.parent / voxrt["build"]["dockerfile"].removeprefix("deploy/")).is_file()
