"""The sections of voxrt's settings that are not an engine's: server, audio input, VAD,
realtime sessions, limits, auth and logging."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

__all__ = [
    "AudioSettings",
    "AuthSettings",
    "ConfigError",
    "LimitsSettings",
    "LoggingSettings",
    "RealtimeSettings",
    "ServerSettings",
    "VadSettings",
]


class ConfigError(Exception):
    """The configuration is invalid; the message names the key, the value and what is allowed."""


class Section(BaseModel):
    """A settings section: unknown keys are errors (a typo must not pass silently)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ServerSettings(Section):
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


class AudioSettings(Section):
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


class VadSettings(Section):
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
    trailing_pad_ms: int = Field(
        100,
        ge=0,
        le=2000,
        description="Audio kept after the end of speech, in ms (word endings the VAD called silence); a "
        "speculative final starts once this much silence has followed the speech (README: Conversations).",
    )
    max_utterance_s: float = Field(
        30.0,
        ge=1.0,
        le=600.0,
        description="Longest utterance in seconds; a longer one is cut, at a pause when there is one.",
    )
    semantic_check_ms: int = Field(
        200,
        ge=50,
        le=2000,
        description="semantic_vad: silence after which the end-of-turn model is first asked whether the "
        "turn is over, in ms (pipecat asks Smart Turn after 200 ms too); again each time it doubles.",
    )


class RealtimeSettings(Section):
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


class ConversationSettings(Section):
    max_items: int = Field(
        500,
        ge=10,
        le=100000,
        description="Most items a conversation session keeps; the oldest go first (what the model reads "
        "is bounded further by llm.memory_turns and llm.memory_tokens).",
    )
    echo_guard_ms: int = Field(
        3000,
        ge=0,
        le=30000,
        description="For this long after a reply's audio starts, speech cuts the reply short only once "
        "it is recognised as words that are not the reply's own (a client without echo cancellation "
        "would otherwise interrupt itself); 0 turns the guard off.",
    )
    estimate_playback: bool = Field(
        True,
        description="When speech interrupts a reply, keep in the conversation only the part of the "
        "reply the client has played by then, estimated from the audio sent and when; a "
        "conversation.item.truncate from the client replaces the estimate.",
    )
    preemptive_generation: bool = Field(
        True,
        description="Start the reply on the speculative transcript, before the silence window has "
        "closed; it is kept if the turn ends with that transcript, dropped if speech resumes.",
    )
    audio_lead_ms: int = Field(
        1500,
        ge=200,
        le=60000,
        description="A reply's audio is sent at most this far ahead of the client's real-time playback: "
        "what speech synthesis keeps in hand against network jitter, and the most a client that does "
        "not stop playback at speech_started goes on playing after an interruption.",
    )
    first_chunk_words: int = Field(
        4,
        ge=0,
        le=100,
        description="Speak a reply's first words as soon as this many are written, when no clause "
        "has ended sooner (the first audio comes earlier; the voice may pause there); 0: the first "
        "chunk ends at the first clause.",
    )
    max_response_audio_s: float = Field(
        300.0, ge=1.0, le=3600.0, description="Most audio one reply may hold, in seconds."
    )


class LimitsSettings(Section):
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


class AuthSettings(Section):
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


class LoggingSettings(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level.")
    format: Literal["text", "json"] = Field(
        "text", description="text lines, or one JSON object per line (with session and item ids)."
    )
    log_transcripts: bool = Field(
        False, description="Log transcript text (user data; off by default, only sizes are logged)."
    )
