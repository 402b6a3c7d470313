"""``GET /v1/realtime`` (WebSocket): OpenAI's Realtime protocol, transcription sessions.

The API key is checked before the WebSocket is accepted: from the
``Authorization: Bearer`` header, or from an ``openai-insecure-api-key.<key>``
subprotocol as browsers send it. A browser's ``Origin`` must be one of
``server.cors_origins`` or the server's own (so that a web page elsewhere cannot
open a session on a keyless loopback server); clients that send none are not
browsers and pass. Every limit of a session (count, idle time,
length, message size, unread events) ends in an ``error`` event and a close
with a reason; nothing a client does can hold server memory without bound.
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
from voxrt.realtime.events import error_event
from voxrt.realtime.protocol import CLOSE_POLICY, close_with, serve
from voxrt.realtime.transcription import TranscriptionSession
from voxrt.runtime.memory import trim_heap
from voxrt.server.auth import is_valid, key_from_headers

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
    websocket.app.state.metrics.sessions_rejected.labels(error.code).inc()
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(JSONResponse(error.body(), status_code=error.status))
    else:
        await websocket.close(code=CLOSE_POLICY, reason=error.message[:120])


async def _refuse_session(websocket: WebSocket, error: VoxrtError, code: int) -> None:
    """An accepted connection that gets no session: one ``error`` event, then the close."""
    event = error_event(error)
    await websocket.send_text(json.dumps(event))
    websocket.app.state.metrics.event_sent(event)
    websocket.app.state.metrics.sessions_rejected.labels(error.code).inc()
    with contextlib.suppress(RuntimeError):
        await websocket.close(code=code, reason=error.message[:120])


@router.websocket("/v1/realtime")
async def realtime(websocket: WebSocket, intent: str | None = None) -> None:
    state = websocket.app.state
    origin = websocket.headers.get("origin")
    if not _origin_allowed(origin, websocket.headers.get("host"), state.settings.server.cors_origins):
        log.info("refused a realtime connection from origin %.80r", origin)
        await _deny(websocket, OriginNotAllowed("This origin may not open realtime sessions."))
        return
    if not is_valid(_offered_key(websocket), state.api_keys):
        await _deny(websocket, Unauthorized("Invalid or missing API key."))
        return
    offered = websocket.scope.get("subprotocols", [])
    await websocket.accept(subprotocol="realtime" if "realtime" in offered else None)
    if intent != "transcription":
        error: VoxrtError = InvalidRequest(
            "Only transcription sessions are available: connect with ?intent=transcription.",
            code="unsupported_intent",
        )
        await _refuse_session(websocket, error, CLOSE_POLICY)
        return
    if not state.engine.ready:
        error = ModelNotReady("The models are still loading; retry shortly.")
        await _refuse_session(websocket, error, CLOSE_RETRY)
        return
    session = TranscriptionSession(state.settings, state.engine, state.vad, state.end_of_turn)
    try:
        release = state.sessions.admit(
            session.settle, lambda error, code: close_with(websocket, session, error, code)
        )
    except VoxrtError as error:
        await session.close()
        await _refuse_session(websocket, error, CLOSE_RETRY)
        return
    state.metrics.sessions.inc()
    session_id.set(session.id)  # tags this connection's log records, and its tasks'
    log.info("realtime session opened (%d open)", len(state.sessions))
    try:
        await serve(websocket, session, state.settings.realtime, state.metrics)
    finally:
        release()
        state.metrics.sessions.dec()
        log.info("realtime session closed")
        trim_heap()
