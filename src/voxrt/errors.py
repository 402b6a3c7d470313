"""Typed errors that map onto OpenAI's error shape and an HTTP status."""

from __future__ import annotations

from typing import Any

__all__ = [
    "AudioTooLong",
    "InvalidAudio",
    "InvalidRequest",
    "ModelNotReady",
    "NotFound",
    "OriginNotAllowed",
    "PayloadTooLarge",
    "RequestTimeout",
    "ServerBusy",
    "ServerDraining",
    "Unauthorized",
    "UnsupportedMedia",
    "UpstreamError",
    "UpstreamTimeout",
    "UrlInputDisabled",
    "UrlNotAllowed",
    "VoxrtError",
]


class VoxrtError(Exception):
    """Base of the errors a client sees: ``status``, ``type`` and ``code`` as OpenAI uses them."""

    status = 500
    type = "server_error"
    code = "internal_error"
    retry_after_s: int | None = None  # sent as Retry-After with HTTP errors

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:  # a more specific code than the class's, for one-off conditions
            self.code = code

    def body(self) -> dict[str, Any]:
        """The JSON body: ``{"error": {"message", "type", "param", "code"}}``."""
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


class InvalidRequest(VoxrtError):
    status = 400
    type = "invalid_request_error"
    code = "invalid_value"


class InvalidAudio(InvalidRequest):
    code = "invalid_audio"


class AudioTooLong(InvalidRequest):
    code = "audio_too_long"


class UrlNotAllowed(InvalidRequest):
    code = "url_not_allowed"


class UrlInputDisabled(InvalidRequest):
    code = "url_input_disabled"


class UnsupportedMedia(VoxrtError):
    status = 415
    type = "invalid_request_error"
    code = "unsupported_media_type"


class PayloadTooLarge(VoxrtError):
    status = 413
    type = "invalid_request_error"
    code = "payload_too_large"


class RequestTimeout(VoxrtError):
    status = 408
    type = "invalid_request_error"
    code = "request_timeout"


class ServerBusy(VoxrtError):
    """Admission refused: the client should retry after ``retry_after_s`` seconds."""

    status = 503
    type = "server_error"
    code = "server_busy"
    retry_after_s: int | None = 5


class NotFound(VoxrtError):
    status = 404
    type = "invalid_request_error"
    code = "not_found"


class OriginNotAllowed(VoxrtError):
    """A browser on another site tried to open a realtime session."""

    status = 403
    type = "invalid_request_error"
    code = "origin_not_allowed"


class Unauthorized(VoxrtError):
    status = 401
    type = "invalid_request_error"
    code = "invalid_api_key"


class ModelNotReady(VoxrtError):
    status = 503
    type = "server_error"
    code = "model_not_ready"


class ServerDraining(VoxrtError):
    """The server is shutting down: retry, on another instance or once it is back."""

    status = 503
    type = "server_error"
    code = "server_shutting_down"
    retry_after_s: int | None = 5


class UpstreamError(VoxrtError):
    """The remote recognizer could not be reached, refused the request or failed on it."""

    status = 502
    type = "server_error"
    code = "upstream_error"


class UpstreamTimeout(UpstreamError):
    status = 504
    code = "upstream_timeout"
