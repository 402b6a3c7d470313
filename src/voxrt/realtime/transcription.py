"""Transcription sessions (``/v1/realtime?intent=transcription``): audio in, transcripts out.

The first session kind: the shared input side (``InputAudio`` and its ``input_audio_buffer.*``
handlers) plus this kind's ``session.update``. Models are shared and passed in.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import ValidationError

from voxrt.asr import ASREngine, TranscriptionOptions
from voxrt.asr.streaming import StreamingRecognizer
from voxrt.config import Settings
from voxrt.realtime.events import (
    BetaSessionIn,
    SessionConfig,
    SessionIn,
    TurnDetection,
    server_event,
    validation_error,
)
from voxrt.realtime.input import InputAudio, InputSession, input_router
from voxrt.realtime.protocol import EventRouter
from voxrt.vad import VADModel
from voxrt.vad.smart_turn import EndOfTurnModel

__all__ = ["TranscriptionSession"]

router: EventRouter[TranscriptionSession] = EventRouter()
router.include(input_router)


class TranscriptionSession(InputSession):
    """State and protocol of one transcription connection."""

    router: ClassVar[EventRouter[Any]] = router

    def __init__(
        self, settings: Settings, engine: ASREngine, vad: VADModel, end_of_turn: EndOfTurnModel | None = None
    ) -> None:
        super().__init__()
        self.settings = settings
        vad_settings = settings.vad
        self.config = SessionConfig(
            turn_detection=TurnDetection(
                threshold=vad_settings.threshold,
                prefix_padding_ms=vad_settings.prefix_padding_ms,
                silence_duration_ms=vad_settings.silence_duration_ms,
            ),
            language=settings.asr.language,
        )
        self.id = self.config.id
        self.input = InputAudio(
            settings,
            engine,
            vad,
            self.config.format,
            self.config.turn_detection,
            _options(self.config),
            self.outbox.put_all,  # not self.emit: the input holds no reference back to the session
            end_of_turn=end_of_turn,
        )
        self.emit(server_event("session.created", session=self.config.to_wire()))

    @property
    def recognizer(self) -> StreamingRecognizer:
        return self.input.recognizer

    def apply(self, update: SessionIn, reply: str) -> None:
        """A ``session.update``: the new configuration takes effect and is echoed in ``reply``; a
        refused one changes nothing."""
        new = self.config.apply(update)
        self.recognizer.engine.check_options(TranscriptionOptions(language=new.language))
        self.input.configure(new.format, new.turn_detection, _options(new))
        self.config = new
        self.emit(server_event(reply, session=self.config.to_wire()))


def _options(config: SessionConfig) -> TranscriptionOptions:
    return TranscriptionOptions(
        language=config.language, prompt=config.prompt, timestamps=False, realtime=True
    )


@router.on("session.update")
def _session_update(session: TranscriptionSession, event: dict[str, Any]) -> None:
    try:
        update = SessionIn.model_validate(event.get("session") or {})
    except ValidationError as exc:
        raise validation_error(exc, "session") from None
    session.apply(update, "session.updated")


@router.on("transcription_session.update")
def _beta_session_update(session: TranscriptionSession, event: dict[str, Any]) -> None:
    try:
        beta = BetaSessionIn.model_validate(event.get("session") or {})
    except ValidationError as exc:
        raise validation_error(exc, "session") from None
    session.apply(beta.to_ga(), "transcription_session.updated")
