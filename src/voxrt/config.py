"""voxrt configuration: one settings model, read from YAML, then env, then CLI flags.

Precedence, lowest to highest: field defaults, the YAML file (``--config`` or
``VOXRT_CONFIG``), ``VOXRT_*`` environment variables (``__`` separates nested
keys, e.g. ``VOXRT_SERVER__PORT=9000``), then CLI flags.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

__all__ = [
    "AsrSettings",
    "AudioSettings",
    "AuthSettings",
    "ConfigError",
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


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ServerSettings(_Section):
    host: str = Field(
        "127.0.0.1",
        description="Address to bind. Anything but loopback needs API keys or auth.allow_anonymous.",
    )
    port: int = Field(8000, ge=1, le=65535, description="TCP port to listen on.")
    cors_origins: list[str] = Field(
        default_factory=list,
        description="Origins allowed by CORS, e.g. https://app.example.com ('*': any); none by default.",
    )
    header_timeout_s: float = Field(
        10.0,
        gt=0,
        le=600,
        description="Time a connection has to send a request's headers (from connecting, or from the end "
        "of the previous response); slower connections are closed.",
    )
    body_timeout_s: float = Field(
        120.0,
        gt=0,
        le=3600,
        description="Time a request has to send its whole body once its headers arrived; past it the "
        "request gets a 408 and the connection is closed.",
    )
    metrics: bool = Field(
        True, description="Serve Prometheus metrics at GET /metrics (no API key: scrapers send none)."
    )
    drain_timeout_s: float = Field(
        15.0,
        ge=0,
        le=3600,
        description="On SIGTERM, how long committed utterances may take to finish before sessions close.",
    )


class AudioSettings(_Section):
    allow_url_input: bool = Field(
        False, description="Let REST clients pass an http(s) URL instead of uploading the audio."
    )
    url_allowlist: list[str] = Field(
        default_factory=list,
        description="Hosts or CIDR networks that URL input may reach even though they are loopback, "
        "private or link-local (refused otherwise).",
    )
    url_timeout_s: float = Field(
        10.0, gt=0, le=300, description="Total time allowed to fetch audio from a URL, in seconds."
    )
    rest_vad: bool = Field(
        True,
        description="Run the VAD (vad.engine, vad.threshold) over uploaded audio first: a file with no "
        "speech gets an empty transcript without a decode (Whisper hallucinates text in silence).",
    )


class VadSettings(_Section):
    engine: Literal["silero", "webrtc", "energy"] = Field(
        "silero", description="Voice activity detector: silero (ONNX), webrtc, or energy (no model)."
    )
    threshold: float = Field(
        0.5, ge=0.0, le=1.0, description="Speech probability above which a frame counts as speech."
    )
    prefix_padding_ms: int = Field(
        300, ge=0, le=5000, description="Audio kept before the detected start of speech, in ms."
    )
    min_speech_duration_ms: int = Field(
        250, ge=0, le=10000, description="Shorter bursts of speech are dropped as noise, in ms."
    )
    silence_duration_ms: int = Field(
        500,
        ge=50,
        le=10000,
        description="Silence that ends an utterance, in ms (OpenAI's default is 500).",
    )
    max_utterance_s: float = Field(
        30.0,
        ge=1.0,
        le=600.0,
        description="Longest utterance in seconds; a longer one is cut, at a pause when there is one.",
    )


class AsrSettings(_Section):
    engine: Literal["faster_whisper", "voxtral", "remote"] = Field(
        "faster_whisper",
        description="Speech recognizer: faster_whisper (CTranslate2 Whisper), voxtral (Voxtral through "
        "transformers, voxrt[voxtral] extra), remote (an OpenAI-compatible transcription server).",
    )
    model: str | None = Field(
        None,
        description="faster_whisper: a CTranslate2 Whisper model directory (empty: the embedded tiny.en). "
        "voxtral: a transformers Voxtral directory, or a model id already in the local Hugging Face cache "
        "(empty: mistralai/Voxtral-Mini-3B-2507; never downloaded). remote: the model name sent to the "
        "server (empty: mistralai/Voxtral-Mini-3B-2507).",
    )
    model_id: str | None = Field(
        None, description="Model name shown in /v1/models. Empty: derived from the model."
    )
    device: Literal["cpu", "cuda", "auto"] = Field(
        "cpu", description="Where inference runs; auto: CUDA when a device is visible. Voxtral wants cuda."
    )
    compute_type: str = Field(
        "int8",
        description="CTranslate2 compute type: int8, int8_float16, float16, float32, default.",
    )
    cpu_threads: int = Field(0, ge=0, le=256, description="Threads per decode; 0 lets CTranslate2 choose.")
    num_workers: int = Field(
        1,
        ge=1,
        le=16,
        description="Decodes that may run in parallel (each holds cpu_threads threads).",
    )
    beam_size: int = Field(1, ge=1, le=10, description="Beam width; 1 is greedy decoding, the fastest.")
    language: str | None = Field(
        None,
        description="Default language code when a request names none. Empty: detect (multilingual models).",
    )
    temperature_fallback: bool = Field(
        False,
        description="Retry failed decodes at higher temperatures (can cost seconds on short audio).",
    )
    condition_on_previous_text: bool = Field(
        False,
        description="Feed each 30 s window's text into the next. Off: greedy decoding of long audio "
        "can otherwise loop on one sentence.",
    )
    unpadded_encoder: bool = Field(
        True,
        description="Encode audio shorter than 30 s without padding it to Whisper's 30 s window "
        "(when no timestamps are needed: realtime, REST json/text). Several times faster on short audio.",
    )
    min_encoder_s: float = Field(
        20.0,
        ge=1.0,
        le=30.0,
        description="With unpadded_encoder, REST json/text audio is still padded with silence to at least "
        "this length (and 3 s past its end). Shorter windows read real speech worse (10 s: +2.6 WER "
        "points against the 30 s window; 20 s: level with it) and make Whisper repeat itself.",
    )
    realtime_min_encoder_s: float = Field(
        15.0,
        ge=1.0,
        le=30.0,
        description="min_encoder_s for realtime finals, where latency counts: 15 s read real speech "
        "0.2 WER points worse than the 30 s window, for about half the decode time of 20 s.",
    )
    partial_min_encoder_s: float = Field(
        10.0,
        ge=1.0,
        le=30.0,
        description="min_encoder_s for realtime partials, which the final decode replaces: cheaper, "
        "a little less accurate.",
    )
    warmup: bool = Field(True, description="Run one decode at start so the first request is not slow.")
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = Field(
        "auto", description="voxtral: weight and activation type; auto: bfloat16 on CUDA, float32 on CPU."
    )
    attn_implementation: Literal["auto", "sdpa", "flash_attention_2", "eager"] = Field(
        "auto",
        description="voxtral: attention kernel; auto: FlashAttention-2 on CUDA when flash-attn is "
        "installed, else PyTorch SDPA.",
    )
    compile: bool = Field(
        False,
        description="voxtral: torch.compile the decoder with a static KV cache. At load both are timed "
        "and the compiled decoder is kept only if it is faster (logged).",
    )
    max_batch: int = Field(
        8,
        ge=1,
        le=64,
        description="voxtral: most decode requests (from all sessions) run together in one padded batch.",
    )
    batch_wait_ms: float = Field(
        20.0,
        ge=0,
        le=1000,
        description="voxtral: how long a batch about to run waits for requests still being prepared "
        "(a lone request never waits).",
    )
    max_new_tokens: int = Field(
        448,
        ge=1,
        le=8192,
        description="voxtral: most tokens generated per 30 s piece of audio (and per audio question).",
    )
    remote_url: str | None = Field(
        None,
        pattern=r"^https?://[^/\s]+",
        description="remote: base URL of an OpenAI-compatible API, e.g. http://127.0.0.1:8001/v1; "
        "audio goes to {remote_url}/audio/transcriptions.",
    )
    remote_api_key: SecretStr | None = Field(
        None, description="remote: API key sent as Authorization: Bearer (or env VOXRT_ASR__REMOTE_API_KEY)."
    )
    remote_timeout_s: float = Field(
        30.0, gt=0, le=3600, description="remote: longest wait for one answer, in seconds."
    )
    remote_connect_timeout_s: float = Field(
        3.0, gt=0, le=300, description="remote: longest wait to connect, in seconds."
    )
    remote_retries: int = Field(
        2,
        ge=0,
        le=10,
        description="remote: retries after a connection error, a timeout or a 5xx answer (others fail "
        "at once).",
    )
    remote_backoff_s: float = Field(
        0.25, ge=0, le=60, description="remote: wait before the first retry; doubles for each next one."
    )
    remote_max_concurrency: int = Field(
        16, ge=1, le=1024, description="remote: most requests in flight to the server at once."
    )


class LlmSettings(_Section):
    engine: Literal["llama_cpp", "openai_compat", "voxtral"] = Field(
        "llama_cpp",
        description="Responder: llama_cpp (a GGUF model in process, voxrt[llm] extra), openai_compat (any "
        "OpenAI-compatible chat server: vLLM, llama.cpp, Ollama, Mistral), voxtral (the loaded Voxtral "
        "recognizer answers from the user's audio; needs asr.engine: voxtral).",
    )
    model: str | None = Field(
        None,
        description="llama_cpp: a GGUF file (empty: the embedded SmolLM2-135M-Instruct, demo grade). "
        "openai_compat: the model name the server serves (required).",
    )
    instructions: str = Field(
        "You are a helpful voice assistant. Answer in one or two short, plain sentences.",
        description="System prompt, kept at the start of every conversation.",
    )
    temperature: float = Field(0.2, ge=0.0, le=2.0, description="Sampling temperature; 0 is greedy.")
    max_output_tokens: int = Field(256, ge=1, le=32768, description="Most tokens in one reply.")
    memory_turns: int = Field(
        20,
        ge=1,
        le=1000,
        description="Most past turns (a user message and its replies) kept; oldest go first.",
    )
    memory_tokens: int = Field(
        1536,
        ge=64,
        le=1_000_000,
        description="Most tokens of conversation kept, system prompt included; oldest turns go first.",
    )
    threads: int = Field(
        1,
        ge=0,
        le=256,
        description="llama_cpp: threads per generation (0: all cores). More speed up an idle machine; on a "
        "busy one llama.cpp's threads spin waiting for each other (on a loaded 2-core machine 2 threads "
        "made ~2-4 tokens/s where 1 made 34-66).",
    )
    context_tokens: int = Field(
        2048, ge=256, le=131072, description="llama_cpp: context window per conversation, in tokens."
    )
    max_parallel: int = Field(
        2,
        ge=1,
        le=64,
        description="llama_cpp: replies generated at once (one model context each); more wait their turn. "
        "openai_compat: most requests in flight.",
    )
    base_url: str | None = Field(
        None,
        pattern=r"^https?://[^/\s]+",
        description="openai_compat: base URL of the API, e.g. http://127.0.0.1:8080/v1; requests go to "
        "{base_url}/chat/completions.",
    )
    api_key: SecretStr | None = Field(
        None, description="openai_compat: API key sent as Authorization: Bearer (or env VOXRT_LLM__API_KEY)."
    )
    connect_timeout_s: float = Field(
        3.0, gt=0, le=300, description="openai_compat: longest wait to connect, in seconds."
    )
    read_timeout_s: float = Field(
        30.0,
        gt=0,
        le=3600,
        description="openai_compat: longest wait for the first token, and between two tokens, in seconds.",
    )
    retries: int = Field(
        2,
        ge=0,
        le=10,
        description="openai_compat: retries after a connection error, a timeout or a 5xx answer, only "
        "before the first token (a reply already heard is not restarted).",
    )
    backoff_s: float = Field(
        0.25,
        ge=0,
        le=60,
        description="openai_compat: wait before the first retry; doubles for each next one.",
    )


class RealtimeSettings(_Section):
    max_sessions: int = Field(
        8, ge=1, le=10000, description="Concurrent realtime sessions; one more is refused with an error."
    )
    idle_timeout_s: float = Field(
        60.0, gt=0, le=86400, description="Close a session that sends nothing for this long, in seconds."
    )
    max_session_s: float = Field(3600.0, gt=0, le=86400, description="Longest session, in seconds.")
    max_message_bytes: int = Field(
        1024 * 1024, ge=1024, le=64 * 1024 * 1024, description="Largest WebSocket message accepted."
    )
    max_buffer_s: float = Field(
        60.0,
        gt=0,
        le=3600,
        description="Most uncommitted audio held for a session without turn detection, in seconds.",
    )
    partials: bool = Field(True, description="Send transcription deltas while the person is speaking.")
    speculative_final: bool = Field(
        True,
        description="Start the final decode at silence onset and keep it if speech does not resume, "
        "so the transcript is ready when the silence window closes.",
    )
    partial_interval_ms: int = Field(
        300,
        ge=50,
        le=10000,
        description="Least audio between two partial decodes of an utterance; grows under load.",
    )
    # -- per-session bounds against hostile or broken clients --
    max_pending_commits: int = Field(
        4,
        ge=1,
        le=1000,
        description="Committed utterances of one session waiting for their transcript; a commit past "
        "it gets an error (manual turns) or a failed transcription (server VAD) and is not queued.",
    )
    max_audio_rate: float = Field(
        4.0,
        ge=1.0,
        le=1000.0,
        description="Sustained rate, in seconds of audio per second, at which a session may send audio "
        "(1 = real time); audio beyond it and beyond audio_burst_s is refused with an error.",
    )
    audio_burst_s: float = Field(
        20.0,
        ge=1.0,
        le=3600.0,
        description="Audio, in seconds, a session may send ahead of max_audio_rate at once (a client "
        "catching up after a network hiccup, or a short file sent whole).",
    )
    max_messages_per_s: int = Field(
        250,
        ge=10,
        le=100000,
        description="WebSocket messages per second read from one session, with a burst of four "
        "seconds' worth; past it the rest wait in the socket (every message costs the server to read).",
    )
    vad_gate_commits: bool = Field(
        True,
        description="Run the VAD over manually committed audio and skip the decode when it holds no "
        "speech: the transcript is empty instead of what Whisper makes up from silence.",
    )


class TtsSettings(_Section):
    engine: Literal["auto", "piper", "kokoro", "espeak", "none"] = Field(
        "auto",
        description="Speech synthesizer: piper (fast, voxrt[tts]), kokoro (quality, voxrt[kokoro] + "
        "`voxrt setup kokoro`), espeak (tiny, robotic), none (no speech). auto: piper when installed, "
        "else espeak when installed, else none.",
    )
    model: Path | None = Field(
        None,
        description="piper: a voice .onnx (its .onnx.json beside it); kokoro: a Kokoro v1.0 ONNX file. "
        "Empty: the packaged voice / model.",
    )
    voice: str | None = Field(
        None,
        description="Default voice (and what OpenAI's names map to when the engine has no match). "
        "Empty: piper's model, kokoro af_heart, espeak en-us.",
    )
    kokoro_voices: Path | None = Field(
        None,
        description="kokoro: the .npz voices file `voxrt setup kokoro` builds. Empty: "
        "$VOXRT_CACHE or ~/.cache/voxrt, kokoro/voices-kokoro-js-1.2.1.npz.",
    )
    threads: int = Field(1, ge=1, le=64, description="Threads per synthesis (onnxruntime intra-op).")
    device: Literal["cpu", "cuda", "auto"] = Field(
        "cpu", description="kokoro: where it runs; cuda/auto need onnxruntime-gpu."
    )
    warmup: bool = Field(True, description="Synthesize one word at start so the first request is not slow.")


class LimitsSettings(_Section):
    max_upload_bytes: int = Field(
        25 * 1024 * 1024,
        ge=1024,
        le=2**31,
        description="Largest request body or fetched file, in bytes.",
    )
    max_audio_s: float = Field(
        1800.0, gt=0, le=86400, description="Longest audio accepted by one request, in seconds."
    )
    max_pending_requests: int = Field(
        8,
        ge=1,
        le=10000,
        description="REST transcription requests admitted at once (uploading, queued or decoding); "
        "one more is answered 503 with Retry-After.",
    )


class AuthSettings(_Section):
    api_keys: list[SecretStr] = Field(
        default_factory=list, description="Accepted API keys (Authorization: Bearer KEY)."
    )
    api_key_file: Path | None = Field(
        None, description="File with more API keys, one per line ('#' starts a comment)."
    )
    allow_anonymous: bool = Field(
        False, description="Allow binding a non-loopback address without any API key."
    )

    def keys(self) -> list[str]:
        """All accepted keys: ``api_keys`` plus those in ``api_key_file``.

        Raises:
            ConfigError: the key file cannot be read.
        """
        keys = [k.get_secret_value() for k in self.api_keys]
        if self.api_key_file is not None:
            try:
                lines = self.api_key_file.read_text().splitlines()
            except OSError as exc:
                raise ConfigError(f"auth.api_key_file = {self.api_key_file}: cannot read it ({exc})") from exc
            keys += [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
        return keys


class LoggingSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level.")
    format: Literal["text", "json"] = Field(
        "text", description="text lines, or one JSON object per line (with session and item ids)."
    )
    log_transcripts: bool = Field(
        False, description="Log transcript text (user data; off by default, only sizes are logged)."
    )


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


class ConfigError(Exception):
    """The configuration is invalid; the message names the key, the value and what is allowed."""


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
