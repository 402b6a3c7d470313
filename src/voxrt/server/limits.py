"""Request limits enforced as requests arrive: body size and read time, and REST admission."""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from voxrt.errors import PayloadTooLarge, RequestTimeout, ServerBusy
from voxrt.runtime.memory import trim_heap

__all__ = ["BodySizeLimit", "BodyTimeout", "RestSlots", "Slot"]


class BodySizeLimit:
    """ASGI middleware: a body over ``max_bytes`` raises ``PayloadTooLarge`` (HTTP 413)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        received = 0
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await self.app(scope, self._refuse, send)
                return

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise self._too_large()
            return message

        await self.app(scope, counted, send)

    async def _refuse(self) -> Message:
        """Stands in for ``receive`` when Content-Length alone is over the limit."""
        raise self._too_large()

    def _too_large(self) -> PayloadTooLarge:
        return PayloadTooLarge(f"The request body is larger than the limit of {self.max_bytes} bytes.")


class BodyTimeout:
    """ASGI middleware: the whole body must arrive within ``timeout_s`` of the request's start.

    Past it, reading the body raises ``RequestTimeout`` (HTTP 408); the connection is then closed,
    since the rest of the body was never read. Once the body is complete, ``receive`` waits
    unbounded again (it then only reports a disconnect).
    """

    def __init__(self, app: ASGIApp, timeout_s: float) -> None:
        self.app = app
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline = asyncio.get_running_loop().time() + self.timeout_s
        complete = False

        async def timed() -> Message:
            nonlocal complete
            if complete:
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise RequestTimeout(
                    f"The request body did not arrive within {self.timeout_s:g} s."
                ) from None
            complete = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        await self.app(scope, timed, send)


class RestSlots:
    """Admission for REST work: at most ``limit`` requests hold a slot; one more is refused."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.taken = 0

    def acquire(self) -> Slot:
        """A slot for one request; ``release`` it when the request's work is over.

        Raises:
            ServerBusy: every slot is taken (HTTP 503 with Retry-After).
        """
        if self.taken >= self.limit:
            raise ServerBusy(f"The server is busy with {self.limit} transcription requests; retry shortly.")
        self.taken += 1
        return Slot(self)


class Slot:
    """One admitted request's place in ``RestSlots``."""

    def __init__(self, slots: RestSlots) -> None:
        self._slots: RestSlots | None = slots

    def release(self) -> None:
        """Give the slot back; later calls do nothing."""
        if self._slots is not None:
            self._slots.taken -= 1
            self._slots = None
            trim_heap()  # the request's buffers are free now
