"""The HTTP/WebSocket server."""

from voxrt.server.app import create_app

__all__ = ["create_app"]
