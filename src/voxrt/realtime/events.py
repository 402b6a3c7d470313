"""OpenAI Realtime protocol shapes for transcription sessions: client payloads to validate,
the session configuration, and server event constructors."""

from __future__ import annotations

import json
import secrets
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from voxrt.audio.pcm import AudioFormat
from voxrt.errors import InvalidRequest, VoxrtError
from voxrt.realtime.server_events import server_event

__all__ = [
    "InvalidEvent",
    "InvalidJson",
    "SessionConfig",
    "TurnDetection",
    "UnknownEvent",
    "audio_format",
    "error_event",
    "input_changes",
    "parse_event",
    "server_event",
    "shorten",
    "validation_error",
]


class _Lenient(BaseModel):
    # unknown keys are ignored, as OpenAI's server does, so newer clients keep working
    model_config = ConfigDict(extra="ignore")


class FormatIn(_Lenient):
    type: Literal["audio/pcm", "audio/pcmu", "audio/pcma"] = "audio/pcm"
    rate: Literal[8000, 16000, 24000] | None = None


class TranscriptionIn(_Lenient):
    model: str | None = Field(None, max_length=200)  # echoed in every session.updated
    language: str | None = Field(None, max_length=16)
    prompt: str | None = Field(None, max_length=4000)


class TurnDetection(_Lenient):
    """``server_vad`` (threshold, padding, silence) or ``semantic_vad`` (eagerness); the keys of
    the other type are ignored."""

    type: Literal["server_vad", "semantic_vad"] = "server_vad"
    threshold: float | None = Field(None, ge=0.0, le=1.0)
    prefix_padding_ms: int | None = Field(None, ge=0, le=5000)
    silence_duration_ms: int | None = Field(None, ge=50, le=10000)
    eagerness: Literal["low", "medium", "high", "auto"] = "auto"

    def to_wire(self) -> dict[str, Any]:
        """As ``session.created`` / ``session.updated`` carry it."""
        if self.type == "semantic_vad":
            return {"type": "semantic_vad", "eagerness": self.eagerness}
        return self.model_dump(include={"type", "threshold", "prefix_padding_ms", "silence_duration_ms"})


class NoiseReductionIn(_Lenient):
    type: Literal["near_field", "far_field"]


class AudioInputIn(_Lenient):
    format: FormatIn | None = None
    transcription: TranscriptionIn | None = None
    turn_detection: TurnDetection | None = None
    noise_reduction: NoiseReductionIn | None = None


class AudioIn(_Lenient):
    input: AudioInputIn | None = None


class SessionIn(_Lenient):
    """GA ``session.update`` payload (transcription sessions)."""

    type: Literal["transcription"] | None = None
    audio: AudioIn | None = None


_BETA_FORMATS = {
    "pcm16": ("audio/pcm", 24000),
    "g711_ulaw": ("audio/pcmu", 8000),
    "g711_alaw": ("audio/pcma", 8000),
}


class BetaSessionIn(_Lenient):
    """Beta ``transcription_session.update`` payload."""

    input_audio_format: Literal["pcm16", "g711_ulaw", "g711_alaw"] | None = None
    input_audio_transcription: TranscriptionIn | None = None
    turn_detection: TurnDetection | None = None
    input_audio_noise_reduction: NoiseReductionIn | None = None

    def to_ga(self) -> SessionIn:
        """The same request in the GA shape; keys the client left out stay unset."""
        given = self.model_fields_set
        audio: dict[str, Any] = {}
        if self.input_audio_format is not None:
            kind, rate = _BETA_FORMATS[self.input_audio_format]
            audio["format"] = FormatIn(type=kind, rate=rate)
        for beta, ga in (
            ("input_audio_transcription", "transcription"),
            ("turn_detection", "turn_detection"),
            ("input_audio_noise_reduction", "noise_reduction"),
        ):
            if beta in given:
                audio[ga] = getattr(self, beta)
        return SessionIn(audio=AudioIn(input=AudioInputIn(**audio)))


class SessionConfig(BaseModel):
    """The effective settings of one transcription session."""

    id: str = Field(default_factory=lambda: "sess_" + secrets.token_hex(10))
    format: AudioFormat = AudioFormat()
    model: str = ""
    language: str | None = None
    prompt: str | None = None
    turn_detection: TurnDetection | None = TurnDetection()
    noise_reduction: str | None = None

    def apply(self, update: SessionIn) -> SessionConfig:
        """A copy with the keys the update sets.

        Raises:
            InvalidEvent: an audio/pcm rate other than 16000 or 24000.
        """
        audio = update.audio.input if update.audio else None
        return self.model_copy(update=input_changes(audio) if audio is not None else {})

    def to_wire(self) -> dict[str, Any]:
        """The session as OpenAI's GA ``session.created`` / ``session.updated`` carry it."""
        turn = None if self.turn_detection is None else self.turn_detection.to_wire()
        return {
            "type": "transcription",
            "id": self.id,
            "object": "realtime.transcription_session",
            "audio": {
                "input": {
                    "format": {"type": self.format.type, "rate": self.format.rate},
                    "transcription": {"model": self.model, "language": self.language, "prompt": self.prompt},
                    "turn_detection": turn,
                    "noise_reduction": {"type": self.noise_reduction} if self.noise_reduction else None,
                }
            },
            "include": [],
        }


def input_changes(audio: AudioInputIn) -> dict[str, Any]:
    """What ``session.audio.input`` sets: ``format``, ``model``, ``language``, ``prompt``,
    ``turn_detection``, ``noise_reduction`` (a key the client left out is left out).

    Raises:
        InvalidEvent: an unsupported audio format.
    """
    given = audio.model_fields_set
    changes: dict[str, Any] = {}
    if audio.format is not None:
        changes["format"] = audio_format(audio.format, "session.audio.input.format")
    if audio.transcription is not None:
        t = audio.transcription
        if t.model is not None:
            changes["model"] = t.model
        changes |= {key: getattr(t, key) for key in ("language", "prompt") if key in t.model_fields_set}
    if "turn_detection" in given:
        changes["turn_detection"] = audio.turn_detection
    if "noise_reduction" in given:
        changes["noise_reduction"] = audio.noise_reduction.type if audio.noise_reduction else None
    return changes


def audio_format(given: FormatIn, param: str) -> AudioFormat:
    """The format a client named.

    Raises:
        InvalidEvent: an audio/pcm rate other than 16000 or 24000, or G.711 at another rate than 8000.
    """
    rate = given.rate or (24000 if given.type == "audio/pcm" else 8000)
    if (given.type == "audio/pcm") != (rate in (16000, 24000)):
        raise InvalidEvent(
            f"{given.type} at {rate} Hz is not supported: audio/pcm takes 24000 or 16000, "
            "audio/pcmu and audio/pcma take 8000.",
            param=f"{param}.rate",
        )
    return AudioFormat(given.type, rate)


class InvalidEvent(InvalidRequest):
    code = "invalid_event"


class InvalidJson(InvalidRequest):
    code = "invalid_json"


class UnknownEvent(InvalidRequest):
    code = "unknown_event"


MAX_DEPTH = 16  # client events nest 5 levels deep; deeper is an attack on the parser
MAX_EVENT_ID = 128  # event ids are echoed in error events


def parse_event(text: str) -> tuple[dict[str, Any], str | None]:
    """A client event and its ``event_id`` (None when absent).

    Raises:
        InvalidJson: not JSON, or not a JSON object.
        InvalidEvent: nested deeper than ``MAX_DEPTH``, or an ``event_id`` longer than ``MAX_EVENT_ID``.
    """
    try:
        event = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidJson(f"The message is not valid JSON: {exc.msg}.") from None
    except RecursionError:  # json's C parser recurses per level and gave up, far past MAX_DEPTH
        raise InvalidEvent(f"The event is nested deeper than {MAX_DEPTH} levels.") from None
    if _deeper_than(event, MAX_DEPTH):
        raise InvalidEvent(f"The event is nested deeper than {MAX_DEPTH} levels.")
    if not isinstance(event, dict):
        raise InvalidJson("A client event must be a JSON object.")
    event_id = event.get("event_id")
    if not isinstance(event_id, str):
        return event, None
    if len(event_id) > MAX_EVENT_ID:
        raise InvalidEvent(f"event_id is longer than {MAX_EVENT_ID} characters.", param="event_id")
    return event, event_id


def _deeper_than(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        for child in children:
            if isinstance(child, dict | list):
                if depth + 1 > limit:
                    return True
                stack.append((child, depth + 1))
    return False


def shorten(text: str, limit: int = 40) -> str:
    """``text`` cut to ``limit`` characters for an error message (client strings are echoed)."""
    return text if len(text) <= limit else text[:limit] + "..."


def validation_error(exc: ValidationError, prefix: str) -> InvalidEvent:
    """The first problem of a pydantic error, with the dotted path of the offending field."""
    first = exc.errors()[0]
    param = ".".join([prefix, *(str(p) for p in first["loc"] if not str(p).startswith("function-"))])
    return InvalidEvent(f"{param}: {first['msg']}", param=param)


def error_event(error: VoxrtError, client_event_id: str | None = None) -> dict[str, Any]:
    """An ``error`` event naming the client event that caused it."""
    body = error.body()["error"]
    body["event_id"] = client_event_id
    return server_event("error", error=body)
