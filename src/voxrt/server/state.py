"""What one app holds, typed: stored once on ``app.state`` by ``create_app``, read with ``state``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp

if TYPE_CHECKING:  # annotations only: sessions.py, named here, imports this module
    from voxrt.config import Settings
    from voxrt.metrics import Metrics
    from voxrt.runtime.models import Models
    from voxrt.server.limits import RestSlots
    from voxrt.server.sessions import SessionRegistry

__all__ = ["AppState", "state"]


@dataclass(eq=False)
class AppState:
    """The app's configuration, models, sessions and counters."""

    settings: Settings
    models: Models
    sessions: SessionRegistry
    metrics: Metrics
    api_keys: list[str]
    rest_slots: RestSlots
    started_at: int  # unix time, the ``created`` of every model in /v1/models


def state(owner: HTTPConnection | ASGIApp) -> AppState:
    """The state of the app serving a request or WebSocket, or of the app itself.

    Raises:
        RuntimeError: the app was not made by ``create_app``.
    """
    app = owner.app if isinstance(owner, HTTPConnection) else owner
    held = getattr(getattr(app, "state", None), "voxrt", None)
    if not isinstance(held, AppState):
        raise RuntimeError("not a voxrt app: create it with voxrt.server.create_app")
    return held
