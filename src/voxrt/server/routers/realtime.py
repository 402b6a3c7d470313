"""``GET /v1/realtime`` (WebSocket): OpenAI's Realtime protocol: transcription sessions
(``?intent=transcription``) and conversations (no intent).

The API key is checked before the WebSocket is accepted: from the
``Authorization: Bearer`` header, or from an ``openai-insecure-api-key.<key>``
subprotocol as browsers send it. A browser's ``Origin`` must be one of
``server.cors_origins`` or the server's own (so that a web page elsewhere cannot
open a session on a keyless loopback server); clients that send none are not
browsers and pass. Every limit of a session (count, idle time,
length, message size, unread events) ends in an ``error`` event and a close
with a reason; nothing a client does can hold server memory without bound.
``?metrics=true|false`` turns voxrt's ``voxrt.metrics`` events on or off for the
connection (default: on for transcription sessions, off for conversations).
"""

from __future__ import annotations

import contextlib
import json
import logging
from urllib.parse import urlsplit

from fastapi import APIRouter, WebSocket
from fastapi.responses import JSONResponse

from voxrt.errors import InvalidRequest, ModelNotReady, OriginNotAllowed, Unauthorized, VoxrtError
from voxrt.logs import session_id
from voxrt.realtime.conversation import ConversationSession
from voxrt.realtime.events import error_event
from voxrt.realtime.protocol import CLOSE_POLICY, RealtimeSession, close_with, serve
from voxrt.realtime.transcription import TranscriptionSession
from voxrt.runtime.memory import trim_heap
from voxrt.server.auth import is_valid, key_from_headers
from voxrt.server.state import state

__all__ = ["router"]

log = logging.getLogger(__name__)
router = APIRouter()

_KEY_PROTOCOL = "openai-insecure-api-key."
CLOSE_RETRY = 1013  # try again later


def _offered_key(websocket: WebSocket) -> str | None:
    key = key_from_headers(websocket.headers.get("authorization"))
    if key is not None:
        return key
    for protocol in websocket.scope.get("subprotocols", []):
        if protocol.startswith(_KEY_PROTOCOL):
            return str(protocol[len(_KEY_PROTOCOL) :])
    return None


def _origin_allowed(origin: str | None, host: str | None, allowed: list[str]) -> bool:
    """A missing ``Origin`` (not a browser), one listed in ``server.cors_origins``, or the server's
    own: the same host and port as the ``Host`` the browser connected to."""
    if origin is None or "*" in allowed:
        return True
    if origin.rstrip("/").lower() in {o.rstrip("/").lower() for o in allowed}:
        return True
    try:
        page = urlsplit(origin)
        server = urlsplit("//" + (host or ""))
        default = {"http": 80, "https": 443}.get(page.scheme)
        return (
            default is not None
            and page.hostname is not None
            and page.hostname == server.hostname
            and (page.port or default) == (server.port or default)
        )
    except ValueError:  # a malformed port
        return False


async def _deny(websocket: WebSocket, error: VoxrtError) -> None:
    """Refuse the handshake: an HTTP error response where the server supports it, else a 403."""
    state(websocket).metrics.sessions_rejected.labels(error.code).inc()
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(JSONResponse(error.body(), status_code=error.status))
    else:
        await websocket.close(code=CLOSE_POLICY, reason=error.message[:120])


async def _refuse_session(websocket: WebSocket, error: VoxrtError, code: int) -> None:
    """An accepted connection that gets no session: one ``error`` event, then the close."""
    event = error_event(error)
    await websocket.send_text(json.dumps(event))
    metrics = state(websocket).metrics
    metrics.event_sent(event)
    metrics.sessions_rejected.labels(error.code).inc()
    with contextlib.suppress(RuntimeError):
        await websocket.close(code=code, reason=error.message[:120])


@router.websocket("/v1/realtime")
async def realtime(websocket: WebSocket, intent: str | None = None, metrics: bool | None = None) -> None:
    app_state = state(websocket)
    origin = websocket.headers.get("origin")
    if not _origin_allowed(origin, websocket.headers.get("host"), app_state.settings.server.cors_origins):
        log.info("refused a realtime connection from origin %.80r", origin)
        await _deny(websocket, OriginNotAllowed("This origin may not open realtime sessions."))
        return
    if not is_valid(_offered_key(websocket), app_state.api_keys):
        await _deny(websocket, Unauthorized("Invalid or missing API key."))
        return
    offered = websocket.scope.get("subprotocols", [])
    await websocket.accept(subprotocol="realtime" if "realtime" in offered else None)
    if intent not in (None, "transcription"):
        error: VoxrtError = InvalidRequest(
            f"Unknown intent {intent[:40]!r}: connect with ?intent=transcription for a transcription "
            "session, or without an intent for a conversation.",
            code="unsupported_intent",
        )
        await _refuse_session(websocket, error, CLOSE_POLICY)
        return
    models = app_state.models
    responder = models.llm
    if intent is None and responder is None:
        error = InvalidRequest(
            "Conversation sessions need a language model, and this server has none: "
            f"{models.llm_unavailable}",
            code="conversation_unavailable",
        )
        await _refuse_session(websocket, error, CLOSE_POLICY)
        return
    if not models.asr.ready or (responder is not None and intent is None and not responder.ready):
        error = ModelNotReady("The models are still loading; retry shortly.")
        await _refuse_session(websocket, error, CLOSE_RETRY)
        return
    session: RealtimeSession
    if responder is not None and intent is None:
        tts = models.tts if models.tts is not None and models.tts.ready else None
        session = ConversationSession(
            app_state.settings, models.asr, models.vad, responder, tts, models.end_of_turn
        )
    else:
        session = TranscriptionSession(app_state.settings, models.asr, models.vad, models.end_of_turn)
    if metrics is not None:
        session.metrics_events = metrics
    try:
        release = app_state.sessions.admit(
            session.settle, lambda error, code: close_with(websocket, session, error, code)
        )
    except VoxrtError as error:
        await session.close()
        await _refuse_session(websocket, error, CLOSE_RETRY)
        return
    app_state.metrics.sessions.inc()
    session_id.set(session.id)  # tags this connection's log records, and its tasks'
    log.info("realtime session opened (%d open)", len(app_state.sessions))
    try:
        await serve(websocket, session, app_state.settings.realtime, app_state.metrics)
    finally:
        release()
        app_state.metrics.sessions.dec()
        log.info("realtime session closed")
        trim_heap()
