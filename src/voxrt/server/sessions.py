"""The realtime sessions of one server: admission (count, drain) and a graceful drain.

A drain (SIGTERM) refuses new sessions and REST requests at once with a retryable error, lets
every session's committed utterances finish (at most ``timeout_s``), then closes each session
with 1012 (service restart) and a reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Request

from voxrt.errors import InvalidRequest, ServerDraining, VoxrtError
from voxrt.server.state import state

__all__ = ["CLOSE_SERVICE_RESTART", "SessionRegistry", "accepting_requests"]

log = logging.getLogger(__name__)

CLOSE_SERVICE_RESTART = 1012


@dataclass(eq=False)
class _Entry:
    settle: Callable[[], Awaitable[None]]  # returns once every committed utterance has its final
    close: Callable[[VoxrtError, int], Awaitable[None]]  # error event, then close with a code


class SessionRegistry:
    """Open sessions, bounded by ``max_sessions``."""

    def __init__(self, max_sessions: int) -> None:
        self.max_sessions = max_sessions
        self.draining = False
        self._open: set[_Entry] = set()

    def __len__(self) -> int:
        return len(self._open)

    def admit(
        self, settle: Callable[[], Awaitable[None]], close: Callable[[VoxrtError, int], Awaitable[None]]
    ) -> Callable[[], None]:
        """Count a new session in; returns the function that counts it out.

        Raises:
            ServerDraining: the server is shutting down.
            InvalidRequest: the server is at its session limit.
        """
        if self.draining:
            raise ServerDraining("The server is shutting down; connect again shortly.")
        if len(self._open) >= self.max_sessions:
            raise InvalidRequest(
                f"The server is at its limit of {self.max_sessions} sessions; retry later.",
                code="session_limit_reached",
            )
        entry = _Entry(settle, close)
        self._open.add(entry)
        return lambda: self._open.discard(entry)

    async def drain(self, timeout_s: float) -> None:
        """Refuse new sessions, wait (at most ``timeout_s``) for committed utterances, close the rest."""
        self.draining = True
        entries = list(self._open)
        log.info("draining %d realtime sessions (at most %g s)", len(entries), timeout_s)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await asyncio.gather(*(entry.settle() for entry in entries))
        error = ServerDraining("The server is shutting down; connect again to go on.")
        await asyncio.gather(
            *(entry.close(error, CLOSE_SERVICE_RESTART) for entry in list(self._open)), return_exceptions=True
        )


def accepting_requests(request: Request) -> None:
    """Dependency of the ``/v1`` routes: once a drain began, new requests get a retryable 503
    (requests already running finish).

    Raises:
        ServerDraining: the server is shutting down.
    """
    if state(request).sessions.draining:
        raise ServerDraining("The server is shutting down; retry shortly.")
