"""``GET /v1/realtime`` (WebSocket): OpenAI's Realtime protocol, transcription sessions.

The API key is checked before the WebSocket is accepted: from the
``Authorization: Bearer`` header, or from an ``openai-insecure-api-key.<key>``
subprotocol as browsers send it. Every limit of a session (count, idle time,
length, message size, unread events) ends in an ``error`` event and a close
with a reason; nothing a client does can hold server memory without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

from fastapi import APIRouter, WebSocket
from fastapi.responses import JSONResponse
from starlette.websockets import WebSocketDisconnect

from voxrt.config import RealtimeSettings
from voxrt.errors import InvalidRequest, ModelNotReady, Unauthorized, VoxrtError
from voxrt.logs import session_id
from voxrt.metrics import Metrics
from voxrt.realtime.events import error_event
from voxrt.realtime.session import SlowClient, TranscriptionSession
from voxrt.server.auth import is_valid, key_from_headers

__all__ = ["router"]

log = logging.getLogger(__name__)
router = APIRouter()

_KEY_PROTOCOL = "openai-insecure-api-key."
CLOSE_NORMAL, CLOSE_POLICY, CLOSE_TOO_BIG, CLOSE_ERROR, CLOSE_RETRY = 1000, 1008, 1009, 1011, 1013


def _offered_key(websocket: WebSocket) -> str | None:
    key = key_from_headers(websocket.headers.get("authorization"))
    if key is not None:
        return key
    for protocol in websocket.scope.get("subprotocols", []):
        if protocol.startswith(_KEY_PROTOCOL):
            return str(protocol[len(_KEY_PROTOCOL) :])
    return None


async def _deny(websocket: WebSocket, error: VoxrtError) -> None:
    """Refuse the handshake: an HTTP error response where the server supports it, else a 403."""
    websocket.app.state.metrics.sessions_rejected.labels(error.code).inc()
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(JSONResponse(error.body(), status_code=error.status))
    else:
        await websocket.close(code=CLOSE_POLICY, reason=error.message[:120])


async def _close_with(
    websocket: WebSocket, session: TranscriptionSession | None, error: VoxrtError, code: int
) -> None:
    """Send ``error`` (through the session so it follows what is queued), then close."""
    if session is None:  # the session was refused
        event = error_event(error)
        await websocket.send_text(json.dumps(event))
        websocket.app.state.metrics.event_sent(event)
        websocket.app.state.metrics.sessions_rejected.labels(error.code).inc()
    else:
        session.refuse(error)
        with contextlib.suppress(TimeoutError, SlowClient):
            async with asyncio.timeout(1.0):
                while not session.drained():
                    await asyncio.sleep(0.01)
    with contextlib.suppress(RuntimeError):
        await websocket.close(code=code, reason=error.message[:120])


@router.websocket("/v1/realtime")
async def realtime(websocket: WebSocket, intent: str | None = None) -> None:
    state = websocket.app.state
    if not is_valid(_offered_key(websocket), state.api_keys):
        await _deny(websocket, Unauthorized("Invalid or missing API key."))
        return
    offered = websocket.scope.get("subprotocols", [])
    await websocket.accept(subprotocol="realtime" if "realtime" in offered else None)
    limits: RealtimeSettings = state.settings.realtime
    if intent != "transcription":
        error = InvalidRequest(
            "Only transcription sessions are available: connect with ?intent=transcription.",
            code="unsupported_intent",
        )
        await _close_with(websocket, None, error, CLOSE_POLICY)
        return
    if not state.engine.ready:
        await _close_with(
            websocket, None, ModelNotReady("The models are still loading; retry shortly."), CLOSE_RETRY
        )
        return
    session = TranscriptionSession(state.settings, state.engine, state.vad)
    try:
        release = state.sessions.admit(
            session.settle, lambda error, code: _close_with(websocket, session, error, code)
        )
    except VoxrtError as error:
        await session.close()
        await _close_with(websocket, None, error, CLOSE_RETRY)
        return
    state.metrics.sessions.inc()
    session_id.set(session.config.id)  # tags this connection's log records, and its tasks'
    log.info("realtime session opened (%d open)", len(state.sessions))
    sender = asyncio.create_task(_send_events(websocket, session, state.metrics))
    try:
        await _receive_events(websocket, session, limits, sender)
    except WebSocketDisconnect:
        pass
    finally:
        release()
        state.metrics.sessions.dec()
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await sender
        await session.close()
        log.info("realtime session closed")


async def _send_events(websocket: WebSocket, session: TranscriptionSession, metrics: Metrics) -> None:
    while True:
        event = await session.next_event()
        await websocket.send_text(json.dumps(event, ensure_ascii=False))
        metrics.event_sent(event)


async def _receive_events(
    websocket: WebSocket, session: TranscriptionSession, limits: RealtimeSettings, sender: asyncio.Task[None]
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limits.max_session_s
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            error = InvalidRequest(
                f"The session reached its limit of {limits.max_session_s:g} s.", code="session_expired"
            )
            await _close_with(websocket, session, error, CLOSE_POLICY)
            return
        try:
            async with asyncio.timeout(min(limits.idle_timeout_s, remaining)):
                message = await websocket.receive()
        except TimeoutError:
            if remaining <= limits.idle_timeout_s:
                continue  # the session deadline, handled above
            error = InvalidRequest(f"No client event for {limits.idle_timeout_s:g} s.", code="idle_timeout")
            await _close_with(websocket, session, error, CLOSE_NORMAL)
            return
        if message["type"] == "websocket.disconnect":
            return
        if sender.done() or session.overflowed:  # the client stopped reading, or the socket broke
            log.info("closing a realtime session whose client is not reading events")
            with contextlib.suppress(RuntimeError):
                await websocket.close(code=CLOSE_POLICY, reason="client is not reading events")
            return
        text, data = message.get("text"), message.get("bytes")
        size = len(text) if text is not None else len(data or b"")
        if size > limits.max_message_bytes:
            error = InvalidRequest(
                f"A message may hold at most {limits.max_message_bytes} bytes; this one held {size}.",
                code="message_too_large",
            )
            session.refuse(error)
            continue
        try:
            if text is not None:
                session.receive_text(text)
            elif data is not None:
                session.receive_bytes(data)
        except Exception:  # a bug must not end other sessions, nor this one
            log.exception("realtime event handling failed")
            session.refuse(VoxrtError("The server failed to handle the event."))
