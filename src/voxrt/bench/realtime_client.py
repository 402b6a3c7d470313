"""The one realtime client of the benchmarks and tests: a raw WebSocket that sends audio on a
paced schedule and records every message the server sends with its receive time.

Pacing is an absolute schedule (frame k is due at ``start + k * interval``), so one late send
delays no other, and several sessions can share a clock by being given staggered starts. Speed 1
is real time; a higher speed, up to ``math.inf`` (as fast as the socket takes it), is a flood.
Audio goes as ``input_audio_buffer.append`` events by default, or as any other frame (a binary
WebSocket message, another system's protocol). What comes back is kept whole, in order, as
``(time.perf_counter() at receipt, event)``: what a caller makes of it is the caller's business.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, NamedTuple, TypeVar

from websockets.asyncio.client import ClientConnection, connect

__all__ = [
    "Event",
    "Frame",
    "RealtimeClient",
    "Sent",
    "append_event",
    "pace",
    "silence",
    "split",
    "transcription_session",
]

Event = dict[str, Any]
Frame = str | bytes  # one WebSocket message: text (JSON) or binary
T = TypeVar("T")


def transcription_session(rate: int, language: str | None = None) -> Event:
    """The ``session`` of a ``session.update`` for transcription of 16-bit PCM at ``rate``, in
    ``language`` when given."""
    audio_in: Event = {"format": {"type": "audio/pcm", "rate": rate}}
    if language is not None:
        audio_in["transcription"] = {"language": language}
    return {"type": "transcription", "audio": {"input": audio_in}}


def append_event(pcm: bytes) -> str:
    """The ``input_audio_buffer.append`` event carrying ``pcm``, as JSON text."""
    return json.dumps({"type": "input_audio_buffer.append", "audio": base64.b64encode(pcm).decode()})


def silence(ms: float, rate: int) -> bytes:
    """``ms`` of 16-bit PCM silence at ``rate``."""
    return bytes(2 * int(rate * ms / 1000))


def split(pcm: bytes, rate: int, chunk_ms: float) -> list[bytes]:
    """16-bit PCM at ``rate`` in chunks of ``chunk_ms`` (whole samples, at least one; the last
    may be shorter)."""
    step = 2 * max(1, round(rate * chunk_ms / 1000))
    return [pcm[offset : offset + step] for offset in range(0, len(pcm), step)]


async def pace(
    items: Iterable[T], interval_s: float, start_at: float | None = None
) -> AsyncIterator[tuple[float, T]]:
    """Each item with the ``time.perf_counter`` time it was due, once due: item k at
    ``start_at + k * interval_s`` (``start_at`` defaults to now). An item already late is given
    at once; an interval of 0 never waits."""
    start = time.perf_counter() if start_at is None else start_at
    for k, item in enumerate(items):
        due = start + k * interval_s
        if (delay := due - time.perf_counter()) > 0:
            await asyncio.sleep(delay)
        yield due, item


class Sent(NamedTuple):
    """One paced frame: when it was due and when the socket took it (``time.perf_counter``)."""

    due: float
    at: float

    @property
    def lag_ms(self) -> float:
        return 1000 * (self.at - self.due)


class RealtimeClient:
    """One realtime connection. ``events`` fills in as the server sends (JSON objects only, each
    with its receive time), ``sent`` as paced frames go out; ``on_event``, if given, is called
    with each event as it arrives, before anyone waiting is woken."""

    def __init__(self, ws: ClientConnection, on_event: Callable[[float, Event], None] | None = None) -> None:
        self.ws = ws
        self.events: list[tuple[float, Event]] = []
        self.sent: list[Sent] = []
        self.error: Exception | None = None  # what ended the reading, other than a clean close
        self._on_event = on_event
        self._new = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def open(
        cls,
        url: str,
        key: str | None = None,
        *,
        session: Event | None = None,
        on_event: Callable[[float, Event], None] | None = None,
        setup_timeout_s: float = 15.0,
        **connect_options: Any,
    ) -> RealtimeClient:
        """Connect (``connect_options`` go to ``websockets``' ``connect``) and, given a
        ``session``, configure it as :meth:`configure` does.

        Raises:
            RuntimeError: the server refused the session with an ``error`` event.
            TimeoutError: no ``session.updated`` within ``setup_timeout_s``.
            ConnectionError: the server closed the connection during the setup.
            OSError, websockets.exceptions.InvalidHandshake: the connection failed.
        """
        headers = {"Authorization": f"Bearer {key}"} if key else None
        ws = await connect(url, additional_headers=headers, max_size=None, **connect_options)
        client = cls(ws, on_event)
        if session is not None:
            try:
                await client.configure(session, setup_timeout_s)
            except BaseException:
                await client.close()
                raise
        return client

    @property
    def connected(self) -> bool:
        """Whether the server's messages are still being read (the connection is open)."""
        return not self._reader.done()

    async def _read(self) -> None:
        try:
            async for message in self.ws:
                at = time.perf_counter()
                event = json.loads(message)
                if not isinstance(event, dict):
                    continue
                self.events.append((at, event))
                if self._on_event is not None:
                    self._on_event(at, event)
                self._new.set()
        except Exception as exc:  # a close other than a clean one, a message not JSON, on_event failing
            self.error = exc
        finally:
            self._new.set()

    async def send(self, message: Event | Frame) -> None:
        """Send an event (a dict, as JSON) or a ready-made frame."""
        await self.ws.send(message if isinstance(message, str | bytes) else json.dumps(message))

    async def append(self, pcm: bytes) -> None:
        """Send ``pcm`` in one ``input_audio_buffer.append``, unpaced."""
        await self.ws.send(append_event(pcm))

    async def send_paced(
        self,
        frames: Iterable[Frame],
        interval_s: float,
        *,
        start_at: float | None = None,
        until: Callable[[], bool] | None = None,
    ) -> float:
        """Send ``frames`` on the schedule of :func:`pace`, each recorded in ``sent``; stop early
        once ``until()`` is true (asked when a frame is due, before it goes). Returns when the
        next frame would be due, the start of a schedule that continues this one."""
        start = time.perf_counter() if start_at is None else start_at
        count = 0
        async for due, frame in pace(frames, interval_s, start):
            if until is not None and until():
                break
            await self.ws.send(frame)
            self.sent.append(Sent(due, time.perf_counter()))
            count += 1
        return start + count * interval_s

    async def stream(
        self,
        pcm: bytes,
        rate: int,
        chunk_ms: float = 40,
        speed: float = 1.0,
        *,
        start_at: float | None = None,
        frame: Callable[[bytes], Frame] = append_event,
        until: Callable[[], bool] | None = None,
    ) -> float:
        """Send 16-bit PCM at ``rate`` in ``chunk_ms`` chunks at ``speed`` times real time, each
        chunk wrapped by ``frame`` (an ``input_audio_buffer.append`` by default; ``bytes`` for
        binary frames). Trailing silence is one more call, ``stream(silence(ms, rate), ...)``
        from the returned time. Returns as :meth:`send_paced` does."""
        chunks = map(frame, split(pcm, rate, chunk_ms))
        return await self.send_paced(chunks, chunk_ms / 1000 / speed, start_at=start_at, until=until)

    def of_type(self, kind: str) -> list[Event]:
        """The events of type ``kind`` received so far, in order."""
        return [e for _, e in self.events if e.get("type") == kind]

    async def wait(self, ready: Callable[[], bool], timeout: float | None = 30.0) -> None:
        """Wait until ``ready()`` is true, asked now and after each event.

        Raises:
            TimeoutError: it was not, within ``timeout`` seconds (None: no limit).
            ConnectionError: the connection ended first.
        """
        async with asyncio.timeout(timeout):
            while not ready():
                self._new.clear()
                if not self.connected:
                    raise ConnectionError(f"closed after {[e.get('type') for _, e in self.events]}")
                await self._new.wait()

    async def wait_for(self, kind: str, count: int = 1, timeout: float = 30.0) -> list[Event]:
        """Wait until ``count`` events of ``kind`` have arrived; all of that kind so far.

        Raises:
            TimeoutError: they did not, within ``timeout`` seconds.
            ConnectionError: the connection ended first.
        """
        await self.wait(lambda: len(self.of_type(kind)) >= count, timeout)
        return self.of_type(kind)

    async def configure(self, session: Event, timeout: float = 15.0) -> Event:
        """After ``session.created``, send ``session.update`` with ``session`` and wait for the
        server's ``session.updated``, which is returned.

        Raises:
            RuntimeError: an ``error`` event came instead.
            TimeoutError: not within ``timeout`` seconds.
            ConnectionError: the connection ended first.
        """
        async with asyncio.timeout(timeout):
            await self._expect("session.created", 0)
            since = len(self.events)
            await self.send({"type": "session.update", "session": session})
            return await self._expect("session.updated", since)

    async def _expect(self, kind: str, since: int) -> Event:
        found: list[Event] = []

        def arrived() -> bool:
            for _, event in self.events[since:]:
                if event.get("type") == "error":
                    raise RuntimeError(str(event.get("error", {}).get("message", "error event")))
                if event.get("type") == kind:
                    found.append(event)
                    return True
            return False

        await self.wait(arrived, timeout=None)
        return found[0]

    async def closed(self, timeout: float = 10.0) -> tuple[int | None, str]:
        """Wait for the server to close; the close code and reason."""
        async with asyncio.timeout(timeout):
            await self.ws.wait_closed()
        return self.ws.close_code, self.ws.close_reason or ""

    async def close(self) -> None:
        """Close the connection and stop reading."""
        await self.ws.close()
        self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)
