"""``voxrt serve``'s process: uvicorn, with a graceful drain on the first SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import logging
from types import FrameType

import uvicorn
from fastapi import FastAPI

from voxrt.server.app import drain

__all__ = ["DrainingServer"]

log = logging.getLogger(__name__)


class DrainingServer(uvicorn.Server):
    """The first SIGTERM/SIGINT drains the app (see ``voxrt.server.app.drain``), then the server
    stops as uvicorn does; a second one exits at once."""

    def __init__(self, config: uvicorn.Config, app: FastAPI) -> None:
        super().__init__(config)
        self._app = app
        self._signalled = False
        self._drain: asyncio.Task[None] | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not serving yet: nothing to drain
            loop = None
        if loop is None or self._signalled:
            log.info("exiting now")
            self.should_exit = self.force_exit = True
            return
        self._signalled = True
        log.info("signal %d: draining, then exiting (signal again to exit now)", sig)
        loop.call_soon_threadsafe(self._start_drain)

    def _start_drain(self) -> None:
        if not self.force_exit:
            self._drain = asyncio.create_task(drain(self._app))
            self._drain.add_done_callback(lambda _: setattr(self, "should_exit", True))
