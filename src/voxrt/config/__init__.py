"""voxrt configuration: one settings model, read from YAML, then env, then CLI flags.

Precedence, lowest to highest: field defaults, the YAML file (``--config`` or
``VOXRT_CONFIG``), ``VOXRT_*`` environment variables (``__`` separates nested
keys, e.g. ``VOXRT_SERVER__PORT=9000``), then CLI flags.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from voxrt.config.engines import AsrSettings, LlmSettings, TtsSettings
from voxrt.config.sections import (
    AudioSettings,
    AuthSettings,
    ConfigError,
    ConversationSettings,
    LimitsSettings,
    LoggingSettings,
    RealtimeSettings,
    ServerSettings,
    VadSettings,
)

__all__ = [
    "AsrSettings",
    "AudioSettings",
    "AuthSettings",
    "ConfigError",
    "ConversationSettings",
    "LimitsSettings",
    "LlmSettings",
    "LoggingSettings",
    "RealtimeSettings",
    "ServerSettings",
    "Settings",
    "TtsSettings",
    "VadSettings",
    "example_yaml",
    "load_settings",
    "settings_yaml",
]


_yaml_values: ContextVar[dict[str, Any]] = ContextVar("voxrt_yaml_values")


class _YamlSource(PydanticBaseSettingsSource):
    """Values from the YAML file that ``load_settings`` read."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return _yaml_values.get({}).get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_yaml_values.get({}))


class Settings(BaseSettings):
    """The whole voxrt configuration."""

    model_config = SettingsConfigDict(
        env_prefix="VOXRT_", env_nested_delimiter="__", extra="forbid", validate_assignment=True
    )

    server: ServerSettings = Field(default_factory=ServerSettings, description="HTTP server.")
    audio: AudioSettings = Field(default_factory=AudioSettings, description="Audio input.")
    vad: VadSettings = Field(
        default_factory=VadSettings, description="Voice activity detection for streaming sessions."
    )
    asr: AsrSettings = Field(default_factory=AsrSettings, description="Speech recognition.")
    llm: LlmSettings = Field(default_factory=LlmSettings, description="Language model (agent replies).")
    realtime: RealtimeSettings = Field(
        default_factory=RealtimeSettings, description="Realtime WebSocket sessions (/v1/realtime)."
    )
    conversation: ConversationSettings = Field(
        default_factory=ConversationSettings, description="Conversation (agent) sessions at /v1/realtime."
    )
    tts: TtsSettings = Field(default_factory=TtsSettings, description="Speech synthesis.")
    limits: LimitsSettings = Field(default_factory=LimitsSettings, description="Request limits.")
    auth: AuthSettings = Field(default_factory=AuthSettings, description="Access control.")
    logging: LoggingSettings = Field(default_factory=LoggingSettings, description="Logging.")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # First wins: CLI flags (init), then env, then the YAML file.
        return init_settings, env_settings, _YamlSource(settings_cls)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConfigError(f"config file {path}: cannot read it ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path}: not valid YAML ({exc})") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path}: expected a mapping of sections, got {type(data).__name__}")
    return data


def _describe(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"])
        value = err.get("input")
        if err["type"] == "extra_forbidden":
            lines.append(f"{key}: unknown key (see `voxrt config example`)")
        else:
            lines.append(f"{key} = {value!r}: {err['msg']}")
    return "invalid configuration:\n  " + "\n  ".join(lines)


def load_settings(config_file: Path | None = None, overrides: dict[str, Any] | None = None) -> Settings:
    """Build the effective settings.

    Args:
        config_file: YAML file; ``None`` falls back to ``$VOXRT_CONFIG`` if set.
        overrides: nested values from CLI flags, e.g. ``{"server": {"port": 9000}}``.

    Raises:
        ConfigError: a file is unreadable or a value is invalid.
    """
    if config_file is None and os.environ.get("VOXRT_CONFIG"):
        config_file = Path(os.environ["VOXRT_CONFIG"])
    token = _yaml_values.set(_read_yaml(config_file) if config_file else {})
    try:
        return Settings(**(overrides or {}))
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None
    finally:
        _yaml_values.reset(token)


def settings_yaml(settings: Settings) -> str:
    """The effective settings as YAML, secrets masked."""
    return yaml.safe_dump(settings.model_dump(mode="json"), sort_keys=False)


def example_yaml() -> str:
    """A commented YAML file with every key at its default."""
    out = ["# voxrt configuration. Every key is optional; env VOXRT_SECTION__KEY overrides it."]
    for name, field in Settings.model_fields.items():
        section = field.annotation
        assert isinstance(section, type) and issubclass(section, BaseModel)
        out.append(f"\n# {field.description}\n{name}:")
        defaults = section().model_dump(mode="json")
        for key, sub in section.model_fields.items():
            out.append(f"  # {sub.description}")
            dumped = yaml.safe_dump({key: defaults[key]}, default_flow_style=True, width=1000)
            out.append("  " + dumped.strip().removeprefix("{").removesuffix("}"))
    return "\n".join(out) + "\n"
