"""What every realtime session kind shares: client events routed to handlers, server events queued
for the socket (the outbox), errors as ``error`` events, and the connection's lifetime.

A session kind is a ``RealtimeSession`` subclass with an ``EventRouter`` of its handlers;
``serve(websocket, session, ...)`` runs one connection: a sender task takes events from the
outbox to the socket, the receive loop hands client messages to the session one at a time,
in arrival order, within the session's limits.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from fastapi import WebSocket
from starlette.websockets import WebSocketDisconnect

from voxrt.config import RealtimeSettings
from voxrt.errors import InvalidRequest, VoxrtError
from voxrt.metrics import Metrics
from voxrt.realtime.events import UnknownEvent, error_event, parse_event, shorten
from voxrt.realtime.limits import RateLimit

__all__ = [
    "CLOSE_NORMAL",
    "CLOSE_POLICY",
    "EventRouter",
    "Outbox",
    "RealtimeSession",
    "SlowClient",
    "close_with",
    "new_id",
    "serve",
]

log = logging.getLogger(__name__)

S = TypeVar("S")
Handler = Callable[[S, dict[str, Any]], None]
CLOSE_NORMAL, CLOSE_POLICY = 1000, 1008
_TURN_S = 0.005  # one connection's buffered messages hold the loop at most this long in a row


def new_id(prefix: str) -> str:
    """A fresh protocol id: ``item_…``, ``resp_…``, ``sess_…``."""
    return f"{prefix}_{secrets.token_hex(10)}"


class EventRouter(Generic[S]):
    """Client event type -> handler. Handlers are synchronous (they start tasks when they need to),
    so events take effect in arrival order."""

    def __init__(self) -> None:
        self._handlers: dict[str, Handler[S]] = {}

    def on(self, event_type: str) -> Callable[[Handler[S]], Handler[S]]:
        """Decorator: ``handler`` handles ``event_type``.

        Raises:
            ValueError: another handler already has it.
        """

        def register(handler: Handler[S]) -> Handler[S]:
            self._add(event_type, handler)
            return handler

        return register

    def include(self, other: EventRouter[Any]) -> None:
        """Take every handler of ``other`` (e.g. the input-audio handlers every kind shares).

        Raises:
            ValueError: both handle the same event type.
        """
        for event_type, handler in other._handlers.items():
            self._add(event_type, handler)

    def handler(self, event_type: str) -> Handler[S] | None:
        return self._handlers.get(event_type)

    def _add(self, event_type: str, handler: Handler[S]) -> None:
        if event_type in self._handlers:
            raise ValueError(f"two handlers for {event_type!r}")
        self._handlers[event_type] = handler


class SlowClient(Exception):
    """The client stopped reading and its queue of server events is full."""


@dataclass
class _Queued:
    event: dict[str, Any]
    audio_s: float
    response_id: str | None


class Outbox:
    """Server events waiting for the socket, in order.

    Control events are bounded by count: a client that stops reading is dropped (``SlowClient``)
    rather than holding memory. Audio is bounded by the seconds of it queued ahead of the client:
    ``put_audio`` waits for room, so a fast producer (speech synthesis) runs at the client's pace.
    ``discard(response_id)`` drops a cancelled response's queued output at once.
    """

    def __init__(self, max_events: int = 1000, max_audio_s: float = 5.0) -> None:
        self.max_events = max_events
        self.max_audio_s = max_audio_s
        self._queue: deque[_Queued] = deque()
        self._events = 0  # control events queued
        self._audio_s = 0.0  # seconds of audio queued
        self._changed = asyncio.Event()  # set on every change; each waiter re-checks its condition
        self.overflowed = False

    def put(self, event: dict[str, Any], response_id: str | None = None) -> None:
        """Queue a control event; past ``max_events`` unread, the client counts as not reading."""
        if self._events >= self.max_events:
            self.overflowed = True
        else:
            self._queue.append(_Queued(event, 0.0, response_id))
            self._events += 1
        self._changed.set()

    def put_all(self, *events: dict[str, Any]) -> None:
        """Queue control events in order."""
        for event in events:
            self.put(event)

    async def put_audio(self, event: dict[str, Any], audio_s: float, response_id: str | None) -> None:
        """Queue an audio event, first waiting until it fits in ``max_audio_s`` (an event larger than
        that goes alone)."""
        while self._audio_s > 0 and self._audio_s + audio_s > self.max_audio_s:
            await self._wait()
        self._queue.append(_Queued(event, audio_s, response_id))
        self._audio_s += audio_s
        self._changed.set()

    def discard(self, response_id: str) -> int:
        """Drop every queued event of ``response_id`` at once; returns how many were dropped."""
        kept = deque(q for q in self._queue if q.response_id != response_id)
        dropped = len(self._queue) - len(kept)
        self._queue = kept
        self._events = sum(1 for q in kept if q.audio_s == 0)
        self._audio_s = sum(q.audio_s for q in kept)
        self._changed.set()
        return dropped

    async def get(self) -> dict[str, Any]:
        """The next event to send.

        Raises:
            SlowClient: the client stopped reading.
        """
        while not self._queue and not self.overflowed:
            await self._wait()
        if self.overflowed:
            raise SlowClient(f"more than {self.max_events} server events unread")
        queued = self._queue.popleft()
        if queued.audio_s:
            self._audio_s = max(0.0, self._audio_s - queued.audio_s)
        else:
            self._events -= 1
        self._changed.set()
        return queued.event

    def empty(self) -> bool:
        return not self._queue

    @property
    def audio_s(self) -> float:
        """Seconds of audio queued."""
        return self._audio_s

    async def _wait(self) -> None:
        self._changed.clear()
        await self._changed.wait()


class RealtimeSession:
    """One connection's protocol state: the base of every session kind.

    Client events go in through ``receive_text`` / ``receive_bytes``, awaited one at a time in
    arrival order; server events come out, in order, from ``next_event``.
    """

    router: ClassVar[EventRouter[Any]]
    id: str
    metrics_events = True  # whether voxrt.metrics events go on the wire (they are counted either way)

    def __init__(self) -> None:
        self.outbox = Outbox()

    async def next_event(self) -> dict[str, Any]:
        """The next server event to send.

        Raises:
            SlowClient: events piled up unread; the connection should be closed.
        """
        return await self.outbox.get()

    @property
    def overflowed(self) -> bool:
        """The client stopped reading: its queue of server events is full."""
        return self.outbox.overflowed

    def drained(self) -> bool:
        """Every queued server event has been taken for sending."""
        return self.outbox.empty()

    def emit(self, *events: dict[str, Any]) -> None:
        self.outbox.put_all(*events)

    def refuse(self, error: VoxrtError, client_event_id: str | None = None) -> None:
        """Report a problem as an ``error`` event; the session goes on."""
        self.emit(error_event(error, client_event_id))

    async def receive_text(self, text: str) -> None:
        """Handle one JSON client event; a bad one gets an ``error`` event and is dropped."""
        event_id = None
        try:
            event, event_id = parse_event(text)
            kind = event.get("type")
            handler = self.router.handler(kind) if isinstance(kind, str) else None
            if handler is None:
                shown = shorten(kind) if isinstance(kind, str) else kind
                raise UnknownEvent(f"Unknown client event type {shown!r}.", param="type")
            handler(self, event)
            await self.after_event()
        except VoxrtError as exc:
            self.event_failed()
            self.refuse(exc, event_id)

    async def receive_bytes(self, data: bytes) -> None:
        """A binary frame: voxrt's extension, raw audio in the session's input format."""
        try:
            self.receive_audio(data)
            await self.after_event()
        except VoxrtError as exc:
            self.event_failed()
            self.refuse(exc)

    def receive_audio(self, data: bytes) -> None:
        """Raw input audio from a binary frame.

        Raises:
            InvalidRequest: this session kind takes no audio frames.
        """
        raise InvalidRequest("This session takes no audio frames.", code="unsupported_frame")

    async def after_event(self) -> None:
        """Work a handler left to do that may yield to the loop (e.g. feeding the VAD in slices)."""

    def event_failed(self) -> None:
        """A client event was refused: drop what its handler left half done."""

    def sent(self, event: dict[str, Any]) -> None:
        """``event`` was handed to the socket (the moment latencies named "... sent" end)."""

    async def settle(self) -> None:
        """Return once every committed turn has its final events queued (server drain)."""

    async def close(self) -> None:
        """Stop everything the session runs."""


async def serve(
    websocket: WebSocket, session: RealtimeSession, limits: RealtimeSettings, metrics: Metrics
) -> None:
    """Run one accepted connection until the client leaves, a limit ends it, or the server drains."""
    sender = asyncio.create_task(_send_events(websocket, session, metrics))
    try:
        await _receive_events(websocket, session, limits, sender)
    except WebSocketDisconnect:
        pass
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await sender
        await session.close()


async def close_with(websocket: WebSocket, session: RealtimeSession, error: VoxrtError, code: int) -> None:
    """Send ``error`` after what is queued (waiting at most a second for it to leave), then close."""
    session.refuse(error)
    with contextlib.suppress(TimeoutError, SlowClient):
        async with asyncio.timeout(1.0):
            while not session.drained():
                await asyncio.sleep(0.01)
    with contextlib.suppress(RuntimeError):
        await websocket.close(code=code, reason=error.message[:120])


async def _send_events(websocket: WebSocket, session: RealtimeSession, metrics: Metrics) -> None:
    while True:
        event = await session.next_event()
        if session.metrics_events or event["type"] != "voxrt.metrics":
            await websocket.send_text(json.dumps(event, ensure_ascii=False))
            session.sent(event)
        metrics.event_sent(event)


async def _receive_events(
    websocket: WebSocket, session: RealtimeSession, limits: RealtimeSettings, sender: asyncio.Task[None]
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limits.max_session_s
    turn_started = loop.time()
    messages = RateLimit(limits.max_messages_per_s, 4 * limits.max_messages_per_s)
    throttled = False
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            error = InvalidRequest(
                f"The session reached its limit of {limits.max_session_s:g} s.", code="session_expired"
            )
            await close_with(websocket, session, error, CLOSE_POLICY)
            return
        try:
            async with asyncio.timeout(min(limits.idle_timeout_s, remaining)):
                message = await websocket.receive()
        except TimeoutError:
            if remaining <= limits.idle_timeout_s:
                continue  # the session deadline, handled above
            error = InvalidRequest(f"No client event for {limits.idle_timeout_s:g} s.", code="idle_timeout")
            await close_with(websocket, session, error, CLOSE_NORMAL)
            return
        if message["type"] == "websocket.disconnect":
            return
        if sender.done() or session.overflowed:  # the client stopped reading, or the socket broke
            log.info("closing a realtime session whose client is not reading events")
            with contextlib.suppress(RuntimeError):
                await websocket.close(code=CLOSE_POLICY, reason="client is not reading events")
            return
        if not messages.take(1):
            # Read no faster than the limit: unread messages wait in the socket, where they cost
            # nothing, and the client's sends block (closing would not help: uvicorn goes on
            # reading until the client answers the close, for up to 10 s).
            if not throttled:
                throttled = True
                session.refuse(
                    InvalidRequest(
                        f"More than {limits.max_messages_per_s} messages a second: they are now read "
                        "at that rate. Send fewer, larger ones.",
                        code="rate_limit_exceeded",
                    )
                )
            while not messages.take(1):
                await asyncio.sleep(1 / limits.max_messages_per_s)
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
                await session.receive_text(text)
            elif data is not None:
                await session.receive_bytes(data)
        except Exception:  # a bug must not end other sessions, nor this one
            log.exception("realtime event handling failed")
            session.refuse(VoxrtError("The server failed to handle the event."))
        if loop.time() - turn_started > _TURN_S:
            # Messages already buffered are taken without suspending: give other connections a turn.
            await asyncio.sleep(0)
            turn_started = loop.time()
